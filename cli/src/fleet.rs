//! `isinit -H DEST …`: a client command run on several hosts at once,
//! each reached through `ssh DEST isinit bridge` (see
//! `isinit_client::transport`).
//!
//! Hosts are asked in parallel, each under its own deadline, so one slow or
//! dead host never holds up the others; the answers are printed in the
//! order the hosts were given, as pdsh + dshbak would: every line prefixed
//! `DEST: `. With one host the output is exactly the local command's.

use super::{ClientCmd, Failure, render};
use isinit_client::transport::{Dest, Endpoint, SshRoute};
use isinit_client::{Client, ClientError};
use isinit_shared::protocol::{Request, Response};
use std::io::Write;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long one host has to answer a one-shot request, connection
/// included, unless `--timeout` says otherwise: ssh to a dead address can
/// hang far longer than an operator waits.
pub const HOST_DEADLINE: Duration = Duration::from_secs(10);

/// What is asked of every host, in a form that can be sent to a task.
#[derive(Debug, Clone)]
enum HostCmd {
    Status { group: Option<String>, json: bool },
    Tell { group: String, level: String, dry_run: bool, force: bool },
    Simple(Request),
    Shutdown { wait: bool },
    Logs { tag: String, lines: u32, follow: bool },
    Ps { name: Option<String>, json: bool },
    Analyze { group: String, json: bool },
    GroupLogs(super::logs_group::Query),
}

impl HostCmd {
    fn from_client(cmd: ClientCmd) -> Result<HostCmd, Failure> {
        Ok(match cmd {
            ClientCmd::Status { group, json } => HostCmd::Status { group, json },
            ClientCmd::Tell { group, level, dry_run, force } => HostCmd::Tell { group, level, dry_run, force },
            ClientCmd::Reload => HostCmd::Simple(Request::Reload),
            ClientCmd::Shutdown { wait } => HostCmd::Shutdown { wait },
            ClientCmd::Logs { tag: Some(_), timestamps: true, .. }
            | ClientCmd::Logs { tag: Some(_), since: Some(_), .. } => {
                return Err(Failure::new(super::logs_group::ONLY_WITH_GROUP));
            }
            ClientCmd::Logs { tag: Some(tag), lines, follow, .. } => HostCmd::Logs { tag, lines, follow },
            ClientCmd::Logs { tag: None, group, lines, follow, timestamps, since } => {
                let group = group.unwrap_or_default();
                HostCmd::GroupLogs(super::logs_group::Query { group, lines, follow, timestamps, since })
            }
            ClientCmd::Restart { tag } => HostCmd::Simple(Request::Restart { tag }),
            ClientCmd::Retry { tag } => HostCmd::Simple(Request::Retry { tag }),
            ClientCmd::Signal { tag, signal } => HostCmd::Simple(Request::Signal { tag, signal }),
            ClientCmd::Ps { name, json } => HostCmd::Ps { name, json },
            ClientCmd::Analyze { group, json } => HostCmd::Analyze { group, json },
            ClientCmd::Check { .. } => {
                return Err(Failure::new("check reads a local file: --host does not apply to it"));
            }
            ClientCmd::Reexec | ClientCmd::Metrics => {
                return Err(Failure::new(
                    "--host applies to status, tell, reload, logs, ps, analyze, shutdown, restart, retry, signal and drift",
                ));
            }
        })
    }
}

/// Exit status when every host answered.
const ALL_OK: u8 = 0;
/// Exit status when any host failed.
const SOME_FAILED: u8 = 1;

/// Runs `command` on every host, each within `deadline`; prints as
/// described in the module documentation. Returns the exit status:
/// non-zero when any host failed.
pub async fn run(command: ClientCmd, hosts: Vec<Dest>, deadline: Duration) -> u8 {
    let cmd = match HostCmd::from_client(command) {
        Ok(cmd) => cmd,
        Err(f) => return fail(&f),
    };
    let endpoints: Vec<Endpoint> = hosts.iter().map(|h| Endpoint::Ssh(SshRoute::from_env(h))).collect();
    // From here on a host is only a name in the output.
    let hosts: Vec<String> = hosts.iter().map(ToString::to_string).collect();
    if let HostCmd::Logs { tag, lines, follow: true } = &cmd {
        return follow(&hosts, endpoints, tag, *lines, deadline).await;
    }
    if let HostCmd::GroupLogs(query) = cmd {
        return super::logs_group::fleet(&hosts, endpoints, query, deadline).await;
    }
    let tasks: Vec<_> = endpoints
        .into_iter()
        .map(|endpoint| {
            let cmd = cmd.clone();
            tokio::spawn(async move { ask(&endpoint, &cmd, deadline).await })
        })
        .collect();
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(task.await.unwrap_or_else(|e| Err(Failure::new(format!("host task failed: {e}")))));
    }
    if let [only] = results.as_slice() {
        return match only {
            Ok(text) => {
                out(text);
                ALL_OK
            }
            Err(f) => fail(f),
        };
    }
    let json = matches!(
        cmd,
        HostCmd::Status { json: true, .. } | HostCmd::Ps { json: true, .. } | HostCmd::Analyze { json: true, .. }
    );
    let mut stdout = std::io::stdout().lock();
    let ok =
        if json { print_json(&mut stdout, &hosts, &results) } else { print_prefixed(&mut stdout, &hosts, &results) };
    let _ = stdout.flush();
    if ok { ALL_OK } else { SOME_FAILED }
}

