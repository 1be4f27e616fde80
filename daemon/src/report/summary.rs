//! The one-line `STATUS=` summary `systemctl status isinit` shows.

use isinit_shared::protocol::{Event, GroupState, GroupStates, Snapshot};
use std::collections::HashSet;

/// Every group state, in the order a summary lists them: from settled to
/// busy, so the common `DONE` count comes first.
const ORDER: [GroupState; 7] = [
    GroupState::Done,
    GroupState::Passed,
    GroupState::Failed,
    GroupState::Starting,
    GroupState::Stopping,
    GroupState::Configured,
    GroupState::Halting,
];

/// What the summary counts, kept from the runtime's snapshot and the
/// events after it: each group's state and the entries with a live
/// process. Not a mirror of the snapshot, whose rows are some 300 bytes an
/// entry and which an event updated by a scan of every row (issue 22).
#[derive(Debug, Default)]
pub struct Counts {
    groups: GroupStates,
    alive: HashSet<String>,
}

impl Counts {
    /// What `snap` says.
    pub fn of(snap: &Snapshot) -> Counts {
        Counts {
            groups: GroupStates::of(snap),
            alive: snap.processes.iter().filter(|p| p.pid.is_some()).map(|p| p.tag.clone()).collect(),
        }
    }

    /// Folds one event; false for one that needs a fresh snapshot (a new
    /// isinittab).
    pub fn apply(&mut self, event: &Event) -> bool {
        if self.groups.fold(event) {
            return true;
        }
        match event {
            Event::Process(p) if p.pid.is_some() => {
                self.alive.insert(p.tag.clone());
            }
            Event::Process(p) => {
                self.alive.remove(&p.tag);
            }
            Event::ProcessRemoved { tag } => {
                self.alive.remove(tag);
            }
            Event::ConfigChanged { .. } => return false,
            Event::Group(_) | Event::GroupRemoved { .. } | Event::Audit(_) | Event::Notice { .. } | Event::Halting => {}
        }
        true
    }
}

/// `3 groups: 2 DONE, 1 STARTING; 5 processes alive` — how many groups are
/// in each state (states with none left out) and how many processes run.
pub fn summary(counts: &Counts) -> String {
    let by_state: Vec<String> = ORDER
        .iter()
        .filter_map(|state| {
            let n = counts.groups.iter().filter(|(_, s)| s == state).count();
            (n > 0).then(|| format!("{n} {state}"))
        })
        .collect();
    let alive = counts.alive.len();
    let groups = match counts.groups.len() {
        1 => "1 group".to_string(),
        n => format!("{n} groups"),
    };
    let processes = if alive == 1 { "1 process alive".to_string() } else { format!("{alive} processes alive") };
    if by_state.is_empty() {
        format!("{groups}; {processes}")
    } else {
        format!("{groups}: {}; {processes}", by_state.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use isinit_shared::config::Mode;
    use isinit_shared::protocol::{GroupStatus, ProcessState, ProcessStatus};

    fn group(name: &str, state: GroupState) -> GroupStatus {
        GroupStatus { name: name.into(), level: None, state, since_ms: 0, levels: vec![], in_file: true, owner: None }
    }

    fn process(tag: &str, pid: Option<u32>) -> ProcessStatus {
        ProcessStatus {
            group: "g".into(),
            tag: tag.into(),
            mode: Mode::Respawn,
            levels: "1".into(),
            command: "true".into(),
            state: if pid.is_some() { ProcessState::Running } else { ProcessState::Exited },
            pid,
            started_at_ms: None,
            respawns: 0,
            last_exit: None,
            recent_exits: vec![],
            backoff_until_ms: None,
            start_error: None,
            in_file: true,
            ready: pid.is_some(),
            status_text: None,
            health: None,
            health_reason: None,
            listen: Vec::new(),
        }
    }

    #[test]
    fn groups_are_counted_by_state_and_live_processes_counted() {
        let snap = Snapshot {
            groups: vec![
                group("a", GroupState::Done),
                group("b", GroupState::Starting),
                group("c", GroupState::Done),
                group("d", GroupState::Configured),
            ],
            processes: vec![process("x", Some(10)), process("y", None), process("z", Some(12))],
            ..Default::default()
        };
        let mut counts = Counts::of(&snap);
        assert_eq!(summary(&counts), "4 groups: 2 DONE, 1 STARTING, 1 CONFIGURED; 2 processes alive");
        assert!(counts.apply(&Event::Process(process("x", None))));
        assert!(counts.apply(&Event::Process(process("y", Some(11)))));
        assert!(counts.apply(&Event::ProcessRemoved { tag: "z".into() }));
        assert!(counts.apply(&Event::Group(group("b", GroupState::Done))));
        assert!(counts.apply(&Event::GroupRemoved { name: "d".into() }));
        assert_eq!(summary(&counts), "3 groups: 3 DONE; 1 process alive");
        let changed = Event::ConfigChanged { path: "/etc/isinittab".into(), sha256: "0".into() };
        assert!(!counts.apply(&changed), "a new isinittab asks for a fresh snapshot");
    }

    #[test]
    fn an_empty_daemon_still_says_something() {
        assert_eq!(summary(&Counts::default()), "0 groups; 0 processes alive");
        let one = Snapshot {
            groups: vec![group("a", GroupState::Failed)],
            processes: vec![process("x", Some(1))],
            ..Default::default()
        };
        assert_eq!(summary(&Counts::of(&one)), "1 group: 1 FAILED; 1 process alive");
    }
}
