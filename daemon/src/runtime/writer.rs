//! A small file kept current by a thread of its own: the state file and
//! the status file (SPEC §15: no file-system write runs on the
//! supervisor's thread).
//!
//! A disk can hang — an NFS server that stopped answering, a stalled FUSE
//! mount — and a write to it then blocks in the kernel until the disk
//! comes back. Only this thread waits; the runtime hands it contents and
//! never blocks. The hand-over is one slot (a `watch` channel), not a
//! queue: a content handed over while the thread is still writing the
//! previous one replaces any content not taken yet, so a hung disk holds
//! at most one content in memory, and when it answers again the newest
//! content is written next — never an older one after a newer.
//!
//! Every content gets a number (its [`Ticket`]); the thread says which
//! number it last finished and how that went, so whoever must know that
//! a content is on disk (a tell's reply, SPEC §10) waits for its number
//! — for at most a bound it chooses, in an async task, never blocking.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Makes a content's bytes on the writer thread (see [`FileWriter::make`]).
type Maker = Arc<dyn Fn(bool) -> Result<Option<Vec<u8>>, String> + Send + Sync>;

/// What the file should be.
#[derive(Clone)]
enum Content {
    /// These bytes, put in place atomically.
    Bytes(Arc<[u8]>),
    /// The bytes this makes, on the writer thread, and only if no newer
    /// content replaced it before it was taken.
    Made(Maker),
    /// No file.
    Removed,
}

/// The slot: the newest content handed over, with its number (0: none).
#[derive(Clone, Default)]
struct Wanted {
    number: u64,
    content: Option<Content>,
}

/// What the thread last finished: the content numbered `number`, or one
/// newer that replaced it before it was taken.
#[derive(Clone, Default)]
struct Finished {
    number: u64,
    /// Why that content is not on disk, if it is not.
    error: Option<String>,
}

/// The number of a content handed to a [`FileWriter`], to wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ticket(u64);

/// Why a content is not on disk (yet).
#[derive(Debug, Clone, thiserror::Error)]
pub enum NotWritten {
    /// The write failed (the next content is tried again).
    #[error("{0}")]
    Failed(String),
    /// The write did not finish within the bound: the disk does not
    /// answer. The thread goes on trying; the content (or a newer one)
    /// is written once the disk answers.
    #[error(
        "{what} {path} not written within {waited:?} (its file system does not answer); it is written once it does"
    )]
    Late {
        /// "state file" or "status file".
        what: &'static str,
        /// The file.
        path: String,
        /// The bound waited.
        waited: Duration,
    },
    /// The thread is gone (it cannot be, short of a panic in it).
    #[error("the {0} writer is gone")]
    Gone(&'static str),
}

/// Writes (or removes) the file, on the writer thread; replaced in tests.
pub(super) type Sink = Box<dyn FnMut(Option<&[u8]>) -> std::io::Result<()> + Send>;

/// The runtime's handle on one file's writer thread. See the module
/// documentation.
pub struct FileWriter {
    what: &'static str,
    path: PathBuf,
    wanted: watch::Sender<Wanted>,
    finished: watch::Receiver<Finished>,
}

