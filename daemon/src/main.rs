//! `isinit`: the daemon and its command line. Wiring only; see the library.

use clap::Parser;
use isinit::cli::{self, Cli, Cmd, Failure};
use std::process::ExitCode;

fn main() -> ExitCode {
    if let Err(e) = color_eyre::install() {
        eprintln!("isinit: cannot install panic handler: {e}");
    }
    let cli = Cli::parse();
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
            _ => cli::run(cli).await,
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
