//! What the daemon is started with, and why a start failed — its own
//! types, so that the daemon never depends on the command line's crate:
//! the `isinit` binary turns `isinit daemon`'s flags into
//! [`DaemonOptions`], and prints a [`Failure`].

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The daemon's settings as given on its command line or in its
/// environment; `None` leaves a path to the isinittab's directive, else
/// the built-in default (SPEC §2 precedence, resolved in `daemon::run`).
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    /// The status file.
    pub initstat: Option<PathBuf>,
    /// The directory of per-process output files.
    pub logdir: Option<PathBuf>,
    /// The daemon's own log file, besides stderr.
    pub log: Option<PathBuf>,
    /// The state file.
    pub state: Option<PathBuf>,
    /// The cgroup2 directory entries' cgroups are made under, or `none`.
    pub cgroup: Option<PathBuf>,
    /// How long a respawn entry sleeps after starting too rapidly.
    pub respawn_pause: Duration,
    /// From SIGINT to SIGTERM when stopping a process.
    pub term_after: Duration,
    /// From SIGTERM to SIGKILL when stopping a process.
    pub kill_after: Duration,
    /// How long a `notify` entry has to report READY=1.
    pub ready_timeout: Duration,
    /// A tag's output file is rotated past this many bytes.
    pub log_max_bytes: u64,
    /// Where to serve Prometheus metrics over HTTP, if anywhere.
    pub metrics_listen: Option<SocketAddr>,
}

/// Why the daemon could not start or ended in failure: a one-line reason
/// and, for an invalid isinittab, one `PATH:LINE: message` per error.
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
