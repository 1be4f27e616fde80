//! `isinit -H SET …`: a client command run on many hosts, each reached
//! through `ssh DEST isinit bridge` (see `isinit_client::transport`).
//!
//! Hosts are asked through the fan-out window (`--fanout` sessions at
//! once, each reached within `--connect-timeout`, then answering within
//! `--timeout`), so one slow or dead host never holds up the others and
//! hundreds of hosts never start hundreds of ssh at once. The answers are
//! printed in the order the hosts were given, prefixed `DEST: ` (pdsh +
//! dshbak) or folded with `-b` (see [`super::gather`]); with two or more
//! hosts a summary of what went wrong ends stderr. With one host the
//! output is exactly the local command's.

use super::gather::{self, Answer, Kind, Missed, Progress};
use super::{ClientCmd, Failure, FleetArgs, render};
use isinit_client::fleet::{HostError, Window};
use isinit_client::transport::{Dest, Endpoint, SshRoute};
use isinit_client::{Client, ClientError};
use isinit_shared::protocol::{Request, Response};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long one host has to answer a one-shot request once reached,
/// unless `--timeout` says otherwise.
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
            ClientCmd::Tell { group, level, dry_run, force, .. } => HostCmd::Tell { group, level, dry_run, force },
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
                    "--host applies to status, tell, reload, logs, ps, analyze, shutdown, restart, retry, signal, drift and hosts",
                ));
            }
        })
    }
}

/// Exit status when every host answered.
const ALL_OK: u8 = 0;
/// Exit status when any host failed.
const SOME_FAILED: u8 = 1;

/// How to fan out: the window, the per-host deadline, the output form.
#[derive(Debug, Clone)]
pub struct Options {
    /// `--fanout` and `--connect-timeout`.
    pub window: Window,
    /// `--timeout`: how long a reached host has to answer.
    pub deadline: Duration,
    /// `-b`: fold identical answers.
    pub fold: bool,
    /// `--failed-to FILE`.
    pub failed_to: Option<PathBuf>,
}

impl Options {
    /// The options the flags give.
    pub fn new(args: &FleetArgs, timeout: Option<Duration>) -> Options {
        Options {
            window: Window::new(args.fanout, args.connect_timeout),
            deadline: timeout.unwrap_or(HOST_DEADLINE),
            fold: args.fold,
            failed_to: args.failed_to.clone(),
        }
    }
}

/// Runs `command` on every host; prints as described in the module
/// documentation. Returns the exit status: non-zero when any host failed.
pub async fn run(command: ClientCmd, hosts: Vec<Dest>, options: Options) -> u8 {
    if let ClientCmd::Tell { group, level, dry_run, rollout, .. } = &command
        && let Some(batch) = rollout.batch
    {
        let plan = super::rollout::Plan {
            group: group.clone(),
            level: level.clone(),
            batch,
            healthy_for: rollout.healthy_for,
            max_fail: rollout.max_fail,
            revert: rollout.revert,
        };
        return super::rollout::run(plan, hosts, *dry_run, options).await;
    }
    let cmd = match HostCmd::from_client(command) {
        Ok(cmd) => cmd,
        Err(f) => return fail(&f),
    };
    let endpoints: Vec<Endpoint> = hosts.iter().map(|h| Endpoint::Ssh(SshRoute::from_env(h))).collect();
    // From here on a host is only a name in the output.
    let hosts: Vec<String> = hosts.iter().map(ToString::to_string).collect();
    if let HostCmd::Logs { tag, lines, follow: true } = &cmd {
        return follow(&hosts, endpoints, tag, *lines, &options).await;
    }
    if let HostCmd::GroupLogs(query) = cmd {
        return super::logs_group::fleet(&hosts, endpoints, query, &options).await;
    }
    let jobs: Vec<_> = endpoints
        .into_iter()
        .map(|endpoint| {
            let (cmd, window, deadline) = (cmd.clone(), options.window.clone(), options.deadline);
            async move { ask(&window, &endpoint, &cmd, deadline).await }
        })
        .collect();
    let mut progress = Progress::new(hosts.len());
    let answers: Vec<Answer> = options
        .window
        .each(jobs, |done, total| progress.update(done, total))
        .await
        .into_iter()
        .map(|a| a.unwrap_or_else(|| Err(Missed { kind: Kind::Failed, failure: Failure::new("host task failed") })))
        .collect();
    progress.finish();
    let mut code = if answers.iter().all(Result::is_ok) { ALL_OK } else { SOME_FAILED };
    if let Some(path) = &options.failed_to
        && let Err(e) = std::fs::write(path, gather::failed_file(&hosts, &answers))
    {
        err(&format!("isinit: cannot write {}: {e}\n", path.display()));
        code = SOME_FAILED;
    }
    if let [only] = answers.as_slice() {
        match only {
            Ok(text) => out(text),
            Err(m) => return fail(&m.failure),
        }
        return code;
    }
    let printed = match cmd {
        HostCmd::Status { json: true, .. } | HostCmd::Ps { json: true, .. } | HostCmd::Analyze { json: true, .. } => {
            print_json(&hosts, &answers)
        }
        _ if options.fold => gather::folded(&hosts, &answers),
        _ => gather::prefixed(&hosts, &answers),
    };
    out(&printed.stdout);
    err(&printed.stderr);
    err(&gather::summary(&hosts, &answers));
    code
}

/// `--batch` without hosts: a rolling switch of one local daemon makes no
/// sense, and telling it at once would ignore what was asked. A usage
/// error (2) with the reason, or `None` for any other command.
pub fn refuse_local(command: &ClientCmd) -> Option<u8> {
    match command {
        ClientCmd::Tell { rollout, .. } if rollout.batch.is_some() => {
            err("isinit: --batch rolls a switch over hosts: give them with -H SET or --hosts FILE\n");
            Some(2)
        }
        _ => None,
    }
}