fn fail(f: &Failure) -> u8 {
    err(&format!("isinit: {f}\n"));
    SOME_FAILED
}

/// `DEST: line` for every line of every host; errors on stderr. False if
/// any host failed.
fn print_prefixed(out: &mut impl Write, hosts: &[String], results: &[Result<String, Failure>]) -> bool {
    let mut ok = true;
    for (host, result) in hosts.iter().zip(results) {
        match result {
            Ok(text) => {
                for line in text.lines() {
                    let _ = writeln!(out, "{host}: {line}");
                }
            }
            Err(f) => {
                ok = false;
                let _ = out.flush();
                err(&error_lines(host, f));
            }
        }
    }
    ok
}

/// Writes to stdout, ignoring a reader that went away: with several ssh
/// children whose pipes may close under us, SIGPIPE is ignored on this
/// path (see `main.rs`), so a closed stdout is an error to shrug off, not
/// a signal, and `print!` would panic on it.
pub fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush());
}

/// Writes to stderr, ignoring a closed stderr (see [`out`]).
pub fn err(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// `DEST: error: REASON`, then `DEST: DETAIL` per detail line.
pub fn error_lines(host: &str, f: &Failure) -> String {
    let mut text = format!("{host}: error: {}\n", f.reason);
    for d in &f.details {
        text.push_str(&format!("{host}: {d}\n"));
    }
    text
}

/// One object keyed by DEST, in the order given; a failed host's value is
/// `{"error": "…"}`.
fn print_json(out: &mut impl Write, hosts: &[String], results: &[Result<String, Failure>]) -> bool {
    let mut ok = true;
    let mut body = Vec::with_capacity(hosts.len());
    for (host, result) in hosts.iter().zip(results) {
        let key = serde_json::Value::String(host.clone()).to_string();
        let value = match result {
            Ok(text) => text.trim_end().replace('\n', "\n  "),
            Err(f) => {
                ok = false;
                err(&error_lines(host, f));
                serde_json::json!({ "error": f.to_string() }).to_string()
            }
        };
        body.push(format!("  {key}: {value}"));
    }
    let _ = writeln!(out, "{{\n{}\n}}", body.join(",\n"));
    ok
}

/// One host's whole answer as the text the local command would print,
/// within `deadline` (a `shutdown --wait` waits past it only once the
/// daemon has accepted).
async fn ask(endpoint: &Endpoint, cmd: &HostCmd, deadline: Duration) -> Result<String, Failure> {
    let request = match cmd {
        HostCmd::Status { .. } => Request::Status,
        HostCmd::Tell { group, level, dry_run, force } => {
            crate::commands::tell_request(group.clone(), level.clone(), *dry_run, *force)
        }
        HostCmd::Simple(request) => request.clone(),
        HostCmd::Shutdown { .. } => Request::Shutdown,
        HostCmd::Logs { tag, lines, .. } => Request::Logs { tag: tag.clone(), lines: *lines, follow: false },
        HostCmd::Ps { name, .. } => super::ps::request(name.clone()),
        HostCmd::Analyze { group, .. } => super::analyze::request(group.clone()),
        // Answered by `logs_group::fleet` before any host is asked here.
        HostCmd::GroupLogs(_) => return Err(Failure::new("logs -g is not a one-shot request")),
    };
    let answer = async {
        let (mut client, reply) = Client::connect_and_request_to(endpoint, &request, deadline).await?;
        let text = shape(&mut client, cmd, reply).await?;
        Ok::<_, Failure>((client, text))
    };
    let (mut client, text) = tokio::time::timeout(deadline, answer).await.map_err(|_| no_answer(deadline))??;
    if let HostCmd::Shutdown { wait: true } = cmd {
        // The daemon closes every connection once every process has
        // stopped; its pid is on another host, so that close is the sign.
        loop {
            match client.recv().await {
                Ok(_) => continue,
                Err(ClientError::Frame(_)) => break,
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(text)
}

/// Turns a reply into the local command's output.
async fn shape(client: &mut Client, cmd: &HostCmd, reply: Response) -> Result<String, Failure> {
    match (cmd, reply) {
        (HostCmd::Status { group, json }, Response::Snapshot(mut snap)) => {
            if let Some(group) = group {
                if snap.group(group).is_none() {
                    return Err(Failure::new(format!("no such group: {group}")));
                }
                snap.groups.retain(|g| &g.name == group);
                snap.processes.retain(|p| &p.group == group);
            }
            if *json {
                let usage = match client.request(&Request::Usage).await? {
                    Response::Usage(rows) => rows,
                    other => return Err(unexpected(other)),
                };
                let text = render::json_with_usage(&snap, &usage).map_err(|e| Failure::new(e.to_string()))?;
                return Ok(format!("{text}\n"));
            }
            Ok(render::status_text(&snap, group.is_some()))
        }
        (HostCmd::Tell { .. }, Response::Plan(plan)) => match plan.error {
            Some(error) => Err(Failure::new(error)),
            None => Ok(render::plan(&plan)),
        },
        (HostCmd::Logs { .. }, Response::Logs { lines, .. }) => {
            Ok(lines.iter().map(|l| format!("{}\n", l.text)).collect())
        }
        (HostCmd::Ps { json, .. }, reply) => super::ps::shape(reply, *json),
        (HostCmd::Analyze { json, .. }, reply) => super::analyze::shape(reply, *json),
        (_, Response::Ok { message }) => Ok(format!("{message}\n")),
        (_, other) => Err(unexpected(other)),
    }
}

/// A host that did not answer in time.
pub fn no_answer(deadline: Duration) -> Failure {
    Failure::new(format!("no answer within {} s", deadline.as_secs_f64()))
}

fn unexpected(r: Response) -> Failure {
    Failure::new(format!("unexpected reply from the daemon: {r:?}"))
}

/// What a followed host reports to the printer.
enum Followed {
    Line(usize, String),
    Failed(usize, Failure),
}

/// `logs -f` on several hosts: lines printed as they arrive, prefixed
/// unless there is one host; ends when every host's stream has ended.
async fn follow(hosts: &[String], endpoints: Vec<Endpoint>, tag: &str, lines: u32, deadline: Duration) -> u8 {
    // Bounded: a host that talks faster than stdout drains waits.
    let (tx, mut rx) = mpsc::channel::<Followed>(1024);
    for (i, endpoint) in endpoints.into_iter().enumerate() {
        let tx = tx.clone();
        let request = Request::Logs { tag: tag.to_string(), lines, follow: true };
        tokio::spawn(async move {
            if let Err(f) = follow_one(i, &endpoint, &request, deadline, &tx).await {
                let _ = tx.send(Followed::Failed(i, f)).await;
            }
        });
    }
    drop(tx);
    let single = hosts.len() == 1;
    let mut ok = true;
    while let Some(item) = rx.recv().await {
        match item {
            Followed::Line(i, text) => {
                let mut out = std::io::stdout().lock();
                let written = if single { writeln!(out, "{text}") } else { writeln!(out, "{}: {text}", hosts[i]) };
                if written.and_then(|_| out.flush()).is_err() {
                    return ALL_OK; // stdout closed (`| head`)
                }
            }
            Followed::Failed(i, f) => {
                ok = false;
                if single { err(&format!("isinit: {f}\n")) } else { err(&error_lines(&hosts[i], &f)) }
            }
        }
    }
    if ok { ALL_OK } else { SOME_FAILED }
}

async fn follow_one(
    i: usize,
    endpoint: &Endpoint,
    request: &Request,
    deadline: Duration,
    tx: &mpsc::Sender<Followed>,
) -> Result<(), Failure> {
    // The deadline bounds the connection and the backlog; the stream then
    // runs until the daemon or the operator ends it.
    let (mut client, reply) = Client::connect_and_request_to(endpoint, request, deadline).await?;
    let Response::Logs { lines, .. } = reply else {
        return Err(unexpected(reply));
    };
    for line in lines {
        if tx.send(Followed::Line(i, line.text)).await.is_err() {
            return Ok(());
        }
    }
    loop {
        match client.recv().await {
            Ok(Response::Output(line)) => {
                if tx.send(Followed::Line(i, line.text)).await.is_err() {
                    return Ok(());
                }
            }
            Ok(_) => continue,
            Err(ClientError::Frame(_)) => return Err(Failure::new("daemon went away")),
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn results() -> Vec<Result<String, Failure>> {
        vec![Ok("mail run DONE\nweb 2 RUNNING\n".into()), Err(Failure::new("Connection refused")), Ok("x\n".into())]
    }

    #[test]
    fn every_line_is_prefixed_in_the_order_given() {
        let hosts = ["web1".to_string(), "web2".into(), "db".into()];
        let mut out = Vec::new();
        assert!(!print_prefixed(&mut out, &hosts, &results()));
        assert_eq!(String::from_utf8(out).unwrap(), "web1: mail run DONE\nweb1: web 2 RUNNING\ndb: x\n");
    }

    #[test]
    fn json_is_one_object_keyed_by_host() {
        let hosts = ["b".to_string(), "a".into()];
        let results = vec![Ok("{\n  \"seq\": 1\n}\n".into()), Err(Failure::new("refused"))];
        let mut out = Vec::new();
        assert!(!print_json(&mut out, &hosts, &results));
        let text = String::from_utf8(out).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["b"]["seq"], 1);
        assert_eq!(value["a"]["error"], "refused");
        assert!(text.find("\"b\"").unwrap() < text.find("\"a\"").unwrap(), "order given kept:\n{text}");
    }
}
