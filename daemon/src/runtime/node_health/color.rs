//! The node's health as Pacemaker's `#health-isinit` attribute (SPEC
//! §18), decided from a snapshot: pure, so every rule is unit-tested.

use isinit_shared::protocol::{ExitStatus, GroupState, ProcessState, Snapshot};
use isinit_shared::time::UnixMillis;
use std::collections::HashMap;

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

/// Tracks since when each entry has been in backoff (a snapshot says only
/// until when), across the snapshots the task folds.
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
    pub fn observe(&mut self, snap: &Snapshot, now: UnixMillis) {
        self.since.retain(|tag, _| snap.processes.iter().any(|p| &p.tag == tag && p.state == ProcessState::Backoff));
        for p in snap.processes.iter().filter(|p| p.state == ProcessState::Backoff) {
            self.since.entry(p.tag.clone()).or_insert(now);
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
    snap: &Snapshot,
    backoff: &BackoffSince,
    now: UnixMillis,
    logdir_full: bool,
    limits: &Limits,
) -> (Color, String) {
    if let Some(g) = snap.groups.iter().find(|g| g.state == GroupState::Failed) {
        return (Color::Red, format!("group {} is FAILED", g.name));
    }
    if let Some((tag, ms)) = backoff.longest(now).filter(|(_, ms)| *ms > limits.backoff_red_ms) {
        return (Color::Red, format!("{tag} has been in respawn backoff for {} s", ms / 1000));
    }
    if logdir_full {
        return (Color::Red, "the log directory's file system is full".to_string());
    }
    let since = now.saturating_sub(limits.oom_window_ms);
    let ooms = snap
        .processes
        .iter()
        .flat_map(|p| p.recent_exits.iter())
        .filter(|e| e.status == ExitStatus::OomKilled && e.at_ms >= since)
        .count();
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

    fn snap(state: GroupState, proc_state: ProcessState, exits: Vec<ExitRecord>) -> Snapshot {
        let mut s = Snapshot::default();
        s.groups.push(GroupStatus {
            name: "web".into(),
            level: Some("run".into()),
            state,
            since_ms: 0,
            levels: vec![],
            in_file: true,
            owner: None,
        });
        s.processes.push(ProcessStatus {
            group: "web".into(),
            tag: "srv".into(),
            mode: Mode::Respawn,
            levels: "run".into(),
            command: "x".into(),
            state: proc_state,
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
        });
        s
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
}
