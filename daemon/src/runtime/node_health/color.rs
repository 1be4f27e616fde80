//! The node's health as Pacemaker's `#health-isinit` attribute (SPEC
//! §18), decided from what the runtime's snapshot and events say: pure,
//! so every rule is unit-tested.

use isinit_shared::protocol::{Event, ExitStatus, GroupState, GroupStates, ProcessState, ProcessStatus, Snapshot};
use isinit_shared::time::UnixMillis;
use std::collections::{BTreeSet, HashMap};

/// The values Pacemaker's node-health strategies understand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    /// Nothing wrong.
    Green,
    /// Degraded: still fit to run resources (`migrate-on-red` keeps them).
    Yellow,
    /// Unfit: `migrate-on-red` moves every resource away.
    Red,
}

impl Color {
    /// The attribute's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Color::Green => "green",
            Color::Yellow => "yellow",
            Color::Red => "red",
        }
    }
}

/// When the node turns red or yellow.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// An entry in respawn backoff for longer than this makes the node red.
    pub backoff_red_ms: u64,
    /// This many OOM kills within [`Limits::oom_window_ms`] make it yellow.
    pub oom_kills: usize,
    /// The window of [`Limits::oom_kills`].
    pub oom_window_ms: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { backoff_red_ms: 120_000, oom_kills: 2, oom_window_ms: 600_000 }
    }
}

/// What the judgement looks at, kept from the runtime's snapshot and the
/// events after it: each group's state, the entries in backoff, and the
/// entries' recent OOM kills. Not a mirror of the snapshot: its rows are
/// some 300 bytes an entry, held only for these three questions (issue
/// 22: 350 kB of a daemon of 950 entries, on nodes without Pacemaker too).
#[derive(Debug, Default)]
pub struct Seen {
    /// The daemon is shutting down.
    pub halting: bool,
    groups: GroupStates,
    in_backoff: BTreeSet<String>,
    /// Only entries that were OOM-killed, with when.
    ooms: HashMap<String, Vec<UnixMillis>>,
}

impl Seen {
    /// What `snap` says.
    pub fn of(snap: &Snapshot) -> Seen {
        let mut seen = Seen { halting: snap.daemon.halting, ..Seen::default() };
        seen.groups = GroupStates::of(snap);
        for p in &snap.processes {
            seen.process(p);
        }
        seen
    }

    /// Folds one event; false for one that needs a fresh snapshot (a new
    /// isinittab).
    pub fn apply(&mut self, event: &Event) -> bool {
        if self.groups.fold(event) {
            return true;
        }
        match event {
            Event::Process(p) => self.process(p),
            Event::ProcessRemoved { tag } => {
                self.in_backoff.remove(tag);
                self.ooms.remove(tag);
            }
            Event::ConfigChanged { .. } => return false,
            Event::Halting => self.halting = true,
            Event::Group(_) | Event::GroupRemoved { .. } | Event::Audit(_) | Event::Notice { .. } => {}
        }
        true
    }

    fn process(&mut self, p: &ProcessStatus) {
        if p.state == ProcessState::Backoff {
            self.in_backoff.insert(p.tag.clone());
        } else {
            self.in_backoff.remove(&p.tag);
        }
        let ooms: Vec<UnixMillis> =
            p.recent_exits.iter().filter(|e| e.status == ExitStatus::OomKilled).map(|e| e.at_ms).collect();
        if ooms.is_empty() {
            self.ooms.remove(&p.tag);
        } else {
            self.ooms.insert(p.tag.clone(), ooms);
        }
    }
}

/// Tracks since when each entry has been in backoff (a snapshot says only
/// until when), across what the task folds.
#[derive(Debug, Default)]
pub struct BackoffSince {
    since: HashMap<String, UnixMillis>,
}

impl BackoffSince {
    /// Whether no entry was in backoff when last observed.
    pub fn is_empty(&self) -> bool {
        self.since.is_empty()
    }

    /// Notes the entries in backoff at `now`; forgets those that left it.
    pub fn observe(&mut self, seen: &Seen, now: UnixMillis) {
        self.since.retain(|tag, _| seen.in_backoff.contains(tag));
        for tag in &seen.in_backoff {
            self.since.entry(tag.clone()).or_insert(now);
        }
    }

    /// The longest backoff, and whose.
    fn longest(&self, now: UnixMillis) -> Option<(&str, u64)> {
        self.since.iter().map(|(t, at)| (t.as_str(), now.saturating_sub(*at))).max_by_key(|(_, d)| *d)
    }
}

