//! Each process's output (SPEC §6): kept on disk under the log directory
//! with size-bounded rotation, and its recent lines in memory for `logs`,
//! `logs -f` and the console.
//!
//! Children write directly into `LOGDIR/TAG.log` (see `spawn.rs`). Output
//! capture is an **actor** (`actor.rs`): one thread of its own owns every
//! tag's state and is the only code that reads, rotates or even stats those
//! files. It is woken by inotify on the directory — no polling — and
//! answers `logs` requests by message, so neither the supervisor's task nor
//! a connection task ever waits for the disk or for a lock: a slow disk or
//! a tag writing megabytes a second delays only other `logs` replies.
//!
//! Everything it holds is bounded: only the tags the daemon knows are
//! captured (the runtime sends the set on start and on every reload, and
//! tags that left it are dropped), each keeps [`LINES_KEPT`] lines of at
//! most 4 KiB, and files are read in bounded chunks (`tail.rs`).
//!
//! Rotation (`rotate.rs`) keeps each file under the size limit without
//! disturbing the children, who keep their `O_APPEND` descriptors.

mod actor;
mod by_tag;
mod rotate;
pub(crate) mod space;
mod tail;

use crate::runtime::Command;
use isinit_shared::protocol::OutputLine;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

/// Lines kept in memory per tag (SPEC asks for at least 200).
pub const LINES_KEPT: usize = 500;

/// The tags whose output is captured: every entry of the isinittab and
/// every live record. The runtime publishes it; the actor follows it.
pub type TagSet = Arc<BTreeSet<String>>;

/// Requests queued for the actor before senders wait. Each connection has
/// at most one outstanding, so this is never the bound that matters.
const REQUEST_QUEUE: usize = 256;

/// What the actor is asked.
enum Request {
    /// The last `n` lines of a tag.
    Tail { tag: String, n: usize, reply: oneshot::Sender<Vec<OutputLine>> },
    /// The last `n` lines and every later one.
    Follow { tag: String, n: usize, reply: oneshot::Sender<Followed> },
    /// How far each tag's file has been read.
    Positions { reply: oneshot::Sender<Vec<(String, u64)>> },
}

/// The recent lines of a followed tag, and a receiver of every later line,
/// with no gap between them.
pub type Followed = (Vec<OutputLine>, broadcast::Receiver<OutputLine>);

/// Where the actor reads and what it may tell the runtime.
pub struct Capture {
    /// The log directory.
    pub logdir: PathBuf,
    /// A tag's file is rotated past this size.
    pub max_bytes: u64,
    /// The tags to capture, kept current by the runtime.
    pub tags: watch::Receiver<TagSet>,
    /// Where the actor sends notices (the log directory is full, or has
    /// room again) for the status snapshot and the console.
    pub notices: mpsc::Sender<Command>,
    /// Read offsets to resume from (a daemon handing over to its
    /// successor); tags not listed start near the end of their file.
    pub positions: Vec<(String, u64)>,
    /// Whether the log directory is full, kept current for the node's
    /// health (`node_health`), which so never polls the disk itself.
    pub logdir_full: watch::Sender<bool>,
}

/// Handle on the output actor; cheap to clone, one per connection task.
#[derive(Clone)]
pub struct OutputHub {
    requests: mpsc::Sender<Request>,
}

impl OutputHub {
    /// Starts the actor on a thread of its own and returns its handle.
    pub fn start(capture: Capture) -> std::io::Result<OutputHub> {
        let (requests, rx) = mpsc::channel(REQUEST_QUEUE);
        actor::spawn(capture, rx)?;
        Ok(OutputHub { requests })
    }

    /// The last `n` lines of `tag`, read up to the end of its file first.
    /// Empty for a tag that is not captured, or once the actor is gone.
    pub async fn tail(&self, tag: &str, n: usize) -> Vec<OutputLine> {
        self.ask(|reply| Request::Tail { tag: tag.to_string(), n, reply }).await.unwrap_or_default()
    }

