//! Each process's output (SPEC §6): kept on disk under the log directory
//! with size-bounded rotation, and its recent lines in memory for `logs`,
//! `logs -f` and the console.
//!
//! Children write directly into `LOGDIR/TAG.log` (see `spawn.rs`). This
//! module tails those files, woken by inotify on the directory — no polling.
//! A file that grows past the size limit is rotated without disturbing the
//! children, who keep their `O_APPEND` descriptors: the part already read
//! (whole filesystem blocks) is copied to `TAG.log.1` and cut from the head
//! of the file with `FALLOC_FL_COLLAPSE_RANGE`, which the kernel performs
//! under the inode lock, so no line is lost. On filesystems without it
//! (tmpfs) the file is copied and truncated instead, and lines written in
//! the instant between copy and truncate can be lost.

use super::spawn::{output_path, tag_of_output};
use isinit_shared::protocol::OutputLine;
use isinit_shared::time::now_ms;
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::io::unix::AsyncFd;
use tokio::sync::broadcast;

/// Lines kept in memory per tag (SPEC asks for at least 200).
pub const LINES_KEPT: usize = 500;
/// Longest line kept; longer ones are cut, so one runaway line cannot
/// bloat the daemon.
const MAX_LINE: usize = 4096;
/// How far back into an existing file the first read of a tag looks.
const SEED_BYTES: u64 = 64 * 1024;

/// Shared handle on the output of every tag.
#[derive(Clone)]
pub struct OutputHub {
    inner: Arc<Mutex<Inner>>,
    logdir: PathBuf,
    max_bytes: u64,
}

#[derive(Default)]
struct Inner {
    tags: HashMap<String, TagOutput>,
}

/// What is known of one tag's file.
struct TagOutput {
    /// How far the file has been read.
    offset: u64,
    /// Bytes after the last newline, waiting for the rest of their line.
    partial: Vec<u8>,
    /// Set when reading started mid-line: the first line read is a fragment.
    skip_fragment: bool,
    lines: VecDeque<OutputLine>,
    /// Live followers (`logs -f`, the console); created on first follow.
    follow: Option<broadcast::Sender<OutputLine>>,
}