impl FileWriter {
    /// Starts the thread that writes `path` (`what` names it in messages:
    /// "state file").
    pub fn start(what: &'static str, path: PathBuf) -> std::io::Result<FileWriter> {
        let target = path.clone();
        let sink: Sink = Box::new(move |content| match content {
            Some(bytes) => super::replace::replace_file(&target, bytes),
            None => match std::fs::remove_file(&target) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                other => other,
            },
        });
        FileWriter::with_sink(what, path, sink)
    }

    /// [`FileWriter::start`] with `sink` doing the writing.
    pub(super) fn with_sink(what: &'static str, path: PathBuf, sink: Sink) -> std::io::Result<FileWriter> {
        let (wanted, slot) = watch::channel(Wanted::default());
        let (done, finished) = watch::channel(Finished::default());
        let shown = path.display().to_string();
        let name = format!("isinit-{}", what.split(' ').next().unwrap_or("file"));
        std::thread::Builder::new().name(name).spawn(move || {
            // Signals go to the runtime's thread only (see `signals`).
            let _ = super::signals::set_blocked(true);
            write_loop(what, &shown, slot, &done, sink);
        })?;
        Ok(FileWriter { what, path, wanted, finished })
    }

    /// Hands `bytes` over; returns at once.
    pub fn write(&self, bytes: Vec<u8>) -> Ticket {
        self.hand_over(Content::Bytes(bytes.into()))
    }

    /// Hands over a content whose bytes `make` makes on the writer
    /// thread; returns at once. For a file whose encoding grows with the
    /// daemon (the state file: one record per process, issue 22): the
    /// runtime does not spend that time, and a content replaced before
    /// the thread took it is never encoded at all. An encoding error is
    /// reported like a failed write.
    ///
    /// `make(true)` is told that the file holds what the last `make` of
    /// this writer returned, and may answer `None`: nothing new, nothing
    /// written. The maker knows what changed; the thread takes no digest
    /// of made contents (a megabyte's SHA-256 per tell at 10,000 entries).
    pub fn make(&self, make: impl Fn(bool) -> Result<Option<Vec<u8>>, String> + Send + Sync + 'static) -> Ticket {
        self.hand_over(Content::Made(Arc::new(make)))
    }

    /// Hands over the file's removal; returns at once.
    pub fn remove(&self) -> Ticket {
        self.hand_over(Content::Removed)
    }

    /// The newest content handed over so far, to wait for everything.
    pub fn latest(&self) -> Ticket {
        Ticket(self.wanted.borrow().number)
    }

    fn hand_over(&self, content: Content) -> Ticket {
        let mut number = 0;
        self.wanted.send_modify(|w| {
            w.number += 1;
            w.content = Some(content);
            number = w.number;
        });
        Ticket(number)
    }

    /// Resolves once the content of `ticket` (or a newer one) is written,
    /// or after `within` at the latest. Holds no borrow of the writer, so
    /// a spawned task can wait while the runtime goes on.
    pub fn written(&self, ticket: Ticket, within: Duration) -> impl Future<Output = Result<(), NotWritten>> + use<> {
        let mut finished = self.finished.clone();
        let (what, path) = (self.what, self.path.display().to_string());
        async move {
            let waited = tokio::time::timeout(within, finished.wait_for(|f| f.number >= ticket.0)).await;
            match waited {
                Ok(Ok(f)) => f.error.clone().map_or(Ok(()), |e| Err(NotWritten::Failed(e))),
                Ok(Err(_)) => Err(NotWritten::Gone(what)),
                Err(_) => Err(NotWritten::Late { what, path, waited: within }),
            }
        }
    }
}

/// The thread: takes the newest content from the slot, writes it, says so.
fn write_loop(
    what: &str,
    path: &str,
    mut slot: watch::Receiver<Wanted>,
    done: &watch::Sender<Finished>,
    mut sink: Sink,
) {
    // What the file holds as far as this thread wrote it: the same bytes
    // again (the group-change save right after a tell) are not rewritten.
    // A digest, not a copy: the state file of 10,000 processes is
    // megabytes the daemon would otherwise keep twice (issue 22).
    let mut in_place: Option<InPlace> = None;
    // Said once per run of failures, and once when writing works again.
    let mut failing = false;
    while futures::executor::block_on(slot.changed()).is_ok() {
        let Wanted { number, content } = slot.borrow_and_update().clone();
        let Some(content) = content else { continue };
        let result = match content {
            Content::Bytes(bytes) => put(&bytes, &mut in_place, &mut sink),
            Content::Made(make) => match make(in_place == Some(InPlace::Made)) {
                Err(e) => Err(std::io::Error::other(e)),
                Ok(None) => Ok(()),
                Ok(Some(bytes)) => {
                    let result = sink(Some(&bytes));
                    in_place = result.is_ok().then_some(InPlace::Made);
                    result
                }
            },
            Content::Removed => {
                in_place = None;
                sink(None)
            }
        };
        let error = match result {
            Ok(()) => {
                if std::mem::take(&mut failing) {
                    tracing::info!("{what} {path} written again");
                }
                None
            }
            Err(e) => {
                let error = format!("cannot write {what} {path}: {e}");
                if std::mem::replace(&mut failing, true) {
                    tracing::debug!("still {error}");
                } else {
                    tracing::warn!("{error}; supervision goes on, and the file is written again once possible");
                }
                Some(error)
            }
        };
        done.send_replace(Finished { number, error });
    }
}

/// What the file holds, as far as the thread knows.
#[derive(Debug, PartialEq, Eq)]
enum InPlace {
    /// Bytes handed over, by their length and SHA-256.
    Bytes(usize, [u8; 32]),
    /// What the last maker made.
    Made,
}

