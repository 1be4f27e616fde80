//! `logs -g GROUP [-n N] [-f] [--since D]`: the output of every tag of a
//! group interleaved in time order (SPEC §19), then with follow every new
//! line of any of them until the client goes away.
//!
//! The tags are the group's at the moment of asking. Following merges the
//! tags' streams through one bounded channel fed by one small task per
//! tag; the tasks end with the connection.

use super::{Context, ask, exiting};
use crate::runtime::Command;
use crate::server::connection::Conn;
use isinit_shared::protocol::group_logs::{MERGED_BUDGET, last_lines, merge_by_time};
use isinit_shared::protocol::{ErrorKind, ErrorReply, OutputLine, Response};
use isinit_shared::time::now_ms;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::task::JoinHandle;

/// Most lines one request may ask for: every tag's whole memory is at most
/// this many per tag, and a group's merged backlog is cut to a budget.
const MAX_LINES: u32 = 10 * crate::runtime::output::LINES_KEPT as u32;
/// Merged lines a follower may fall behind before it is told it missed some.
const FOLLOW_BUFFER: usize = 1024;

/// What the handler was asked.
pub struct Asked {
    /// The group.
    pub group: String,
    /// How many lines of backlog.
    pub lines: u32,
    /// Whether to stream new lines.
    pub follow: bool,
    /// Only lines read at most this many ms ago.
    pub since_ms: Option<u64>,
}

pub async fn handle(ctx: &Context, mut conn: Conn, asked: Asked) {
    let Some(snapshot) = ask(ctx, |reply| Command::Status { reply }).await else {
        let _ = conn.send(&exiting()).await;
        return;
    };
    let group = asked.group;
    let tags: Vec<String> = snapshot.processes.iter().filter(|p| p.group == group).map(|p| p.tag.clone()).collect();
    if tags.is_empty() && snapshot.group(&group).is_none() {
        let e = ErrorReply::new(ErrorKind::NoSuchGroup, format!("no such group: {group}"));
        let _ = conn.send(&Response::Error(e)).await;
        return;
    }
    let n = asked.lines.min(MAX_LINES) as usize;
    let since = asked.since_ms.map(|ago| now_ms().saturating_sub(ago));
    if !asked.follow {
        let mut lists = Vec::with_capacity(tags.len());
        for tag in &tags {
            lists.push(ctx.output.tail(tag, n).await);
        }
        let lines = last_lines(merge_by_time(lists, |l| l.at_ms).iter(), n, since, MERGED_BUDGET);
        let _ = conn.send(&Response::GroupLogs { group, lines }).await;
        return;
    }
    let Ok(_stream) = ctx.streams.clone().try_acquire_owned() else { return };
    let (merged, mut rx) = broadcast::channel::<OutputLine>(FOLLOW_BUFFER);
    let mut lists = Vec::with_capacity(tags.len());
    let mut forwarders = Forwarders(Vec::with_capacity(tags.len()));
    for tag in &tags {
        let (lines, tag_rx) = ctx.output.follow(tag, n).await;
        lists.push(lines);
        forwarders.0.push(tokio::spawn(forward(tag.clone(), tag_rx, merged.clone())));
    }
    // Only the forwarders hold senders now: when every tag's stream has
    // closed, the merged one closes too.
    drop(merged);
    let lines = last_lines(merge_by_time(lists, |l| l.at_ms).iter(), n, since, MERGED_BUDGET);
    if conn.send(&Response::GroupLogs { group: group.clone(), lines }).await.is_err() {
        return;
    }
    let mut exiting = ctx.exiting.clone();
    while let Some(item) = conn.next_for(&mut rx, &mut exiting).await {
        let line = item.unwrap_or_else(|missed| skipped(&group, missed));
        if conn.send(&Response::Output(line)).await.is_err() {
            return;
        }
    }
    conn.end_stream().await;
}

/// Passes one tag's new lines on to the merged stream.
async fn forward(tag: String, mut from: broadcast::Receiver<OutputLine>, to: broadcast::Sender<OutputLine>) {
    loop {
        let line = match from.recv().await {
            Ok(line) => line,
            Err(RecvError::Lagged(missed)) => skipped(&tag, missed),
            Err(RecvError::Closed) => return,
        };
        if to.send(line).is_err() {
            return; // the follower is gone
        }
    }
}

/// What a follower that fell behind is told in place of the lines.
fn skipped(tag: &str, missed: u64) -> OutputLine {
    OutputLine {
        tag: tag.to_string(),
        at_ms: now_ms(),
        text: format!("[isinit: {missed} lines skipped: client too slow]"),
    }
}

/// The forwarding tasks of one follower, stopped when it goes.
struct Forwarders(Vec<JoinHandle<()>>);

impl Drop for Forwarders {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}
