//! The state file (SPEC §10): each told group's level and how far its
//! switch got, so that a daemon started after this one died restores the
//! levels and adopts what is still running.
//!
//! Written atomically (`replace::replace_file`) by a thread of its own
//! (`writer::FileWriter`), never by the runtime (SPEC §15): a disk that
//! hangs (a stopped NFS server, a stalled FUSE mount) blocks that thread
//! only, and holds one content at most — the newest, written once the
//! disk answers. A tell's reply waits for its content in a task of its
//! own, for [`TELL_WAIT`] at most, then says the state is not saved yet
//! (SPEC §10 holds whenever the disk answers within it). The thread does
//! not write again what the file already holds. Never fsynced: the
//! file has to outlive a daemon, not the machine — after a reboot nothing
//! should run until told, which is why its default home is the runtime
//! directory `/run` — and putting a file in place is atomic for every
//! reader without one. An fsync would add the disk's flush latency to
//! every tell for nothing (1.7 ms on this machine's virtual disk); a file
//! a power cut truncated anyway is read as corrupt and ignored.

use super::writer::{FileWriter, Ticket};
use isinit_core::{SavedChanges, SavedLevel};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Version of the file's format, refused when it differs.
pub const STATE_VERSION: u32 = 1;
/// Largest state file read; anything bigger is not ours.
const MAX_STATE_LEN: usize = 16 * 1024 * 1024;

/// The file's content: JSON, so an operator can read it, with each
/// group on a line of its own (what [`StateWriter`] writes; any JSON of
/// this shape is read).
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

/// How long a tell's reply waits for its state to be on disk before it
/// goes out with a warning (the tell stands; the write completes later).
pub const TELL_WAIT: Duration = Duration::from_secs(1);
/// How long shutdown waits for the file's removal, and `reexec` for the
/// last content, before going on without.
pub const SHUTDOWN_WAIT: Duration = Duration::from_secs(3);

/// The state file's writer: a [`FileWriter`] thread (see the module
/// documentation), and the file's lines as that thread keeps them.
///
/// Issue 22: the file has a line per told group with a record per
/// process, so building all of it on every change cost the runtime time
/// in proportion to the whole daemon. The runtime hands over only the
/// groups a change touched ([`SavedChanges`]); they wait in `pending`
/// (a newer line of a group replaces an older one not yet taken), and the
/// writer thread encodes those lines, puts them in place among the others
/// it keeps encoded, and joins them into the file — once for however many
/// changes came while it was busy. A tell of a one-entry group among
/// 10,000 entries re-encoded every group's line (12 ms of the writer's
/// CPU); it now encodes its own and copies the others' bytes.
pub struct StateWriter {
    file: FileWriter,
    lines: Arc<Lines>,
}

/// The lines of the file (the writer thread's) and the changes handed
/// over but not folded in yet (the runtime's, taken by the thread).
#[derive(Default)]
struct Lines {
    pending: Mutex<Pending>,
    /// Each group's line, as encoded into the file.
    held: Mutex<BTreeMap<String, Box<[u8]>>>,
}

/// Changes not yet folded into the writer's lines.
#[derive(Default)]
struct Pending {
    /// The lines below (and those folded in) replace every line.
    whole: bool,
    groups: BTreeMap<String, Option<SavedLevel>>,
}

