//! The `isinit` command line (SPEC §8): argument definitions and one
//! function per subcommand.

pub mod analyze;
mod args;
pub mod bridge;
mod commands;
pub mod drift;
pub mod fleet;
pub mod gather;
mod generate;
pub mod hosts;
pub mod logs_group;
pub mod ocf;
pub mod ps;
mod render;
pub mod rollout;

pub use args::{Cli, ClientCmd, Cmd, DaemonArgs, FleetArgs, OcfArgs, RolloutArgs};
pub use commands::run;
pub use generate::generate_if_asked;

use isinit_client::ClientError;
use std::fmt;

/// Why a command failed: a one-line reason and, for an invalid isinittab,
/// one `PATH:LINE: message` per error. `main` prints it to stderr and
/// exits non-zero.
#[derive(Debug)]
pub struct Failure {
    /// The one-line reason.
    pub reason: String,
    /// Lines printed after it (isinittab errors).
    pub details: Vec<String>,
}

impl Failure {
    /// A failure with a reason and no details.
    pub fn new(reason: impl Into<String>) -> Failure {
        Failure { reason: reason.into(), details: Vec::new() }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.reason)?;
        for d in &self.details {
            write!(f, "\n{d}")?;
        }
        Ok(())
    }
}

/// Runs `work` on a current-thread runtime: the daemon is one `select!`
/// loop, and a client command makes one request or follows one stream,
/// so neither needs worker threads.
pub fn block_on<T>(work: impl Future<Output = Result<T, Failure>>) -> Result<T, Failure> {
    match tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build() {
        Ok(runtime) => runtime.block_on(work),
        Err(e) => Err(Failure::new(format!("cannot start async runtime: {e}"))),
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Failure {
        match e {
            ClientError::Daemon(reply) => Failure { reason: reply.message, details: reply.details },
            other => Failure::new(other.to_string()),
        }
    }
}
