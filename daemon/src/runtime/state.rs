//! The state file (SPEC §10): each told group's level and how far its
//! switch got, so that a daemon started after this one died restores the
//! levels and adopts what is still running.
//!
//! Written atomically (`replace::replace_file`). A tell's content is written
//! by the runtime task itself, before its reply: handing it to a thread
//! and waiting cost two thread wake-ups, which on a virtual machine took
//! 0.1–3 ms against the write's 0.1 ms (the tell already reads the
//! isinittab on the same thread, and the file's default home `/run` is a
//! tmpfs). The saves that follow exits and group changes, which no one
//! waits for, go to a thread of its own, which coalesces bursts and does
//! not write again what the file already holds; a lock and a number keep
//! the two writers in order. Never fsynced: the
//! file has to outlive a daemon, not the machine — after a reboot nothing
//! should run until told, which is why its default home is the runtime
//! directory `/run` — and putting a file in place is atomic for every
//! reader without one. An fsync would add the disk's flush latency to
//! every tell for nothing (1.7 ms on this machine's virtual disk); a file
//! a power cut truncated anyway is read as corrupt and ignored.

use crate::supervisor::SavedLevel;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};

/// Version of the file's format, refused when it differs.
pub const STATE_VERSION: u32 = 1;
/// Largest state file read; anything bigger is not ours.
const MAX_STATE_LEN: usize = 16 * 1024 * 1024;

/// The file's content (JSON, so an operator can read it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateContent {
    /// [`STATE_VERSION`] of the daemon that wrote it.
    pub version: u32,
    /// Every told group.
    pub groups: Vec<SavedLevel>,
}

/// Why a state file was ignored.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Larger than any state file this daemon writes.
    #[error("{0} bytes is too large for a state file")]
    TooLarge(usize),
    /// Not JSON of the expected shape.
    #[error("corrupt: {0}")]
    Corrupt(String),
    /// Written by a daemon with another format.
    #[error("format version {0}, this daemon reads version {STATE_VERSION}")]
    Version(u32),
}

/// Parses a state file's bytes. Pure and total: any input gives a value
/// or an error, never a panic (a fuzz target runs it).
pub fn parse_state(bytes: &[u8]) -> Result<Vec<SavedLevel>, StateError> {
    if bytes.len() > MAX_STATE_LEN {
        return Err(StateError::TooLarge(bytes.len()));
    }
    #[derive(Deserialize)]
    struct Versioned {
        version: u32,
    }
    let v: Versioned = serde_json::from_slice(bytes).map_err(|e| StateError::Corrupt(e.to_string()))?;
    if v.version != STATE_VERSION {
        return Err(StateError::Version(v.version));
    }
    let content: StateContent = serde_json::from_slice(bytes).map_err(|e| StateError::Corrupt(e.to_string()))?;
    Ok(content.groups)
}

/// The saved levels at `path`; none (logged) if it is missing,
/// unreadable or corrupt — never an error that stops the daemon.
pub fn load(path: &Path) -> Vec<SavedLevel> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            tracing::warn!("cannot read state file {}: {e}; no level restored", path.display());
            return Vec::new();
        }
    };
    match parse_state(&bytes) {
        Ok(groups) => groups,
        Err(e) => {
            tracing::warn!("ignoring state file {}: {e}; no level restored", path.display());
            Vec::new()
        }
    }
}

/// Runs once a [`StateWriter::remove`] or [`StateWriter::barrier`] is done.
type Done = Box<dyn FnOnce() + Send>;

/// A content to write, numbered in the order the runtime made them.
struct Numbered {
    number: u64,
    bytes: Vec<u8>,
}

enum Job {
    Write(Numbered),
    Remove(Done),
    Barrier(Done),
}

/// The state file's writers: the runtime itself for a tell, a thread for
/// everything else. See the module documentation.
pub struct StateWriter {
    path: PathBuf,
    jobs: mpsc::Sender<Job>,
    /// The number the next content gets.
    next: AtomicU64,
    /// What is in the file. Held while writing, so the two writers never
    /// interleave, and a content older than the file's (a queued
    /// background save overtaken by a tell) is dropped.
    in_place: Arc<Mutex<InPlace>>,
}

/// What the file holds, as far as this daemon wrote it.
#[derive(Default)]
struct InPlace {
    /// The number of the newest content put in place (or tried).
    number: u64,
    /// That content, if writing it succeeded: a background save of the
    /// same bytes (the group-change save that follows a tell whose switch
    /// started nothing) is not written again.
    bytes: Option<Vec<u8>>,
}