fn fail(f: &Failure) -> u8 {
    err(&format!("isinit: {f}\n"));
    SOME_FAILED
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

/// One object keyed by DEST, in the order given; a failed host's value is
/// `{"error": "…"}` and its `DEST: error:` line goes to stderr.
fn print_json(hosts: &[String], answers: &[Answer]) -> gather::Printed {
    let mut printed = gather::Printed::default();
    let mut body = Vec::with_capacity(hosts.len());
    for (host, answer) in hosts.iter().zip(answers) {
        let key = serde_json::Value::String(host.clone()).to_string();
        let value = match answer {
            Ok(text) => text.trim_end().replace('\n', "\n  "),
            Err(m) => {
                printed.stderr.push_str(&gather::error_lines(host, &m.failure));
                serde_json::json!({ "error": m.failure.to_string() }).to_string()
            }
        };
        body.push(format!("  {key}: {value}"));
    }
    printed.stdout = format!("{{\n{}\n}}\n", body.join(",\n"));
    printed
}

/// A host error as the summary counts it. A timeout does not name the
/// host (its line or header already does), so that `-b` folds every
/// host that timed out alike into one block.
pub fn missed(e: HostError) -> Missed {
    let failure = |e: ClientError| match e {
        ClientError::Timeout { after, .. } => no_answer(after),
        e => Failure::from(e),
    };
    match e {
        HostError::Unreachable(e) => Missed { kind: Kind::Unreachable, failure: failure(e) },
        HostError::Failed(e) => Missed { kind: Kind::Failed, failure: failure(e) },
    }
}

/// One host's whole answer as the text the local command would print:
/// reached within the window's connect timeout, answered within
/// `deadline` (a `shutdown --wait` waits past it only once the daemon has
/// accepted).
async fn ask(window: &Window, endpoint: &Endpoint, cmd: &HostCmd, deadline: Duration) -> Answer {
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
        HostCmd::GroupLogs(_) => {
            return Err(Missed { kind: Kind::Failed, failure: Failure::new("logs -g is not a one-shot request") });
        }
    };
    let failed = |failure: Failure| Missed { kind: Kind::Failed, failure };
    let (mut client, reply) = window.request(endpoint, &request, deadline).await.map_err(missed)?;
    let text = match tokio::time::timeout(deadline, shape(&mut client, cmd, reply)).await {
        Ok(text) => text.map_err(failed)?,
        Err(_) => return Err(failed(no_answer(deadline))),
    };
    if let HostCmd::Shutdown { wait: true } = cmd {
        // The daemon closes every connection once every process has
        // stopped; its pid is on another host, so that close is the sign.
        loop {
            match client.recv().await {
                Ok(_) => continue,
                Err(ClientError::Frame(_)) => break,
                Err(e) => return Err(failed(e.into())),
            }
        }
    }
    // The window's slot is given back when this returns: with the session
    // gone, not merely killed (`--fanout` counts live ssh processes).
    client.close().await;
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
/// unless there is one host; ends when every host's stream has ended. A
/// stream holds its ssh session for as long as it runs, so it needs a
/// slot per host: more hosts than `--fanout` is refused, not half-followed.
async fn follow(hosts: &[String], endpoints: Vec<Endpoint>, tag: &str, lines: u32, options: &Options) -> u8 {
    if hosts.len() > options.window.fanout() {
        return fail(&Failure::new(format!(
            "logs -f holds one ssh session per host: {} hosts need --fanout {} or more",
            hosts.len(),
            hosts.len()
        )));
    }
    // Bounded: a host that talks faster than stdout drains waits.
    let (tx, mut rx) = mpsc::channel::<Followed>(1024);
    for (i, endpoint) in endpoints.into_iter().enumerate() {
        let tx = tx.clone();
        let request = Request::Logs { tag: tag.to_string(), lines, follow: true };
        let (window, deadline) = (options.window.clone(), options.deadline);
        tokio::spawn(async move {
            if let Err(f) = follow_one(i, &window, &endpoint, &request, deadline, &tx).await {
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
                if single { err(&format!("isinit: {f}\n")) } else { err(&gather::error_lines(&hosts[i], &f)) }
            }
        }
    }
    if ok { ALL_OK } else { SOME_FAILED }
}

async fn follow_one(
    i: usize,
    window: &Window,
    endpoint: &Endpoint,
    request: &Request,
    deadline: Duration,
    tx: &mpsc::Sender<Followed>,
) -> Result<(), Failure> {
    // The connect timeout bounds reaching the host, the deadline the
    // backlog; the stream then runs until the daemon or the operator ends it.
    let (mut client, reply) = window.request(endpoint, request, deadline).await.map_err(|e| missed(e).failure)?;
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

    #[test]
    fn json_is_one_object_keyed_by_host() {
        let hosts = ["b".to_string(), "a".into()];
        let answers = vec![
            Ok("{\n  \"seq\": 1\n}\n".into()),
            Err(Missed { kind: Kind::Unreachable, failure: Failure::new("refused") }),
        ];
        let printed = print_json(&hosts, &answers);
        let value: serde_json::Value = serde_json::from_str(&printed.stdout).unwrap();
        assert_eq!(value["b"]["seq"], 1);
        assert_eq!(value["a"]["error"], "refused");
        assert!(printed.stdout.find("\"b\"").unwrap() < printed.stdout.find("\"a\"").unwrap(), "order kept");
        assert_eq!(printed.stderr, "a: error: refused\n");
    }
}
