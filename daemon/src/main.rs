//! `isinit`: the daemon and its command line. Wiring only; see the library.

use clap::Parser;
use isinit::cli::{self, Cli, Cmd, Failure};
use std::process::ExitCode;

fn main() -> ExitCode {
    if let Err(e) = color_eyre::install() {
        eprintln!("isinit: cannot install panic handler: {e}");
    }
    let cli = Cli::parse();
    if !matches!(cli.command, Cmd::Daemon(_)) {
        // A client whose reader went away (`isinit status | head -1`) ends
        // quietly like any Unix filter, instead of panicking on EPIPE. The
        // daemon keeps SIGPIPE ignored: a vanished client must never kill it.
        // SAFETY: setting a signal disposition before any thread exists.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    if matches!(cli.command, Cmd::Bridge) {
        // Blocking I/O on two threads; no runtime needed.
        let socket = isinit_shared::settings::client_socket(cli.socket.as_deref(), cli.config.as_deref());
        return report(cli::bridge::run(&socket));
    }
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("isinit: cannot start async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        match cli.command {
            Cmd::Daemon(args) => report(isinit::daemon::run(cli.config.as_deref(), cli.socket.as_deref(), args).await),
            Cmd::Client(command) => match cli::hosts::resolve(&cli.hosts, cli.hosts_file.as_deref()) {
                Err(failure) => report(Err(failure)),
                Ok(hosts) if hosts.is_empty() => {
                    report(cli::run(command, cli.socket.as_deref(), cli.config.as_deref()).await)
                }
                Ok(hosts) => cli::fleet::run(command, hosts).await,
            },
            Cmd::Drift => match cli::hosts::resolve(&cli.hosts, cli.hosts_file.as_deref()) {
                Err(failure) => report(Err(failure)),
                Ok(hosts) => {
                    let socket = isinit_shared::settings::client_socket(cli.socket.as_deref(), cli.config.as_deref());
                    cli::drift::run(hosts, &socket).await
                }
            },
            // An OCF agent answers with its exit code alone (OCF RA API).
            Cmd::Ocf(args) => {
                let flags = cli::ocf::Flags { socket: cli.socket.as_deref(), config: cli.config.as_deref() };
                cli::ocf::run(&args.action, flags).await
            }
            Cmd::Bridge => ExitCode::SUCCESS, // handled above, before any runtime
        }
    })
}

/// Exit 0, or print the failure's reason and exit non-zero.
fn report(result: Result<(), Failure>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("isinit: {failure}");
            ExitCode::FAILURE
        }
    }
}