impl InPlace {
    fn lock(in_place: &Mutex<InPlace>) -> std::sync::MutexGuard<'_, InPlace> {
        in_place.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl StateWriter {
    /// Starts the writer thread for `path`.
    pub fn start(path: PathBuf) -> std::io::Result<StateWriter> {
        let (jobs, rx) = mpsc::channel();
        let in_place = Arc::new(Mutex::new(InPlace::default()));
        let (thread_path, thread_in_place) = (path.clone(), Arc::clone(&in_place));
        std::thread::Builder::new().name("isinit-state".into()).spawn(move || {
            let _ = super::signals::set_blocked(true);
            write_loop(&thread_path, &thread_in_place, &rx);
        })?;
        Ok(StateWriter { path, jobs, next: AtomicU64::new(1), in_place })
    }

    /// Hands `groups` to the thread; no one waits for it.
    pub fn save(&self, groups: Vec<SavedLevel>) {
        if let Ok(content) = self.number(groups) {
            let _ = self.jobs.send(Job::Write(content));
        }
    }

    /// Writes `groups` now, on the caller's thread (a tell's reply waits
    /// for it; see the module documentation).
    pub fn save_now(&self, groups: Vec<SavedLevel>) -> Result<(), String> {
        let content = self.number(groups)?;
        put_in_place(&self.path, &mut InPlace::lock(&self.in_place), content)
    }

    fn number(&self, groups: Vec<SavedLevel>) -> Result<Numbered, String> {
        let content = StateContent { version: STATE_VERSION, groups };
        let bytes = serde_json::to_vec_pretty(&content).map_err(|e| e.to_string())?;
        Ok(Numbered { number: self.next.fetch_add(1, Ordering::Relaxed), bytes })
    }

    /// Removes the file (after a clean shutdown nothing is left to restore)
    /// and waits until that is done.
    pub async fn remove(&self) {
        self.wait_for(Job::Remove).await;
    }

    /// Waits until everything handed over so far is on disk: before the
    /// process image is replaced.
    pub async fn barrier(&self) {
        self.wait_for(Job::Barrier).await;
    }

    async fn wait_for(&self, job: fn(Done) -> Job) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let done: Done = Box::new(move || {
            let _ = tx.send(());
        });
        if self.jobs.send(job(done)).is_ok() {
            let _ = rx.await;
        }
    }
}

impl super::Runtime {
    /// Keeps the state file current after exits and group changes (the
    /// thread coalesces bursts and skips what is already in the file; no
    /// one waits for it).
    pub(super) fn save_state(&self) {
        if let Some(state) = &self.state_writer
            && !self.sup.is_halting()
        {
            state.save(self.sup.saved_levels());
        }
    }

    /// SPEC §10: an accepted tell's level is on disk before its reply is
    /// sent. A write that failed is logged and said in the reply; the
    /// tell itself stands.
    pub(super) fn reply_once_saved(
        &self,
        reply: tokio::sync::oneshot::Sender<super::Outcome>,
        outcome: super::Outcome,
    ) {
        let written = match &self.state_writer {
            Some(state) => state.save_now(self.sup.saved_levels()),
            None => Ok(()),
        };
        let _ = reply.send(outcome.map(|m| match written {
            Ok(()) => m,
            Err(e) => format!("{m} (warning: {e})"),
        }));
    }
}

fn write_loop(path: &Path, in_place: &Mutex<InPlace>, rx: &mpsc::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        // Coalesce whatever queued meanwhile: the newest content wins.
        let mut latest: Option<Numbered> = None;
        let mut job = Some(first);
        while let Some(j) = job.take() {
            match j {
                Job::Write(content) => latest = Some(content),
                Job::Barrier(done) => {
                    flush(path, in_place, latest.take());
                    done();
                }
                Job::Remove(done) => {
                    flush(path, in_place, latest.take());
                    InPlace::lock(in_place).bytes = None;
                    if let Err(e) = std::fs::remove_file(path)
                        && e.kind() != std::io::ErrorKind::NotFound
                    {
                        tracing::warn!("cannot remove state file {}: {e}", path.display());
                    }
                    done();
                }
            }
            job = rx.try_recv().ok();
        }
        flush(path, in_place, latest);
    }
}