impl Lines {
    /// Takes the pending changes and makes the file of them and the
    /// lines kept; on the writer thread. `None` if the file is `in_place`
    /// (holds what the last call made) and no line changed: the save
    /// after a tell's own often hands over the same lines again.
    fn encode(&self, in_place: bool) -> Result<Option<Vec<u8>>, String> {
        let pending = std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner));
        // Encoded before anything is changed, so a line that cannot be
        // leaves the lines kept as they were.
        let lines = pending
            .groups
            .into_iter()
            .map(|(group, line)| Ok((group, line.map(|l| serde_json::to_vec(&l)).transpose()?)))
            .collect::<Result<Vec<_>, serde_json::Error>>()
            .map_err(|e| format!("cannot encode it: {e}"))?;
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        // Every line anew (a start, a reload): changed if any differs.
        let before = pending.whole.then(|| std::mem::take(&mut *held));
        let mut changed = false;
        for (group, line) in lines {
            match line {
                Some(encoded) => {
                    if held.get(&group).is_none_or(|kept| **kept != *encoded) {
                        changed = true;
                        held.insert(group, encoded.into_boxed_slice());
                    }
                }
                None => changed |= held.remove(&group).is_some(),
            }
        }
        if let Some(before) = before {
            changed = *held != before;
        }
        if in_place && !changed {
            return Ok(None);
        }
        Ok(Some(file_of(held.values())))
    }
}

/// The file made of groups' encoded lines: a [`StateContent`], one group
/// to a line.
fn file_of<'a>(lines: impl ExactSizeIterator<Item = &'a Box<[u8]>> + Clone) -> Vec<u8> {
    let head = format!("{{\"version\":{STATE_VERSION},\"groups\":[\n");
    let size = head.len() + lines.clone().map(|l| l.len() + 2).sum::<usize>() + 4;
    let mut file = Vec::with_capacity(size);
    file.extend_from_slice(head.as_bytes());
    for (i, line) in lines.enumerate() {
        if i > 0 {
            file.extend_from_slice(b",\n");
        }
        file.extend_from_slice(line);
    }
    file.extend_from_slice(b"\n]}\n");
    file
}

impl StateWriter {
    /// Starts the writer thread for `path`.
    pub fn start(path: PathBuf) -> std::io::Result<StateWriter> {
        Ok(StateWriter { file: FileWriter::start("state file", path)?, lines: Arc::default() })
    }

    /// Hands `groups` over as every line of the file; returns at once.
    pub fn save(&self, groups: Vec<SavedLevel>) -> Ticket {
        let groups = groups.into_iter().map(|s| (s.group.clone(), Some(s))).collect();
        self.update(SavedChanges { whole: true, groups })
    }

    /// Hands the changed lines over; the thread folds them into the rest
    /// and encodes the file. Returns at once: the runtime spends the
    /// changed groups' lines, never the file's encoding.
    pub fn update(&self, changes: SavedChanges) -> Ticket {
        {
            let mut pending = self.lines.pending.lock().unwrap_or_else(PoisonError::into_inner);
            if changes.whole {
                pending.whole = true;
                pending.groups.clear();
            }
            pending.groups.extend(changes.groups);
        }
        let lines = Arc::clone(&self.lines);
        self.file.make(move |in_place| lines.encode(in_place))
    }

    /// Removes the file (after a clean shutdown nothing is left to
    /// restore), waiting [`SHUTDOWN_WAIT`] at most.
    pub async fn remove(&self) {
        let removed = self.file.remove();
        if let Err(e) = self.file.written(removed, SHUTDOWN_WAIT).await {
            tracing::warn!("state file not removed: {e}; a daemon started on it restores its levels");
        }
    }

    /// Waits until everything handed over so far is on disk, for
    /// [`SHUTDOWN_WAIT`] at most: before the process image is replaced.
    /// Past that, the new image carries on with the state in memory (it
    /// was handed over) and writes the file on its next change.
    pub async fn barrier(&self) {
        if let Err(e) = self.file.written(self.file.latest(), SHUTDOWN_WAIT).await {
            tracing::warn!(
                "re-executing without the last state on disk: {e}; the new image writes it on its next change"
            );
        }
    }
}

impl super::Runtime {
    /// Keeps the state file current after exits and group changes (the
    /// thread writes the newest state and skips what is already in the
    /// file; no one waits for it).
    pub(super) fn save_state(&mut self) {
        if self.state_writer.is_none() || self.sup.is_halting() {
            return;
        }
        let changes = self.sup.saved_changes();
        if let Some(state) = &self.state_writer
            && (changes.whole || !changes.groups.is_empty())
        {
            state.update(changes);
        }
    }