impl OutputHub {
    /// A hub for files in `logdir`, rotating each past `max_bytes`.
    pub fn new(logdir: &Path, max_bytes: u64) -> OutputHub {
        OutputHub { inner: Arc::default(), logdir: logdir.to_owned(), max_bytes }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind; keep going.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The last `n` lines of `tag`, read up to the end of its file first.
    pub fn tail(&self, tag: &str, n: usize) -> Vec<OutputLine> {
        let mut inner = self.lock();
        self.catch_up(&mut inner, tag).last(n)
    }

    /// The last `n` lines and a receiver of every later line, with no gap
    /// between them.
    pub fn follow(&self, tag: &str, n: usize) -> (Vec<OutputLine>, broadcast::Receiver<OutputLine>) {
        let mut inner = self.lock();
        let out = self.catch_up(&mut inner, tag);
        let rx = out.follow.get_or_insert_with(|| broadcast::channel(1024).0).subscribe();
        (out.last(n), rx)
    }

    /// Reads whatever is new in `tag`'s file.
    fn catch_up<'a>(&self, inner: &'a mut Inner, tag: &str) -> &'a mut TagOutput {
        let path = output_path(&self.logdir, tag);
        let out = inner.tags.entry(tag.to_string()).or_insert_with(|| TagOutput::seeded(&path));
        out.read_new(tag, &path, self.max_bytes);
        out
    }

    /// How far each tag's file has been read, for the image `reexec`
    /// starts.
    pub fn positions(&self) -> Vec<(String, u64)> {
        self.lock().tags.iter().map(|(tag, out)| (tag.clone(), out.offset)).collect()
    }

    /// Carries on reading each tag where a previous image left off (the
    /// recent history before that point is read again for `logs`).
    pub fn resume(&self, positions: &[(String, u64)]) {
        let mut inner = self.lock();
        for (tag, offset) in positions {
            let path = output_path(&self.logdir, tag);
            let out = TagOutput::seeded_before(&path, *offset);
            inner.tags.insert(tag.clone(), out);
        }
    }

    /// Follows the log directory until the daemon exits.
    pub async fn run(self) {
        if let Err(e) = self.watch().await {
            tracing::error!("output capture stopped: {e}; `isinit logs` will only show what it reads on demand");
        }
    }

    async fn watch(&self) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.logdir)?;
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)?;
        inotify.add_watch(&self.logdir, AddWatchFlags::IN_MODIFY)?;
        // SAFETY: `InotifyFd` owns the descriptor for the AsyncFd's whole
        // life and always returns the same one.
        let fd = unsafe { AsyncFd::register(InotifyFd(inotify)) }.map_err(std::io::Error::from)?;
        loop {
            let mut guard = fd.readable().await?;
            let events = match guard.try_io(|i| i.get_ref().0.read_events().map_err(std::io::Error::from)) {
                Ok(Ok(events)) => events,
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            };
            let overflow = events.iter().any(|e| e.mask.contains(AddWatchFlags::IN_Q_OVERFLOW));
            let mut tags: BTreeSet<String> =
                events.iter().filter_map(|e| tag_of_output(e.name.as_ref()?.to_str()?)).collect();
            let mut inner = self.lock();
            if overflow {
                tags.extend(inner.tags.keys().cloned());
            }
            for tag in tags {
                self.catch_up(&mut inner, &tag);
            }
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

impl TagOutput {
    /// The last `n` lines kept.
    fn last(&self, n: usize) -> Vec<OutputLine> {
        self.lines.iter().skip(self.lines.len().saturating_sub(n)).cloned().collect()
    }

    /// Starts near the end of an existing file so history survives a
    /// daemon restart without replaying megabytes.
    fn seeded(path: &Path) -> TagOutput {
        let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let start = len.saturating_sub(SEED_BYTES);
        TagOutput { offset: start, partial: Vec::new(), skip_fragment: start > 0, lines: VecDeque::new(), follow: None }
    }

    /// Starts [`SEED_BYTES`] before `offset` (or as [`TagOutput::seeded`]
    /// if the file is now shorter: it was rotated meanwhile).
    fn seeded_before(path: &Path, offset: u64) -> TagOutput {
        let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if len < offset {
            return TagOutput::seeded(path);
        }
        let start = offset.saturating_sub(SEED_BYTES);
        TagOutput { offset: start, partial: Vec::new(), skip_fragment: start > 0, lines: VecDeque::new(), follow: None }
    }

    fn read_new(&mut self, tag: &str, path: &Path, max_bytes: u64) {
        let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if len < self.offset {
            // Truncated behind our back (rotated by someone else): start over.
            self.offset = 0;
            self.partial.clear();
            self.skip_fragment = false;
        }
        if len > max_bytes {
            self.rotate(tag, path);
        } else {
            self.read_from(tag, path);
        }
    }

    /// Reads `path` from `offset` to its end.
    fn read_from(&mut self, tag: &str, path: &Path) {
        let Ok(mut file) = File::open(path) else { return };
        if file.seek(SeekFrom::Start(self.offset)).is_err() {
            return;
        }
        let mut buf = Vec::new();
        if file.read_to_end(&mut buf).is_err() {
            return;
        }
        self.offset += buf.len() as u64;
        self.absorb(tag, &buf);
    }

    /// Rotation (see the module documentation): the part already read
    /// moves to `TAG.log.1` and leaves the file.
    fn rotate(&mut self, tag: &str, path: &Path) {
        self.read_from(tag, path);
        let mut old = path.as_os_str().to_owned();
        old.push(".1");
        let old = PathBuf::from(old);
        match collapse_head(path, &old, self.offset) {
            // Less than one filesystem block read: rotate once there is.
            Ok(0) => {}
            Ok(removed) => self.offset -= removed,
            Err(e) => {
                tracing::debug!("cannot collapse {} ({e}); copying and truncating instead", path.display());
                self.copy_truncate(tag, path, &old);
            }
        }
    }

    /// The fallback for filesystems without `FALLOC_FL_COLLAPSE_RANGE`
    /// (tmpfs): lines written between the copy and the truncate are lost.
    fn copy_truncate(&mut self, tag: &str, path: &Path, old: &Path) {
        if let Err(e) = std::fs::copy(path, old) {
            tracing::warn!("cannot rotate {}: {e}", path.display());
            return;
        }
        if let Err(e) = std::fs::OpenOptions::new().write(true).open(path).and_then(|f| f.set_len(0)) {
            tracing::warn!("cannot truncate {}: {e}", path.display());
            return;
        }
        // What was written after the last read is in the copy.
        self.read_from(tag, old);
        self.offset = 0;
    }

    fn absorb(&mut self, tag: &str, bytes: &[u8]) {
        let at_ms = now_ms();
        let mut rest = bytes;
        while let Some(nl) = rest.iter().position(|b| *b == b'\n') {
            let (line, tail) = rest.split_at(nl);
            rest = &tail[1..];
            if std::mem::take(&mut self.skip_fragment) {
                self.partial.clear();
                continue;
            }
            self.partial.extend_from_slice(line);
            let text = String::from_utf8_lossy(&self.partial[..self.partial.len().min(MAX_LINE)]).into_owned();
            self.partial.clear();
            self.push(OutputLine { tag: tag.to_string(), at_ms, text });
        }
        let room = MAX_LINE.saturating_sub(self.partial.len());
        self.partial.extend_from_slice(&rest[..rest.len().min(room)]);
    }

    fn push(&mut self, line: OutputLine) {
        if let Some(tx) = &self.follow {
            if tx.receiver_count() == 0 {
                self.follow = None;
            } else {
                let _ = tx.send(line.clone());
            }
        }
        self.lines.push_back(line);
        if self.lines.len() > LINES_KEPT {
            self.lines.pop_front();
        }
    }
}

/// Moves the first bytes of `path` — as many whole filesystem blocks as
/// have been `read` — into `old`, then removes them from `path` with
/// `FALLOC_FL_COLLAPSE_RANGE`. The kernel does that under the inode lock,
/// so children appending with `O_APPEND` lose nothing. Returns how many
/// bytes left the file.
fn collapse_head(path: &Path, old: &Path, read: u64) -> std::io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    let file = std::fs::OpenOptions::new().read(true).write(true).open(path)?;
    let meta = file.metadata()?;
    let block = meta.blksize().max(512);
    // The collapsed range must end before the end of the file.
    let head = read.min(meta.len().saturating_sub(1)) / block * block;
    if head == 0 {
        return Ok(0);
    }
    let mut tmp = old.as_os_str().to_owned();
    tmp.push(".tmp");
    let mut copy = File::create(&tmp)?;
    std::io::copy(&mut (&file).take(head), &mut copy)?;
    drop(copy);
    // SAFETY: fallocate on an open descriptor with in-range arguments.
    let rc = unsafe { libc::fallocate(file.as_raw_fd(), libc::FALLOC_FL_COLLAPSE_RANGE, 0, head as libc::off_t) };
    if rc != 0 {
        let e = std::io::Error::last_os_error();
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, old)?;
    Ok(head)
}