    /// The last `n` lines of `tag` and a receiver of every later line.
    /// The receiver closes when the tag stops being captured or the actor
    /// is gone.
    pub async fn follow(&self, tag: &str, n: usize) -> Followed {
        match self.ask(|reply| Request::Follow { tag: tag.to_string(), n, reply }).await {
            Some(followed) => followed,
            None => (Vec::new(), broadcast::channel(1).1),
        }
    }

    /// Each captured tag's read offset in its file, so that a successor
    /// daemon resumes where this one stopped ([`Capture::positions`]).
    pub async fn positions(&self) -> Vec<(String, u64)> {
        self.ask(|reply| Request::Positions { reply }).await.unwrap_or_default()
    }

    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Request) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        self.requests.send(make(tx)).await.ok()?;
        rx.await.ok()
    }
}

/// The file a tag's output goes to, for a log directory.
fn path_of(logdir: &Path, tag: &str) -> PathBuf {
    crate::runtime::spawn::output_path(logdir, tag)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::broadcast::error::RecvError;

    fn texts(lines: Vec<OutputLine>) -> Vec<String> {
        lines.into_iter().map(|l| l.text).collect()
    }

    #[tokio::test]
    async fn only_the_given_tags_are_captured_and_pruned_tags_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.log"), "one\ntwo\n").unwrap();
        std::fs::write(dir.path().join("b.log"), "stray\n").unwrap();
        let (tags_tx, tags) = watch::channel(Arc::new(BTreeSet::from(["a".to_string()])));
        let (notices, _notices_rx) = mpsc::channel(8);
        let hub = OutputHub::start(Capture {
            logdir: dir.path().to_owned(),
            max_bytes: 1 << 20,
            tags,
            notices,
            positions: vec![("a".to_string(), 4)],
            logdir_full: watch::channel(false).0,
        })
        .unwrap();
        assert_eq!(texts(hub.tail("a", 10).await), ["one", "two"]);
        assert!(hub.tail("b", 10).await.is_empty(), "b is not a tag of the daemon");
        assert_eq!(hub.positions().await, [("a".to_string(), 8)]);

        let (_, mut follower) = hub.follow("a", 0).await;
        tags_tx.send_replace(Arc::new(BTreeSet::from(["b".to_string()])));
        assert!(hub.tail("a", 10).await.is_empty(), "a was pruned");
        assert_eq!(follower.recv().await, Err(RecvError::Closed), "a's followers end");
        assert_eq!(texts(hub.tail("b", 10).await), ["stray"]);
        assert_eq!(hub.positions().await, [("b".to_string(), 6)]);
    }

    #[tokio::test]
    async fn a_handed_over_position_resumes_reading_and_is_clamped() {
        let dir = tempfile::tempdir().unwrap();
        // 200 KiB already read by a previous daemon, then two new lines.
        let mut text = "old\n".repeat(50 * 1024);
        let read = text.len() as u64;
        text.push_str("new1\nnew2\n");
        std::fs::write(dir.path().join("t.log"), &text).unwrap();
        let (_tags_tx, tags) = watch::channel(Arc::new(BTreeSet::from(["t".to_string()])));
        let (notices, _notices_rx) = mpsc::channel(8);
        let capture = |positions| Capture {
            logdir: dir.path().to_owned(),
            max_bytes: 1 << 30,
            tags: tags.clone(),
            notices: notices.clone(),
            positions,
            logdir_full: watch::channel(false).0,
        };
        // Resumed: the lines after the position are read, with history.
        let hub = OutputHub::start(capture(vec![("t".to_string(), read)])).unwrap();
        let lines = texts(hub.tail("t", LINES_KEPT).await);
        assert_eq!(lines[lines.len() - 2..], ["new1", "new2"]);
        assert_eq!(hub.positions().await, [("t".to_string(), text.len() as u64)]);
        // A position past the end (the file was truncated since) is clamped.
        let hub = OutputHub::start(capture(vec![("t".to_string(), u64::MAX)])).unwrap();
        assert_eq!(texts(hub.tail("t", 1).await), ["new2"]);
    }
}
