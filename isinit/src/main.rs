//! `isinit`: the daemon and its command line. Wiring only: `isinit daemon`
//! goes to `isinit-daemon`, every other subcommand to `isinit-cli`.
//!
//! A client command (`isinit tell`) is one short request whose wall time is
//! mostly process start-up, so its path initialises only what it uses: no
//! error-report hooks, no logging subscriber, and for a one-shot request
//! no async runtime at all (a blocking socket); the commands that follow
//! a stream get a single-threaded one with just the I/O and timer drivers.
//!
//! An ordinary `main`, not a `no_main` C entry point: skipping the
//! standard library's start-up saved about 0.1 ms of CPU per command (it
//! reads `/proc/self/maps` to guard the main thread's stack), but cost
//! the "has overflowed its stack" report and put SIGPIPE and argument
//! handling in our hands. A fraction of a millisecond does not pay for a
//! crash that says nothing (STYLE.md trap 18).

use isinit_cli::{self as cli, Cli, Cmd, Failure, block_on};
use std::io::Write;
use std::process::ExitCode;

/// The exit code of a failed command.
const FAILURE: libc::c_int = 1;
/// The exit code of a command line that makes no sense, as clap's.
const USAGE: libc::c_int = 2;

fn main() -> ExitCode {
    let code = run();
    let _ = std::io::stdout().flush();
    ExitCode::from(u8::try_from(code).unwrap_or(u8::MAX))
}

fn run() -> libc::c_int {
    if let Some(generated) = cli::generate_if_asked() {
        return report(generated);
    }
    let mut cli = Cli::parse_args();
    cli.command = match cli.command.resolve_telinit() {
        Ok(command) => command,
        Err(reason) => {
            eprintln!("isinit: {reason}");
            return USAGE;
        }
    };
    let result = match cli.command {
        Cmd::Daemon(args) => {
            // A vanished client must never kill the daemon with SIGPIPE.
            set_sigpipe(libc::SIG_IGN);
            if let Err(e) = color_eyre::install() {
                eprintln!("isinit: cannot install panic handler: {e}");
            }
            let (config, socket) = (cli.config, cli.socket);
            let options = daemon_options(args);
            isinit_daemon::block_on(async move {
                isinit_daemon::daemon::run(config.as_deref(), socket.as_deref(), options).await
            })
        }
        Cmd::Client(command) => {
            // A client whose reader went away (`isinit status | head -1`)
            // ends quietly like any Unix filter.
            set_sigpipe(libc::SIG_DFL);
            let hosts = match cli::hosts::resolve(&cli.fleet) {
                Ok(hosts) => hosts,
                Err(refused) => return cli::hosts::refuse(&refused),
            };
            let (config, socket, timeout) = (cli.config, cli.socket, cli.timeout);
            if let Some(hosts) = hosts {
                // Writing to an ssh child that already exited (a refused
                // connection) must fail that host, not kill the command
                // with SIGPIPE; the output functions shrug off EPIPE.
                set_sigpipe(libc::SIG_IGN);
                // Several hosts print their own `DEST: error:` lines.
                let options = cli::fleet::Options::new(&cli.fleet, timeout);
                return match block_on(async move { Ok(cli::fleet::run(command, hosts, options).await) }) {
                    Ok(code) => libc::c_int::from(code),
                    Err(failure) => report(Err(failure)),
                };
            }
            if let Some(code) = cli::fleet::refuse_local(&command) {
                return libc::c_int::from(code);
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
            let hosts = match cli::hosts::resolve(&cli.fleet) {
                Ok(hosts) => hosts.unwrap_or_default(),
                Err(refused) => return cli::hosts::refuse(&refused),
            };
            let socket = isinit_shared::settings::client_socket(cli.socket.as_deref(), cli.config.as_deref());
            let options = cli::fleet::Options::new(&cli.fleet, cli.timeout);
            return match block_on(
                async move { Ok(cli::drift::run(hosts, &socket, options.window, options.deadline).await) },
            ) {
                Ok(code) => libc::c_int::from(code),
                Err(failure) => report(Err(failure)),
            };
        }
        // What -H, -x and the hosts file select; talks to nobody.
        Cmd::Hosts => {
            set_sigpipe(libc::SIG_DFL);
            return cli::hosts::print(&cli.fleet);
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
        // Turned into `tell` (or refused) by `resolve_telinit` above.
        Cmd::Telinit(words) => Err(Failure::new(format!("unrecognized subcommand {words:?}"))),
        // Run by a daemon before `reexec`: can this binary read the state?
        Cmd::HandoverCheck => {
            return match isinit_daemon::runtime::handover::check_stdin() {
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

/// `isinit daemon`'s flags as the daemon crate takes them (it never
/// depends on the command line's crate).
fn daemon_options(args: cli::DaemonArgs) -> isinit_daemon::DaemonOptions {
    isinit_daemon::DaemonOptions {
        initstat: args.initstat,
        logdir: args.logdir,
        log: args.log,
        state: args.state,
        cgroup: args.cgroup,
        respawn_pause: args.respawn_pause,
        term_after: args.term_after,
        kill_after: args.kill_after,
        ready_timeout: args.ready_timeout,
        log_max_bytes: args.log_max_bytes,
        metrics_listen: args.metrics_listen,
    }
}
