//! One function per client subcommand.
//!
//! The one-shot commands use the blocking client (see
//! `isinit_client::blocking`); only the commands that wait on a
//! stream (`logs`, `shutdown --wait`) start an async runtime.

use super::render;
use super::{ClientCmd, Failure, block_on};
use isinit_client::blocking::Connection;
use isinit_client::{Client, ClientError, DEFAULT_TIMEOUT};
use isinit_shared::config::Inittab;
use isinit_shared::protocol::{Asker, ErrorKind, Request, Response};
use isinit_shared::settings;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// How long `shutdown --wait` waits for the daemon to exit without a
/// `--timeout`: stopping takes up to `--term-after` + `--kill-after` (15 s
/// by default) per process, so the request deadline would be too short.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(60);

/// How long `restart`, `retry` and `reexec` wait for their answer without a
/// `--timeout`: a restart answers once the old process is gone and the new
/// one runs, which a process ignoring SIGINT and SIGTERM makes take
/// `--term-after` + `--kill-after` (15 s by default); a reexec first runs
/// the new binary's check (up to 5 s).
const ACTION_WAIT: Duration = Duration::from_secs(60);

/// Runs a client subcommand with the `--socket`, `--config` and `--timeout`
/// flags given.
pub fn run(
    command: ClientCmd,
    socket_flag: Option<&Path>,
    config_flag: Option<&Path>,
    timeout: Option<Duration>,
) -> Result<(), Failure> {
    // `check` reads a file and talks to nobody: no socket to resolve.
    let socket = || settings::client_socket(socket_flag, config_flag);
    let after = timeout.unwrap_or(DEFAULT_TIMEOUT);
    match command {
        ClientCmd::Check { path } => check(&path.unwrap_or_else(|| settings::config_path(config_flag))),
        ClientCmd::Tell { group, level, dry_run, force, .. } => {
            tell(&socket(), tell_request(group, level, dry_run, force), after)
        }
        ClientCmd::Status { group, json } => status(&socket(), group.as_deref(), json, after),
        ClientCmd::Reload => simple(&socket(), Request::Reload, after),
        ClientCmd::Shutdown { wait } => {
            let (socket, wait_limit) = (socket(), timeout.unwrap_or(SHUTDOWN_WAIT));
            block_on(async move { shutdown(&socket, wait, after, wait_limit).await })
        }
        ClientCmd::Logs { tag: Some(_), timestamps: true, .. }
        | ClientCmd::Logs { tag: Some(_), since: Some(_), .. } => Err(Failure::new(super::logs_group::ONLY_WITH_GROUP)),
        ClientCmd::Logs { tag: Some(tag), lines, follow, .. } => {
            let socket = socket();
            block_on(async move { logs(&socket, tag, lines, follow, after).await })
        }
        ClientCmd::Logs { tag: None, group, lines, follow, timestamps, since } => {
            let (socket, group) = (socket(), group.unwrap_or_default());
            let query = super::logs_group::Query { group, lines, follow, timestamps, since };
            block_on(async move { super::logs_group::local(&socket, query, after).await })
        }
        ClientCmd::Reexec => simple(&socket(), Request::Reexec, timeout.unwrap_or(ACTION_WAIT)),
        ClientCmd::Restart { tag } => simple(&socket(), Request::Restart { tag }, timeout.unwrap_or(ACTION_WAIT)),
        ClientCmd::Retry { tag } => simple(&socket(), Request::Retry { tag }, timeout.unwrap_or(ACTION_WAIT)),
        ClientCmd::Signal { tag, signal } => simple(&socket(), Request::Signal { tag, signal }, after),
        ClientCmd::Metrics => metrics(&socket(), after),
        ClientCmd::Ps { name, json } => super::ps::run(&socket(), name, json, after),
        ClientCmd::Analyze { group, json } => super::analyze::run(&socket(), group, json, after),
    }
}

fn check(path: &Path) -> Result<(), Failure> {
    match Inittab::load(path) {
        Ok(tab) => {
            println!("{}: OK ({} entries, {} groups)", path.display(), tab.entries.len(), tab.groups().len());
            Ok(())
        }
        Err(errors) => {
            Err(Failure { reason: format!("invalid isinittab: {} error(s)", errors.0.len()), details: errors.lines() })
        }
    }
}

/// The request of `tell`: a plain tell, or with `--force` one that
/// overrides a cluster manager's ownership (SPEC §18).
pub(crate) fn tell_request(group: String, level: String, dry_run: bool, force: bool) -> Request {
    if force && !dry_run {
        Request::TellAs { group, level, asker: Asker::Forced }
    } else {
        Request::Tell { group, level, dry_run }
    }
}

fn tell(socket: &Path, request: Request, after: Duration) -> Result<(), Failure> {
    let (_, reply) = Connection::open_and_request(socket, &request, after)?;
    match reply {
        Response::Plan(plan) => match plan.error {
            Some(error) => Err(Failure::new(error)),
            None => {
                print!("{}", render::plan(&plan));
                Ok(())
            }
        },
        Response::Ok { message } => {
            println!("{message}");
            Ok(())
        }
        other => Err(unexpected(other)),
    }
}

