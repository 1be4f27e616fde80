//! `isinit logs -g GROUP [-n N] [-f] [-t] [--since D]`: one log for a
//! whole group (SPEC §19). Each line is `TAG | text` (`-t`: the time the
//! daemon read it first, UTC); with several hosts each line starts with
//! the host, and the backlogs of every host are interleaved in time too;
//! `-b` prints identical lines of many hosts once (see `logs_fold`).

use super::Failure;
use super::fleet::{Options, err, missed, no_answer};
use super::gather::{self, Answer, Kind, Missed, error_lines};
use super::logs_fold::{Folded, Follower, fold_backlog};
use isinit_client::fleet::Window;
use isinit_client::transport::Endpoint;
use isinit_client::{Client, ClientError};
use isinit_shared::protocol::group_logs::merge_by_time;
use isinit_shared::protocol::{OutputLine, Request, Response};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant, UNIX_EPOCH};
use tokio::sync::mpsc;

/// Why `logs TAG -t` or `logs TAG --since` is refused: the daemon stamps
/// and filters a group's merged log; one tag's is its plain output.
pub const ONLY_WITH_GROUP: &str = "-t and --since go with -g GROUP (one tag's log is its plain output)";

/// What `logs -g` asks for.
#[derive(Debug, Clone)]
pub struct Query {
    /// The group.
    pub group: String,
    /// Lines of backlog, over all its tags.
    pub lines: u32,
    /// Keep printing new lines.
    pub follow: bool,
    /// Print when each line was read first.
    pub timestamps: bool,
    /// Only lines newer than this (by the daemon's clock).
    pub since: Option<Duration>,
}

impl Query {
    fn request(&self) -> Request {
        Request::GroupLogs {
            group: self.group.clone(),
            lines: self.lines,
            follow: self.follow,
            since_ms: self.since.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        }
    }
}

/// One line as printed: `[HOST ][TIME ]TAG | text`.
pub fn format_line(host: Option<&str>, line: &OutputLine, timestamps: bool) -> String {
    let mut out = String::new();
    if let Some(host) = host {
        out.push_str(host);
        out.push(' ');
    }
    if timestamps {
        let at = UNIX_EPOCH + Duration::from_millis(line.at_ms);
        out.push_str(&humantime::format_rfc3339_millis(at).to_string());
        out.push(' ');
    }
    out.push_str(&line.tag);
    out.push_str(" | ");
    out.push_str(&line.text);
    out
}

/// Asks one daemon; the backlog and the connection for what follows.
async fn backlog(endpoint: &Endpoint, q: &Query, deadline: Duration) -> Result<(Client, Vec<OutputLine>), Failure> {
    let request = q.request();
    let asked = Client::connect_and_request_to(endpoint, &request, deadline);
    let (client, reply) = tokio::time::timeout(deadline, asked).await.map_err(|_| no_answer(deadline))??;
    match reply {
        Response::GroupLogs { lines, .. } => Ok((client, lines)),
        Response::Error(e) => Err(Failure { reason: e.message, details: e.details }),
        other => Err(Failure::new(format!("unexpected reply from the daemon: {other:?}"))),
    }
}

