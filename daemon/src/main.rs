//! `isinit`: the daemon and its command line. Wiring only; see the library.

use clap::Parser;
use isinit::cli::{self, Cli, Cmd, Failure};
use std::process::ExitCode;

fn main() -> ExitCode {
    if let Err(e) = color_eyre::install() {
        eprintln!("isinit: cannot install panic handler: {e}");
    }
    let cli = Cli::parse();
    if matches!(cli.command, Cmd::HandoverCheck) {
        return match isinit::runtime::handover::check_stdin() {
            Ok(summary) => {
                eprintln!("{summary}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("isinit: {e}");
                ExitCode::from(2)
            }
        };
    }
    if !matches!(cli.command, Cmd::Daemon(_)) {
        // A client whose reader went away (`isinit status | head -1`) ends
        // quietly like any Unix filter, instead of panicking on EPIPE. The
        // daemon keeps SIGPIPE ignored: a vanished client must never kill it.
        // SAFETY: setting a signal disposition before any thread exists.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("isinit: cannot start async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result: Result<(), Failure> = runtime.block_on(async {
        match cli.command {
            Cmd::Daemon(args) => isinit::daemon::run(cli.config.as_deref(), cli.socket.as_deref(), args).await,
            Cmd::Client(command) => cli::run(command, cli.socket.as_deref(), cli.config.as_deref()).await,
            Cmd::HandoverCheck => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("isinit: {failure}");
            ExitCode::FAILURE
        }
    }
}
