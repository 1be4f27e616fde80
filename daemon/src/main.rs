//! `isinit`: the daemon and its command line. Wiring only; see the library.
//!
//! A client command (`isinit tell`) is one short request whose wall time is
//! mostly process start-up, so its path initialises only what it uses: no
//! error-report hooks, no logging subscriber, and a single-threaded runtime
//! with just the I/O and timer drivers.

use clap::Parser;
use isinit::cli::{self, Cli, Cmd, Failure};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Daemon(args) => {
            if let Err(e) = color_eyre::install() {
                eprintln!("isinit: cannot install panic handler: {e}");
            }
            let (config, socket) = (cli.config, cli.socket);
            block_on(async move { isinit::daemon::run(config.as_deref(), socket.as_deref(), args).await })
        }
        Cmd::Client(command) => {
            // A client whose reader went away (`isinit status | head -1`)
            // ends quietly like any Unix filter, instead of panicking on
            // EPIPE. The daemon keeps SIGPIPE ignored: a vanished client
            // must never kill it.
            // SAFETY: setting a signal disposition before any thread exists.
            unsafe {
                libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            }
            let (config, socket, timeout) = (cli.config, cli.socket, cli.timeout);
            block_on(async move { cli::run(command, socket.as_deref(), config.as_deref(), timeout).await })
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("isinit: {failure}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `work` on a current-thread runtime: the daemon is one `select!`
/// loop, and a client makes one request, so neither needs worker threads.
fn block_on(work: impl Future<Output = Result<(), Failure>>) -> Result<(), Failure> {
    match tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build() {
        Ok(runtime) => runtime.block_on(work),
        Err(e) => Err(Failure::new(format!("cannot start async runtime: {e}"))),
    }
}