/// The next followed line; an error once the stream ends (the daemon
/// went away, or re-executes and says so).
async fn next_line(client: &mut Client) -> Result<OutputLine, Failure> {
    loop {
        match client.recv().await {
            Ok(Response::Output(line)) => return Ok(line),
            Ok(Response::Error(e)) => return Err(Failure::new(e.message)),
            Ok(_) => continue,
            Err(ClientError::Frame(_)) => return Err(Failure::new("daemon went away")),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Prints one line; false once stdout is closed (`| head`).
fn print(text: &str) -> bool {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").and_then(|()| out.flush()).is_ok()
}

/// `logs -g` against the local daemon.
pub async fn local(socket: &Path, q: Query, after: Duration) -> Result<(), Failure> {
    let (mut client, lines) = backlog(&Endpoint::Socket(socket.to_owned()), &q, after).await?;
    for line in &lines {
        if !print(&format_line(None, line, q.timestamps)) {
            return Ok(());
        }
    }
    if !q.follow {
        return Ok(());
    }
    loop {
        let line = next_line(&mut client).await?;
        if !print(&format_line(None, &line, q.timestamps)) {
            return Ok(());
        }
    }
}

/// What a host's task reports to the printer.
enum Item {
    Lines(usize, Vec<OutputLine>),
    Failed(usize, Missed),
}

/// `logs -g` on every host, through the fan-out window (a slot is held
/// until a host's backlog is in; a followed stream then holds none):
/// without `-f` the backlogs merged in time, with it each line as it
/// arrives; `-b` folds identical lines across hosts (`logs_fold`). With
/// two or more hosts stderr ends with the summary of what went wrong, as
/// every fleet command's does. Returns the exit status.
pub async fn fleet(hosts: &[String], endpoints: Vec<Endpoint>, q: Query, options: &Options) -> u8 {
    // Bounded: a host that talks faster than stdout drains waits.
    let (tx, mut rx) = mpsc::channel::<Item>(1024);
    for (i, endpoint) in endpoints.into_iter().enumerate() {
        let (tx, q, window, deadline) = (tx.clone(), q.clone(), options.window.clone(), options.deadline);
        tokio::spawn(async move {
            if let Err(m) = one_host(i, &window, &endpoint, &q, deadline, &tx).await {
                let _ = tx.send(Item::Failed(i, m)).await;
            }
        });
    }
    drop(tx);
    let printer = Printer { hosts, single: hosts.len() == 1, timestamps: q.timestamps, fold: options.fold };
    let mut answers: Vec<Answer> = hosts.iter().map(|_| Ok(String::new())).collect();
    let mut gathered: Vec<Vec<(usize, OutputLine)>> = Vec::new();
    let mut follower = Follower::default();
    loop {
        let due = follower.next_due();
        let item = tokio::select! {
            item = rx.recv() => item,
            () = sleep_until(due), if due.is_some() => {
                if !printer.folded(follower.due(Instant::now())) {
                    return 0;
                }
                continue;
            }
        };
        let Some(item) = item else { break };
        match item {
            Item::Lines(i, lines) if q.follow && options.fold => {
                let now = Instant::now();
                let forced: Vec<Folded> = lines.into_iter().filter_map(|line| follower.take(i, line, now)).collect();
                if !printer.folded(forced) {
                    return 0;
                }
            }
            Item::Lines(i, lines) if q.follow => {
                if !lines.iter().all(|line| printer.line(i, line)) {
                    return 0;
                }
            }
            Item::Lines(i, lines) => gathered.push(lines.into_iter().map(|l| (i, l)).collect()),
            Item::Failed(i, m) => {
                match printer.host(i) {
                    None => err(&format!("isinit: {}\n", m.failure)),
                    Some(h) => err(&error_lines(h, &m.failure)),
                }
                answers[i] = Err(m);
            }
        }
    }
    let merged = merge_by_time(gathered, |(_, l)| l.at_ms);
    let shown = q.lines as usize;
    if options.fold && !q.follow {
        let folded = fold_backlog(merged);
        let skip = folded.len().saturating_sub(shown);
        printer.folded(folded.into_iter().skip(skip).collect());
    } else if options.fold {
        printer.folded(follower.rest());
    } else {
        let skip = merged.len().saturating_sub(shown);
        for (i, line) in merged.iter().skip(skip) {
            if !printer.line(*i, line) {
                break;
            }
        }
    }
    err(&gather::summary(hosts, &answers));
    if answers.iter().all(Result::is_ok) { 0 } else { 1 }
}

/// Sleeps until `at` (never called without one).
async fn sleep_until(at: Option<Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at.into()).await;
    }
}

/// How lines of many hosts are printed.
struct Printer<'a> {
    hosts: &'a [String],
    single: bool,
    timestamps: bool,
    fold: bool,
}

impl Printer<'_> {
    /// The host's name before its lines; none with one host.
    fn host(&self, i: usize) -> Option<&str> {
        if self.single { None } else { self.hosts.get(i).map(String::as_str) }
    }

    /// One host's line; false once stdout is closed.
    fn line(&self, i: usize, line: &OutputLine) -> bool {
        print(&format_line(self.host(i), line, self.timestamps))
    }

    /// Folded lines, each after its set of hosts; false once stdout is closed.
    fn folded(&self, lines: Vec<Folded>) -> bool {
        debug_assert!(self.fold);
        lines.iter().all(|f| print(&format_line(Some(&f.prefix(self.hosts)), &f.line, self.timestamps)))
    }
}

async fn one_host(
    i: usize,
    window: &Window,
    endpoint: &Endpoint,
    q: &Query,
    deadline: Duration,
    tx: &mpsc::Sender<Item>,
) -> Result<(), Missed> {
    // A slot while the backlog comes; a followed stream then holds none
    // (hundreds of hosts can be followed), a one-shot one is closed first.
    let slot = window.slot().await;
    let (mut client, reply) = window.request(endpoint, &q.request(), deadline).await.map_err(missed)?;
    let lines = match reply {
        Response::GroupLogs { lines, .. } => lines,
        Response::Error(e) => return Err(failed(Failure { reason: e.message, details: e.details })),
        other => return Err(failed(Failure::new(format!("unexpected reply from the daemon: {other:?}")))),
    };
    if !q.follow {
        client.close().await;
        drop(slot);
        let _ = tx.send(Item::Lines(i, lines)).await;
        return Ok(());
    }
    drop(slot);
    if tx.send(Item::Lines(i, lines)).await.is_err() {
        return Ok(());
    }
    loop {
        let line = next_line(&mut client).await.map_err(failed)?;
        if tx.send(Item::Lines(i, vec![line])).await.is_err() {
            return Ok(());
        }
    }
}

/// A host that was reached but failed.
fn failed(failure: Failure) -> Missed {
    Missed { kind: Kind::Failed, failure }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_name_their_tag_then_their_host_and_time() {
        let line = OutputLine { tag: "cf".into(), at_ms: 1_000_000_000_123, text: "updated".into() };
        assert_eq!(format_line(None, &line, false), "cf | updated");
        assert_eq!(format_line(Some("web01"), &line, false), "web01 cf | updated");
        assert_eq!(format_line(Some("web01"), &line, true), "web01 2001-09-09T01:46:40.123Z cf | updated");
    }
}