/// Writes `bytes` unless the file already holds them.
fn put(bytes: &[u8], in_place: &mut Option<InPlace>, sink: &mut Sink) -> std::io::Result<()> {
    use sha2::Digest;
    let these = InPlace::Bytes(bytes.len(), sha2::Sha256::digest(bytes).into());
    if in_place.as_ref() == Some(&these) {
        return Ok(());
    }
    let result = sink(Some(bytes));
    *in_place = result.is_ok().then_some(these);
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// A sink that records what it is given and blocks on the first
    /// write until released: a hung disk.
    fn hung_sink() -> (Sink, mpsc::Receiver<Option<Vec<u8>>>, mpsc::SyncSender<()>) {
        let (seen_tx, seen) = mpsc::channel();
        let (release, released) = mpsc::sync_channel::<()>(1);
        let mut first = true;
        let sink: Sink = Box::new(move |content| {
            let _ = seen_tx.send(content.map(<[u8]>::to_vec));
            if std::mem::take(&mut first) {
                let _ = released.recv();
            }
            Ok(())
        });
        (sink, seen, release)
    }

    #[tokio::test]
    async fn a_hung_disk_holds_one_content_and_the_newest_is_written_next() {
        let (sink, seen, release) = hung_sink();
        let writer = FileWriter::with_sink("state file", PathBuf::from("/hung/state"), sink).unwrap();
        let first = writer.write(b"0".to_vec());
        assert_eq!(seen.recv_timeout(Duration::from_secs(10)).unwrap(), Some(b"0".to_vec()), "the write began");
        // The disk hangs: a thousand contents queue up as one.
        let mut last = first;
        for i in 1..=1000 {
            last = writer.write(format!("{i}").into_bytes());
        }
        let late = writer.written(last, Duration::from_millis(50)).await;
        assert!(matches!(late, Err(NotWritten::Late { .. })), "{late:?}");
        release.send(()).unwrap();
        writer.written(last, Duration::from_secs(10)).await.unwrap();
        writer.written(first, Duration::from_secs(10)).await.unwrap();
        let after: Vec<_> = seen.try_iter().collect();
        assert_eq!(after, [Some(b"1000".to_vec())], "only the newest, nothing older after it");
    }

    #[tokio::test]
    async fn an_older_content_never_overwrites_a_newer_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        let writer = FileWriter::start("state file", path.clone()).unwrap();
        for i in 0..200 {
            let ticket = writer.write(format!("{i}").into_bytes());
            if i % 7 == 0 {
                writer.written(ticket, Duration::from_secs(10)).await.unwrap();
                assert_eq!(std::fs::read(&path).unwrap(), format!("{i}").as_bytes());
            }
        }
        writer.written(writer.latest(), Duration::from_secs(10)).await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"199");
        let removed = writer.remove();
        writer.written(removed, Duration::from_secs(10)).await.unwrap();
        assert!(!path.exists());
    }

    #[tokio::test]
    async fn a_failed_write_is_said_to_the_waiter() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, b"").unwrap(); // a file where the directory goes
        let writer = FileWriter::start("state file", file.join("state")).unwrap();
        let ticket = writer.write(b"x".to_vec());
        let failed = writer.written(ticket, Duration::from_secs(10)).await;
        assert!(matches!(&failed, Err(NotWritten::Failed(e)) if e.contains("cannot write state file")), "{failed:?}");
    }

    /// A maker may say "nothing new" only while the file holds what it
    /// made last: after a failed write it is asked for its bytes again.
    #[tokio::test]
    async fn a_maker_is_asked_for_its_bytes_again_after_a_failed_write() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let writes = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&writes);
        let sink: Sink = Box::new(move |_| match counted.fetch_add(1, Ordering::SeqCst) {
            0 => Err(std::io::Error::other("disk full")),
            _ => Ok(()),
        });
        let writer = FileWriter::with_sink("state file", PathBuf::from("/state"), sink).unwrap();
        let same = || |in_place: bool| Ok((!in_place).then(|| b"lines".to_vec()));
        let wait = |ticket| writer.written(ticket, Duration::from_secs(10));
        assert!(matches!(wait(writer.make(same())).await, Err(NotWritten::Failed(_))));
        wait(writer.make(same())).await.unwrap();
        assert_eq!(writes.load(Ordering::SeqCst), 2, "not written again after the failure");
        wait(writer.make(same())).await.unwrap();
        assert_eq!(writes.load(Ordering::SeqCst), 2, "written again though nothing changed");
        wait(writer.write(b"other".to_vec())).await.unwrap();
        wait(writer.make(same())).await.unwrap();
        assert_eq!(writes.load(Ordering::SeqCst), 4, "another content was in place");
    }
}