/// The color and why: red for a FAILED group, an entry in backoff past the
/// limit or a full log directory; yellow for repeated OOM kills; green
/// otherwise.
pub fn judge(
    seen: &Seen,
    backoff: &BackoffSince,
    now: UnixMillis,
    logdir_full: bool,
    limits: &Limits,
) -> (Color, String) {
    if let Some((name, _)) = seen.groups.iter().find(|(_, state)| *state == GroupState::Failed) {
        return (Color::Red, format!("group {name} is FAILED"));
    }
    if let Some((tag, ms)) = backoff.longest(now).filter(|(_, ms)| *ms > limits.backoff_red_ms) {
        return (Color::Red, format!("{tag} has been in respawn backoff for {} s", ms / 1000));
    }
    if logdir_full {
        return (Color::Red, "the log directory's file system is full".to_string());
    }
    let since = now.saturating_sub(limits.oom_window_ms);
    let ooms = seen.ooms.values().flatten().filter(|at| **at >= since).count();
    if ooms >= limits.oom_kills {
        return (Color::Yellow, format!("{ooms} OOM kills in the last {} s", limits.oom_window_ms / 1000));
    }
    (Color::Green, "no FAILED group, no long backoff, no OOM kills, room for logs".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use isinit_shared::config::Mode;
    use isinit_shared::protocol::{ExitRecord, GroupStatus, ProcessStatus};

    fn row(state: ProcessState, exits: Vec<ExitRecord>) -> ProcessStatus {
        ProcessStatus {
            group: "web".into(),
            tag: "srv".into(),
            mode: Mode::Respawn,
            levels: "run".into(),
            command: "x".into(),
            state,
            pid: None,
            started_at_ms: None,
            respawns: 0,
            last_exit: None,
            recent_exits: exits,
            backoff_until_ms: None,
            start_error: None,
            in_file: true,
            ready: false,
            status_text: None,
            health: None,
            health_reason: None,
            listen: Vec::new(),
        }
    }

    fn group(name: &str, state: GroupState) -> GroupStatus {
        GroupStatus {
            name: name.into(),
            level: Some("run".into()),
            state,
            since_ms: 0,
            levels: vec![],
            in_file: true,
            owner: None,
        }
    }

    fn snap(state: GroupState, proc_state: ProcessState, exits: Vec<ExitRecord>) -> Seen {
        let mut s = Snapshot::default();
        s.groups.push(group("web", state));
        s.processes.push(row(proc_state, exits));
        Seen::of(&s)
    }

    #[test]
    fn the_rules_in_order() {
        let l = Limits::default();
        let none = BackoffSince::default();
        let ok = snap(GroupState::Done, ProcessState::Running, vec![]);
        assert_eq!(judge(&ok, &none, 1_000_000, false, &l).0, Color::Green);
        let failed = snap(GroupState::Failed, ProcessState::Running, vec![]);
        assert_eq!(judge(&failed, &none, 1_000_000, false, &l), (Color::Red, "group web is FAILED".into()));
        assert_eq!(judge(&ok, &none, 1_000_000, true, &l).0, Color::Red);

        let throttled = snap(GroupState::Done, ProcessState::Backoff, vec![]);
        let mut since = BackoffSince::default();
        since.observe(&throttled, 1_000_000);
        assert_eq!(judge(&throttled, &since, 1_000_000 + l.backoff_red_ms, false, &l).0, Color::Green);
        since.observe(&throttled, 1_000_000 + l.backoff_red_ms + 1);
        assert_eq!(judge(&throttled, &since, 1_000_000 + l.backoff_red_ms + 1, false, &l).0, Color::Red);
        since.observe(&ok, 1_000_000 + l.backoff_red_ms + 2);
        assert_eq!(judge(&ok, &since, 1_000_000 + l.backoff_red_ms + 2, false, &l).0, Color::Green, "out of backoff");

        let oom = |at_ms| ExitRecord { at_ms, status: ExitStatus::OomKilled, ran_ms: 1, reason: None };
        let one = snap(GroupState::Done, ProcessState::Running, vec![oom(999_000)]);
        assert_eq!(judge(&one, &none, 1_000_000, false, &l).0, Color::Green);
        let two = snap(GroupState::Done, ProcessState::Running, vec![oom(998_000), oom(999_000)]);
        assert_eq!(judge(&two, &none, 1_000_000, false, &l).0, Color::Yellow);
        assert_eq!(judge(&two, &none, 1_000_000 + l.oom_window_ms, false, &l).0, Color::Green, "old kills age out");
    }

    #[test]
    fn events_fold_into_what_is_seen() {
        let l = Limits::default();
        let none = BackoffSince::default();
        let oom = ExitRecord { at_ms: 999_000, status: ExitStatus::OomKilled, ran_ms: 1, reason: None };
        let mut seen = snap(GroupState::Done, ProcessState::Running, vec![]);
        assert!(seen.apply(&Event::Process(row(ProcessState::Backoff, vec![oom, oom]))));
        assert_eq!(judge(&seen, &none, 1_000_000, false, &l).0, Color::Yellow);
        let mut since = BackoffSince::default();
        since.observe(&seen, 1_000_000);
        assert!(!since.is_empty());
        assert!(seen.apply(&Event::ProcessRemoved { tag: "srv".into() }));
        since.observe(&seen, 1_000_001);
        assert!(since.is_empty());
        assert_eq!(judge(&seen, &since, 1_000_001, false, &l).0, Color::Green, "its kills went with it");

        assert!(seen.apply(&Event::Group(group("db", GroupState::Failed))));
        assert_eq!(judge(&seen, &none, 1_000_000, false, &l), (Color::Red, "group db is FAILED".into()));
        assert!(seen.apply(&Event::GroupRemoved { name: "db".into() }));
        assert_eq!(judge(&seen, &none, 1_000_000, false, &l).0, Color::Green);
        let changed = Event::ConfigChanged { path: "/etc/isinittab".into(), sha256: "0".into() };
        assert!(!seen.apply(&changed), "a new isinittab asks for a fresh snapshot");
        assert!(seen.apply(&Event::Halting) && seen.halting);
    }
}