    /// SPEC §10: an accepted tell's level is on disk before its reply is
    /// sent — normally. The reply waits in a task of its own (the runtime
    /// goes on) and for [`TELL_WAIT`] at most (SPEC §15: a hung disk
    /// delays only the state file, never replies). A write that failed or
    /// did not finish is said in the reply; the tell itself stands.
    pub(super) fn reply_once_saved(
        &mut self,
        reply: tokio::sync::oneshot::Sender<super::Outcome>,
        outcome: super::Outcome,
    ) {
        if self.state_writer.is_none() {
            let _ = reply.send(outcome);
            return;
        }
        let changes = self.sup.saved_changes();
        let Some(state) = &self.state_writer else { return };
        let ticket =
            if changes.whole || !changes.groups.is_empty() { state.update(changes) } else { state.file.latest() };
        let written = state.file.written(ticket, TELL_WAIT);
        tokio::spawn(async move {
            let written = written.await;
            let _ = reply.send(outcome.map(|m| match written {
                Ok(()) => m,
                Err(e) => format!("{m} (warning: {e})"),
            }));
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use isinit_core::Ran;
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
            owner: Some(isinit_shared::protocol::Owner::pacemaker("web", "node3")),
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
        assert_eq!(saved[0].owner, None, "a file from before owners reads as unowned");
    }

    fn level(level: &str) -> Vec<SavedLevel> {
        vec![SavedLevel { group: "g".into(), level: level.into(), settled: None, ran: Vec::new(), owner: None }]
    }

    #[tokio::test]
    async fn the_newest_state_wins_and_a_save_of_what_the_file_holds_writes_nothing() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        let writer = StateWriter::start(path.clone()).unwrap();
        let inode = || std::fs::metadata(&path).unwrap().ino(); // every write puts a new file in place
        for i in 0..20 {
            writer.save(level(&format!("old{i}")));
            writer.save(level(&format!("new{i}")));
            writer.barrier().await;
            assert_eq!(parse_state(&std::fs::read(&path).unwrap()).unwrap(), level(&format!("new{i}")), "round {i}");
        }
        let first = inode();
        writer.save(level("new19"));
        writer.barrier().await;
        assert_eq!(inode(), first, "the same content was written again");
        writer.save(level("2"));
        writer.barrier().await;
        assert_ne!(inode(), first, "a new content was not written");
        assert_eq!(parse_state(&std::fs::read(&path).unwrap()).unwrap(), level("2"));
        writer.remove().await;
        assert!(!path.exists());
    }

    /// A change hands over its groups' lines only; the file the writer
    /// makes of them and the lines it kept is every group's, one to a line.
    #[tokio::test]
    async fn a_change_of_some_groups_keeps_the_others_lines() {
        let line = |group: &str, level: &str| SavedLevel {
            group: group.into(),
            level: level.into(),
            settled: Some(GroupState::Done),
            ran: Vec::new(),
            owner: None,
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        let writer = StateWriter::start(path.clone()).unwrap();
        writer.save(vec![line("a", "1"), line("b", "1"), line("c", "1")]);
        writer.update(SavedChanges { whole: false, groups: vec![("b".into(), Some(line("b", "2")))] });
        writer.update(SavedChanges {
            whole: false,
            groups: vec![("c".into(), None), ("d".into(), Some(line("d", "x")))],
        });
        writer.barrier().await;
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(parse_state(&bytes).unwrap(), [line("a", "1"), line("b", "2"), line("d", "x")]);
        let text = String::from_utf8(bytes).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "a head, a line per group and a tail: {text}");
        assert!(lines[2].starts_with(r#"{"group":"b","level":"2""#), "{text}");
        writer.update(SavedChanges { whole: true, groups: vec![("z".into(), Some(line("z", "1")))] });
        writer.barrier().await;
        assert_eq!(parse_state(&std::fs::read(&path).unwrap()).unwrap(), [line("z", "1")]);
    }
}
