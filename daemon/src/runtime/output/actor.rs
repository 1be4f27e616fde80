//! The output actor: a thread of its own, with its own single-threaded
//! runtime, that owns every tag's [`TagOutput`] and is fed by inotify
//! events on the log directory, by requests from connection tasks, and by
//! the runtime's tag set. No lock is shared with anyone: the state lives in
//! this one loop, and others only ever hold a channel.

use super::by_tag::ByTag;
use super::space::SpaceWatch;
use super::tail::{CHUNK, Progress, TagOutput};
use super::{Capture, Request, TagSet, path_of};
use crate::runtime::spawn::tag_of_output;
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, InotifyEvent};
use std::collections::{BTreeSet, HashMap};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::PathBuf;
use tokio::io::unix::AsyncFd;
use tokio::sync::{mpsc, watch};

/// Bytes read from one tag before the others (and requests) get a turn.
const READ_BATCH: u64 = 1024 * 1024;
/// Most batches read from one tag before answering a request about it.
const CATCH_UP_BATCHES: usize = 8;
/// Most text one `logs` reply carries, well within a reply frame.
const REPLY_BUDGET: usize = 512 * 1024;

/// Starts the actor on its own thread.
pub(super) fn spawn(capture: Capture, requests: mpsc::Receiver<Request>) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    std::thread::Builder::new().name("isinit-output".into()).spawn(move || {
        // Signals go to the runtime's thread only (see `signals`).
        let _ = crate::runtime::signals::set_blocked(true);
        let actor = Actor::new(capture);
        runtime.block_on(actor.run(requests));
    })?;
    Ok(())
}

/// The actor's state. See the module documentation.
struct Actor {
    logdir: PathBuf,
    max_bytes: u64,
    tags: watch::Receiver<TagSet>,
    /// One entry per captured tag; no other tag is ever read.
    outputs: ByTag<TagOutput>,
    /// Offsets handed over by a previous daemon, used once per tag.
    positions: HashMap<String, u64>,
    /// Tags with output not read yet.
    pending: BTreeSet<String>,
    /// The one read buffer.
    buf: Vec<u8>,
    space: SpaceWatch,
}

impl Actor {
    fn new(capture: Capture) -> Actor {
        let mut actor = Actor {
            space: SpaceWatch::new(capture.logdir.clone(), capture.notices, capture.logdir_full),
            logdir: capture.logdir,
            max_bytes: capture.max_bytes,
            tags: capture.tags,
            outputs: ByTag::default(),
            positions: capture.positions.into_iter().collect(),
            pending: BTreeSet::new(),
            buf: vec![0; CHUNK],
        };
        actor.refresh_tags();
        actor
    }

    async fn run(mut self, mut requests: mpsc::Receiver<Request>) {
        let inotify = match watch_dir(&self.logdir) {
            Ok(fd) => Some(fd),
            Err(e) => {
                tracing::error!(
                    "cannot watch {} for output ({e}); `isinit logs` will only show what it reads on demand",
                    self.logdir.display()
                );
                None
            }
        };
        // Whatever was written before the watch began.
        self.pending.extend(self.outputs.keys().map(str::to_string));
        loop {
            tokio::select! {
                biased;
                request = requests.recv() => match request {
                    Some(request) => self.answer(request),
                    None => return,
                },
                changed = self.tags.changed() => match changed {
                    Ok(()) => self.refresh_tags(),
                    Err(_) => return,
                },
                events = next_events(inotify.as_ref()) => match events {
                    // Read at once: under a steady stream of events the
                    // branch below might never get its turn.
                    Ok(events) => {
                        self.woken(&events);
                        self.read_pending();
                    }
                    Err(e) => {
                        tracing::error!("output capture stopped watching {}: {e}", self.logdir.display());
                        return;
                    }
                },
                () = std::future::ready(()), if !self.pending.is_empty() => self.read_pending(),
            }
        }
    }

    fn answer(&mut self, request: Request) {
        // A reload may have changed the set since the last turn of the loop.
        if self.tags.has_changed().unwrap_or(false) {
            self.refresh_tags();
        }
        match request {
            Request::Tail { tag, n, reply } => {
                let lines = match self.catch_up(&tag) {
                    Some(out) => out.last(&tag, n, REPLY_BUDGET),
                    None => Vec::new(),
                };
                let _ = reply.send(lines);
            }
            Request::Follow { tag, n, reply } => {
                let followed = match self.catch_up(&tag) {
                    Some(out) => (out.last(&tag, n, REPLY_BUDGET), out.subscribe()),
                    // Not captured: nothing now, and a stream that ends.
                    None => (Vec::new(), tokio::sync::broadcast::channel(1).1),
                };
                let _ = reply.send(followed);
            }
            Request::Positions { reply } => {
                let _ = reply.send(self.outputs.iter().map(|(t, o)| (t.to_string(), o.offset)).collect());
            }
        }
    }

