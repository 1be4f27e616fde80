//! `isinit`: the daemon and its command line. Wiring only; see the library.
//!
//! A client command (`isinit tell`) is one short request whose wall time is
//! mostly process start-up, so its path initialises only what it uses: no
//! error-report hooks, no logging subscriber, and for a one-shot request
//! no async runtime at all (a blocking socket); the commands that follow
//! a stream get a single-threaded one with just the I/O and timer drivers.
//!
//! `no_main`: the C `main` below replaces the standard library's start-up,
//! whose only work here is costly — to report a stack overflow of the main
//! thread by name it reads and parses `/proc/self/maps` (through glibc's
//! `pthread_getattr_np`) and maps an alternate signal stack, about a third
//! of the CPU time of `isinit --version` in a static build. What it did
//! that we need is done by hand: SIGPIPE ignored in the daemon, stdout
//! flushed before returning, a panic ends the process with exit code 101.
//! A stack overflow of the main thread is then a plain SIGSEGV without the
//! "has overflowed its stack" line.
#![no_main]

use clap::Parser;
use isinit::cli::{self, Cli, Cmd, Failure, block_on};
use std::io::Write;

/// The exit code of a failed command.
const FAILURE: libc::c_int = 1;
/// The exit code of a panic, as the standard library's start-up uses.
const PANICKED: libc::c_int = 101;

/// The process entry point (see the module documentation).
#[unsafe(no_mangle)]
extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    // The panic hook has already printed the message and location.
    let code = std::panic::catch_unwind(run).unwrap_or(PANICKED);
    let _ = std::io::stdout().flush();
    code
}

fn run() -> libc::c_int {
    // `std::env::args` works without the standard start-up: on glibc the
    // standard library records the arguments from an `.init_array` hook.
    if let Some(generated) = cli::generate_if_asked() {
        return report(generated);
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Daemon(args) => {
            // A vanished client must never kill the daemon with SIGPIPE.
            set_sigpipe(libc::SIG_IGN);
            if let Err(e) = color_eyre::install() {
                eprintln!("isinit: cannot install panic handler: {e}");
            }
            let (config, socket) = (cli.config, cli.socket);
            block_on(async move { isinit::daemon::run(config.as_deref(), socket.as_deref(), args).await })
        }
        Cmd::Client(command) => {
            // A client whose reader went away (`isinit status | head -1`)
            // ends quietly like any Unix filter.
            set_sigpipe(libc::SIG_DFL);
            let hosts = match cli::hosts::resolve(&cli.hosts, cli.hosts_file.as_deref()) {
                Ok(hosts) => hosts,
                Err(refused) => return cli::hosts::refuse(&refused),
            };
            let (config, socket, timeout) = (cli.config, cli.socket, cli.timeout);
            if !hosts.is_empty() {
                // Writing to an ssh child that already exited (a refused
                // connection) must fail that host, not kill the command
                // with SIGPIPE; the output functions shrug off EPIPE.
                set_sigpipe(libc::SIG_IGN);
                // Several hosts print their own `DEST: error:` lines.
                let deadline = timeout.unwrap_or(cli::fleet::HOST_DEADLINE);
                return match block_on(async move { Ok(cli::fleet::run(command, hosts, deadline).await) }) {
                    Ok(code) => libc::c_int::from(code),
                    Err(failure) => report(Err(failure)),
                };
            }
            cli::run(command, socket.as_deref(), config.as_deref(), timeout)
        }
        // `isinit -H HOST …` on the other end of ssh: bytes both ways,
        // blocking I/O on two threads, no runtime.
        Cmd::Bridge => {
            set_sigpipe(libc::SIG_DFL);
            let socket = isinit_shared::settings::client_socket(cli.socket.as_deref(), cli.config.as_deref());
            cli::bridge::run(&socket)
        }
        Cmd::Drift => {
            // As for `-H` above: a dead ssh child must not end us.
            set_sigpipe(libc::SIG_IGN);
            let hosts = match cli::hosts::resolve(&cli.hosts, cli.hosts_file.as_deref()) {
                Ok(hosts) => hosts,
                Err(refused) => return cli::hosts::refuse(&refused),
            };
            let socket = isinit_shared::settings::client_socket(cli.socket.as_deref(), cli.config.as_deref());
            let deadline = cli.timeout.unwrap_or(cli::fleet::HOST_DEADLINE);
            return match block_on(async move { Ok(cli::drift::run(hosts, &socket, deadline).await) }) {
                Ok(code) => libc::c_int::from(code),
                Err(failure) => report(Err(failure)),
            };
        }
        // An OCF agent answers with its exit code alone (OCF RA API).
        Cmd::Ocf(args) => {
            set_sigpipe(libc::SIG_DFL);
            let (config, socket) = (cli.config, cli.socket);
            let code = block_on(async move {
                let flags = cli::ocf::Flags { socket: socket.as_deref(), config: config.as_deref() };
                Ok(cli::ocf::run(&args.action, flags).await)
            });
            return match code {
                Ok(code) => libc::c_int::from(code),
                Err(failure) => report(Err(failure)),
            };
        }
        // Run by a daemon before `reexec`: can this binary read the state?
        Cmd::HandoverCheck => {
            return match isinit::runtime::handover::check_stdin() {
                Ok(summary) => {
                    eprintln!("{summary}");
                    0
                }
                Err(e) => {
                    eprintln!("isinit: {e}");
                    2
                }
            };
        }
    };
    report(result)
}

/// 0, or the failure's reason on stderr and a non-zero status.
fn report(result: Result<(), Failure>) -> libc::c_int {
    match result {
        Ok(()) => 0,
        Err(failure) => {
            eprintln!("isinit: {failure}");
            FAILURE
        }
    }
}

fn set_sigpipe(disposition: libc::sighandler_t) {
    // SAFETY: setting a signal disposition before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, disposition);
    }
}