/// A background save: written unless the file already holds it.
fn flush(path: &Path, in_place: &Mutex<InPlace>, content: Option<Numbered>) {
    let Some(content) = content else { return };
    let mut in_place = InPlace::lock(in_place);
    if in_place.bytes.as_ref() == Some(&content.bytes) {
        in_place.number = in_place.number.max(content.number);
        return;
    }
    let _ = put_in_place(path, &mut in_place, content);
}

/// Writes `content` unless a newer one is already in place; a failure is
/// logged here and returned for a reply to carry.
fn put_in_place(path: &Path, in_place: &mut InPlace, content: Numbered) -> Result<(), String> {
    if content.number <= in_place.number {
        return Ok(());
    }
    in_place.number = content.number;
    let result = super::replace::replace_file(path, &content.bytes)
        .map_err(|e| format!("cannot write state file {}: {e}", path.display()));
    match &result {
        Ok(()) => in_place.bytes = Some(content.bytes),
        Err(e) => {
            in_place.bytes = None;
            tracing::error!("{e}");
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supervisor::Ran;
    use isinit_shared::protocol::{ExitStatus, GroupState};

    #[test]
    fn parse_refuses_garbage_and_other_versions() {
        assert!(matches!(parse_state(b"\x00\xff{"), Err(StateError::Corrupt(_))));
        assert!(matches!(parse_state(b"{\"version\":99,\"groups\":[]}"), Err(StateError::Version(99))));
        assert!(matches!(parse_state(b"{\"version\":1}"), Err(StateError::Corrupt(_))));
    }

    #[test]
    fn written_content_parses_back() {
        let groups = vec![SavedLevel {
            group: "g".into(),
            level: "run".into(),
            settled: Some(GroupState::Done),
            ran: vec![
                Ran {
                    tag: "once".into(),
                    finished: true,
                    last_exit: Some(ExitStatus::Code(0)),
                    started_at_ms: Some(5),
                    respawns: 0,
                    pid: None,
                    start_ticks: None,
                },
                Ran {
                    tag: "r".into(),
                    finished: false,
                    last_exit: Some(ExitStatus::Unknown),
                    started_at_ms: None,
                    respawns: 3,
                    pid: Some(4242),
                    start_ticks: Some(123_456_789),
                },
            ],
        }];
        let bytes = serde_json::to_vec(&StateContent { version: STATE_VERSION, groups: groups.clone() }).unwrap();
        assert_eq!(parse_state(&bytes).unwrap(), groups);
    }

    /// A file of a daemon that recorded no pids still reads, as version 1:
    /// its records have none, so nothing it left running is adopted.
    #[test]
    fn a_file_without_pids_reads_with_none() {
        let old = br#"{"version":1,"groups":[{"group":"g","level":"1","settled":"done","ran":[
            {"tag":"r","finished":false,"last_exit":null,"started_at_ms":5,"respawns":2}]}]}"#;
        let saved = parse_state(old).unwrap();
        assert_eq!((saved[0].ran[0].pid, saved[0].ran[0].start_ticks, saved[0].ran[0].respawns), (None, None, 2));
    }

    fn level(level: &str) -> Vec<SavedLevel> {
        vec![SavedLevel { group: "g".into(), level: level.into(), settled: None, ran: Vec::new() }]
    }

    #[tokio::test]
    async fn a_background_save_never_replaces_a_newer_tell() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        let writer = StateWriter::start(path.clone()).unwrap();
        for i in 0..50 {
            // Queued to the thread, then overtaken by a tell written at once.
            writer.save(level(&format!("old{i}")));
            writer.save_now(level(&format!("new{i}"))).unwrap();
            writer.barrier().await;
            let saved = parse_state(&std::fs::read(&path).unwrap()).unwrap();
            assert_eq!(saved, level(&format!("new{i}")), "round {i}");
        }
    }

    #[tokio::test]
    async fn a_background_save_of_what_the_file_holds_writes_nothing() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        let writer = StateWriter::start(path.clone()).unwrap();
        let inode = || std::fs::metadata(&path).unwrap().ino(); // every write puts a new file in place
        writer.save_now(level("1")).unwrap();
        let first = inode();
        writer.save(level("1"));
        writer.barrier().await;
        assert_eq!(inode(), first, "the same content was written again");
        writer.save(level("2"));
        writer.barrier().await;
        assert_ne!(inode(), first, "a new content was not written");
        assert_eq!(parse_state(&std::fs::read(&path).unwrap()).unwrap(), level("2"));
    }
}