    /// Adopts the runtime's current tag set: tags that left it are dropped
    /// (their followers' streams end), new ones start near the end of
    /// their file.
    fn refresh_tags(&mut self) {
        let tags = self.tags.borrow_and_update().clone();
        self.pending.retain(|tag| tags.contains(tag));
        let (logdir, positions) = (&self.logdir, &mut self.positions);
        let came =
            self.outputs.follow(&tags, |tag| TagOutput::starting_at(&path_of(logdir, tag), positions.remove(tag)));
        self.pending.extend(came.into_iter().map(str::to_string));
    }

    /// Marks the tags whose files changed; unknown files are ignored.
    fn woken(&mut self, events: &[InotifyEvent]) {
        if events.iter().any(|e| e.mask.contains(AddWatchFlags::IN_Q_OVERFLOW)) {
            self.pending.extend(self.outputs.keys().map(str::to_string));
        }
        for e in events {
            if let Some(tag) = e.name.as_ref().and_then(|n| tag_of_output(n.to_str()?))
                && self.outputs.contains_key(&tag)
            {
                self.pending.insert(tag);
            }
        }
        self.space.check();
    }

    /// Reads a batch of every pending tag; tags with more stay pending.
    fn read_pending(&mut self) {
        for tag in std::mem::take(&mut self.pending) {
            if self.read(&tag, READ_BATCH) == Progress::More {
                self.pending.insert(tag);
            }
        }
    }

    /// Reads `tag` to the end of its file (a bounded amount: see
    /// `tail.rs`) before answering about it; `None` if it is not captured.
    fn catch_up(&mut self, tag: &str) -> Option<&mut TagOutput> {
        if !self.outputs.contains_key(tag) {
            return None;
        }
        // Bounded too: a writer faster than the reader is left for later.
        let mut more = false;
        for _ in 0..CATCH_UP_BATCHES {
            more = self.read(tag, READ_BATCH) == Progress::More;
            if !more {
                break;
            }
        }
        if more {
            self.pending.insert(tag.to_string());
        } else {
            self.pending.remove(tag);
        }
        self.outputs.get_mut(tag)
    }

    /// Reads up to `budget` bytes of `tag`, then rotates its file if it
    /// has been read to its end and is over the size limit.
    fn read(&mut self, tag: &str, budget: u64) -> Progress {
        let path = path_of(&self.logdir, tag);
        let Some(out) = self.outputs.get_mut(tag) else { return Progress::AtEnd };
        let progress = out.read_new(tag, &path, &mut self.buf, budget);
        if progress == Progress::AtEnd && std::fs::metadata(&path).is_ok_and(|m| m.len() > self.max_bytes) {
            out.rotate(tag, &path, &mut self.buf);
        }
        progress
    }
}

/// Watches `dir` for writes to any file in it.
fn watch_dir(dir: &std::path::Path) -> std::io::Result<AsyncFd<InotifyFd>> {
    std::fs::create_dir_all(dir)?;
    let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)?;
    inotify.add_watch(dir, AddWatchFlags::IN_MODIFY)?;
    // SAFETY: `InotifyFd` owns the descriptor for the AsyncFd's whole
    // life and always returns the same one.
    unsafe { AsyncFd::register(InotifyFd(inotify)) }.map_err(std::io::Error::from)
}

/// The next batch of inotify events; never resolves without a watch.
async fn next_events(fd: Option<&AsyncFd<InotifyFd>>) -> std::io::Result<Vec<InotifyEvent>> {
    let Some(fd) = fd else { return std::future::pending().await };
    loop {
        let mut guard = fd.readable().await?;
        match guard.try_io(|i| i.get_ref().0.read_events().map_err(std::io::Error::from)) {
            Ok(result) => return result,
            Err(_would_block) => continue,
        }
    }
}

/// Lends the inotify descriptor to tokio's reactor.
struct InotifyFd(Inotify);

impl AsRawFd for InotifyFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}