fn status(socket: &Path, group: Option<&str>, json: bool, after: Duration) -> Result<(), Failure> {
    let (mut connection, reply) = status_snapshot(socket, group.is_none() && !json, after)?;
    let Response::Snapshot(mut snap) = reply else {
        return Err(Failure::new("unexpected reply from the daemon"));
    };
    if let Some(group) = group {
        if snap.group(group).is_none() {
            return Err(Failure::new(format!("no such group: {group}")));
        }
        snap.groups.retain(|g| g.name == group);
        snap.processes.retain(|p| p.group == group);
    }
    if json {
        // One usage sample, on the same connection: CPU time and memory
        // now (a CPU rate only if something else sampled a moment ago).
        let usage = match connection.request(&Request::Usage, after)? {
            Response::Usage(rows) => rows,
            other => return Err(unexpected(other)),
        };
        let text = render::json_with_usage(&snap, &usage).map_err(|e| Failure::new(e.to_string()))?;
        println!("{text}");
        return Ok(());
    }
    print!("{}", render::status_text(&snap, group.is_some()));
    Ok(())
}

/// The daemon's snapshot for `status`: without its process rows when only
/// the groups are printed ([`Request::Groups`], which costs the daemon its
/// groups, not its processes). A daemon older than that request refuses
/// it as a bad request (one still running while its package is upgraded,
/// until its `reexec`); it is asked for the whole snapshot instead.
fn status_snapshot(socket: &Path, groups_only: bool, after: Duration) -> Result<(Connection, Response), Failure> {
    if groups_only {
        match Connection::open_and_request(socket, &Request::Groups, after) {
            Err(ClientError::Daemon(e)) if e.kind == ErrorKind::Rejected && e.message.starts_with("bad request") => {}
            other => return Ok(other?),
        }
    }
    Ok(Connection::open_and_request(socket, &Request::Status, after)?)
}

fn simple(socket: &Path, request: Request, after: Duration) -> Result<(), Failure> {
    let (_, reply) = Connection::open_and_request(socket, &request, after)?;
    match reply {
        Response::Ok { message } => {
            println!("{message}");
            Ok(())
        }
        other => Err(unexpected(other)),
    }
}

/// `shutdown`: the request within `after`; with `--wait`, the daemon's exit
/// within `wait_limit` more.
async fn shutdown(socket: &Path, wait: bool, after: Duration, wait_limit: Duration) -> Result<(), Failure> {
    let (mut client, reply) = Client::connect_and_request(socket, &Request::Shutdown, after).await?;
    match reply {
        Response::Ok { message } => println!("{message}"),
        other => return Err(unexpected(other)),
    }
    if wait {
        let pid = client.daemon.pid;
        let gone = async {
            // The daemon closes every connection once every process is
            // stopped; then wait for the process itself to be gone.
            loop {
                match client.recv().await {
                    Ok(_) => continue,
                    Err(ClientError::Frame(_)) => break,
                    Err(e) => return Err(Failure::from(e)),
                }
            }
            isinit_client::pidwait::wait_gone(pid).await;
            Ok(())
        };
        match tokio::time::timeout(wait_limit, gone).await {
            Ok(result) => result?,
            Err(_) => {
                return Err(Failure::new(format!(
                    "daemon at {} (pid {pid}) did not exit within {} s",
                    socket.display(),
                    wait_limit.as_secs_f64()
                )));
            }
        }
    }
    Ok(())
}

/// `logs`: the backlog within `after`; what `-f` streams after it is not
/// bounded, a quiet tag is no failure.
async fn logs(socket: &Path, tag: String, lines: u32, follow: bool, after: Duration) -> Result<(), Failure> {
    let (mut client, reply) = Client::connect_and_request(socket, &Request::Logs { tag, lines, follow }, after).await?;
    let Response::Logs { lines, .. } = reply else {
        return Err(Failure::new("unexpected reply from the daemon"));
    };
    let mut out = std::io::stdout().lock();
    for line in lines {
        let _ = writeln!(out, "{}", line.text);
    }
    let _ = out.flush();
    drop(out);
    if !follow {
        return Ok(());
    }
    loop {
        match client.recv().await {
            Ok(Response::Output(line)) => {
                let mut out = std::io::stdout().lock();
                if writeln!(out, "{}", line.text).and_then(|_| out.flush()).is_err() {
                    break; // stdout closed (e.g. `| head`)
                }
            }
            Ok(_) => continue,
            Err(ClientError::Frame(_)) => return Err(Failure::new("daemon went away")),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn metrics(socket: &Path, after: Duration) -> Result<(), Failure> {
    let (mut connection, reply) = Connection::open_and_request(socket, &Request::Status, after)?;
    let Response::Snapshot(snap) = reply else {
        return Err(Failure::new("unexpected reply from the daemon"));
    };
    let usage = match connection.request(&Request::Usage, after)? {
        Response::Usage(rows) => rows,
        other => return Err(unexpected(other)),
    };
    print!("{}{}", isinit_shared::metrics::render(&snap), isinit_shared::metrics::render_usage(&snap, &usage));
    Ok(())
}

fn unexpected(r: Response) -> Failure {
    Failure::new(format!("unexpected reply from the daemon: {r:?}"))
}
