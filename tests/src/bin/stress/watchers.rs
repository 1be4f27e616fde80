//! What stays attached throughout the load: subscribers, which fold every
//! update into their own snapshot, and `logs -f` followers.

use isinit_client::{Client, ClientError};
use isinit_shared::protocol::{ErrorKind, Request, Response, Snapshot};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::watch;

/// How long a watcher keeps trying to reconnect to a daemon that went away.
const RECONNECT_DEADLINE: Duration = Duration::from_secs(60);

/// What one subscriber ends with.
#[derive(Debug, Default)]
pub struct SubscriberReport {
    /// Its state at the end, built from the snapshot and the updates.
    pub snapshot: Option<Snapshot>,
    /// Updates folded in.
    pub updates: u64,
    /// Fresh snapshots after the first (the daemon resynchronises a
    /// subscriber that fell behind, or after a new isinittab).
    pub resyncs: u64,
    /// Updates whose sequence number did not follow the last one: an
    /// update lost without a resync.
    pub gaps: Vec<String>,
    /// Connections opened again after the daemon went away.
    pub reconnects: u64,
    /// Why it stopped before being asked to, if it did.
    pub error: Option<String>,
}

/// Subscribes and folds updates until `stop` turns true; publishes the
/// sequence number it has reached on `seq`.
pub async fn subscriber(socket: PathBuf, mut stop: watch::Receiver<bool>, seq: watch::Sender<u64>) -> SubscriberReport {
    let mut report = SubscriberReport::default();
    let mut first = true;
    'connect: loop {
        let mut client = match connect(&socket, &mut stop).await {
            Ok(Some(c)) => c,
            Ok(None) => return report,
            Err(e) => {
                report.error = Some(e);
                return report;
            }
        };
        if let Err(e) = client.send(&Request::Subscribe).await {
            report.error = Some(format!("cannot subscribe: {e}"));
            return report;
        }
        loop {
            let message = tokio::select! {
                m = client.recv() => m,
                _ = stop.wait_for(|s| *s) => return report,
            };
            match message {
                Ok(Response::Snapshot(s)) => {
                    if !std::mem::take(&mut first) {
                        report.resyncs += 1;
                    }
                    seq.send_replace(s.seq);
                    report.snapshot = Some(*s);
                }
                Ok(Response::Update(u)) => {
                    let Some(snap) = report.snapshot.as_mut() else {
                        report.error = Some("an update before the first snapshot".into());
                        return report;
                    };
                    if u.seq != snap.seq + 1 {
                        report.gaps.push(format!("update {} after {}", u.seq, snap.seq));
                    }
                    snap.apply(&u);
                    report.updates += 1;
                    seq.send_replace(snap.seq);
                }
                // A stream the daemon ends (`reexec`: "daemon re-executing;
                // reconnect") is picked up again, as the console does.
                Ok(Response::Error(e)) if e.kind == ErrorKind::Rejected => {
                    report.reconnects += 1;
                    continue 'connect;
                }
                Ok(other) => {
                    report.error = Some(format!("unexpected message on a subscription: {other:?}"));
                    return report;
                }
                Err(_) => {
                    // The daemon went away (re-exec, restart): subscribe again.
                    report.reconnects += 1;
                    continue 'connect;
                }
            }
        }
    }
}

/// What one `logs -f` follower ends with.
#[derive(Debug, Default)]
pub struct FollowerReport {
    /// The tag followed.
    pub tag: String,
    /// Lines of the backlog and new lines received.
    pub lines: u64,
    /// Connections opened again after the daemon went away.
    pub reconnects: u64,
    /// Why it stopped before being asked to, if it did.
    pub error: Option<String>,
}

/// Follows `tag`'s output until `stop` turns true.
pub async fn follower(socket: PathBuf, tag: String, mut stop: watch::Receiver<bool>) -> FollowerReport {
    let mut report = FollowerReport { tag: tag.clone(), ..FollowerReport::default() };
    'connect: loop {
        let mut client = match connect(&socket, &mut stop).await {
            Ok(Some(c)) => c,
            Ok(None) => return report,
            Err(e) => {
                report.error = Some(e);
                return report;
            }
        };
        let request = Request::Logs { tag: tag.clone(), lines: 10, follow: true };
        if let Err(e) = client.send(&request).await {
            report.error = Some(format!("cannot follow {tag}: {e}"));
            return report;
        }
        loop {
            let message = tokio::select! {
                m = client.recv() => m,
                _ = stop.wait_for(|s| *s) => return report,
            };
            match message {
                Ok(Response::Logs { lines, .. }) => report.lines += lines.len() as u64,
                Ok(Response::Output(_)) => report.lines += 1,
                Ok(Response::Error(e)) if e.kind == ErrorKind::Rejected => {
                    report.reconnects += 1;
                    continue 'connect;
                }
                Ok(Response::Error(e)) => {
                    report.error = Some(format!("logs -f {tag}: {}", e.message));
                    return report;
                }
                Ok(other) => {
                    report.error = Some(format!("unexpected message while following: {other:?}"));
                    return report;
                }
                Err(_) => {
                    report.reconnects += 1;
                    continue 'connect;
                }
            }
        }
    }
}

/// Connects, retrying while the daemon is away; `None` if asked to stop.
async fn connect(socket: &Path, stop: &mut watch::Receiver<bool>) -> Result<Option<Client>, String> {
    let deadline = tokio::time::Instant::now() + RECONNECT_DEADLINE;
    loop {
        if *stop.borrow() {
            return Ok(None);
        }
        match Client::connect(socket).await {
            Ok(c) => return Ok(Some(c)),
            Err(e @ (ClientError::VersionMismatch { .. } | ClientError::PermissionDenied { .. })) => {
                return Err(e.to_string());
            }
            Err(e) if tokio::time::Instant::now() > deadline => return Err(format!("cannot reconnect: {e}")),
            Err(_) => {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(20)) => {}
                    _ = stop.wait_for(|s| *s) => return Ok(None),
                }
            }
        }
    }
}
