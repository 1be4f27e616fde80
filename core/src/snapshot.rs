//! The supervisor's state as the protocol shows it, and the changes it
//! publishes. This is the only place the supervisor's own types
//! ([`GroupPhase`], [`Phase`]) turn into the protocol's (`GroupState`,
//! `ProcessState`): the wire format never shapes the state machine.

use super::group_phase::{GroupPhase, Outcome};
use super::process::{Phase, Proc};
use super::{Effect, Group, Supervisor};
use isinit_shared::config::{Entry, Mode};
use isinit_shared::protocol::{Event, ExitRecord, GroupState, GroupStatus, Health, ProcessState, ProcessStatus};
use std::collections::VecDeque;

/// The state SPEC §3.5 names for a group's phase.
pub(super) fn group_state(phase: &GroupPhase) -> GroupState {
    match phase {
        GroupPhase::Configured => GroupState::Configured,
        GroupPhase::Stopping => GroupState::Stopping,
        GroupPhase::Starting { .. } => GroupState::Starting,
        GroupPhase::Settled(Outcome::Done) => GroupState::Done,
        GroupPhase::Settled(Outcome::Passed) => GroupState::Passed,
        GroupPhase::Settled(Outcome::Failed) => GroupState::Failed,
        GroupPhase::Halting => GroupState::Halting,
    }
}

/// The state SPEC §4 names for a process record.
pub(super) fn process_state(p: &Proc) -> ProcessState {
    match &p.phase {
        Phase::Stopping => ProcessState::Stopping,
        Phase::Running if p.entry.mode.is_foreground() => ProcessState::Waiting,
        Phase::Running => ProcessState::Running,
        Phase::Backoff { .. } => ProcessState::Backoff,
        Phase::FailedToStart(_) => ProcessState::FailedToStart,
        Phase::Exited if p.test_passed() => ProcessState::Pass,
        Phase::Exited if p.entry.mode == Mode::Test => ProcessState::Fail,
        Phase::Exited => ProcessState::Exited,
    }
}

/// The record as the protocol shows it.
/// `probed`: the entry has a `:::probe:` in the file in force.
fn record_status(p: &Proc, exits: Option<&VecDeque<ExitRecord>>, in_file: bool, probed: bool) -> ProcessStatus {
    ProcessStatus {
        pid: p.pid.map(|pid| pid as u32),
        started_at_ms: p.started_at_ms,
        respawns: p.respawns,
        last_exit: p.last_exit,
        backoff_until_ms: match p.phase {
            Phase::Backoff { until_ms, .. } => Some(until_ms),
            _ => None,
        },
        start_error: p.start_error.clone(),
        state: process_state(p),
        in_file,
        ready: match p.entry.mode {
            Mode::Notify => p.ready,
            _ => p.phase == Phase::Running && p.pid.is_some(),
        },
        status_text: p.status_text.clone(),
        health: probed.then(|| if p.phase == Phase::Running { p.probe.health() } else { Health::NotProbed }),
        health_reason: p.probe.last_failure.clone(),
        ..blank_status(&p.entry, exits, probed)
    }
}

/// The protocol view of an entry with no record.
fn blank_status(entry: &Entry, exits: Option<&VecDeque<ExitRecord>>, probed: bool) -> ProcessStatus {
    ProcessStatus {
        group: entry.group.clone(),
        tag: entry.tag.clone(),
        mode: entry.mode,
        levels: entry.levels.raw().to_string(),
        command: entry.command.clone(),
        state: if entry.mode == Mode::Off { ProcessState::Off } else { ProcessState::NotStarted },
        pid: None,
        started_at_ms: None,
        respawns: 0,
        last_exit: None,
        recent_exits: exits.map(|e| e.iter().copied().collect()).unwrap_or_default(),
        backoff_until_ms: None,
        start_error: None,
        in_file: true,
        ready: false,
        status_text: None,
        health: probed.then_some(Health::NotProbed),
        health_reason: None,
        listen: Vec::new(),
    }
}

impl Supervisor {
    fn group_status(&self, name: &str, g: &Group) -> GroupStatus {
        GroupStatus {
            name: name.to_string(),
            level: g.level.clone(),
            state: group_state(&g.phase),
            since_ms: g.since_ms,
            levels: self.levels.get(name).cloned().unwrap_or_default(),
            in_file: g.in_file,
            owner: g.owner.clone(),
        }
    }

    /// The row of one tag: its record if it has one, else its entry.
    fn process_status(&self, tag: &str) -> Option<ProcessStatus> {
        let exits = self.exits.get(tag);
        let entry = self.config.entry(tag);
        let mut row = match (self.procs.get(tag), entry) {
            (Some(p), _) => record_status(p, exits, entry.is_some(), self.config.probe_of(tag).is_some()),
            (None, Some(e)) => blank_status(e, exits, self.config.probe_of(tag).is_some()),
            (None, None) => return None,
        };
        row.listen = self.config.listens_of(tag).map(|l| l.address.to_string()).collect();
        Some(row)
    }

    /// Every group, sorted by name.
    pub fn groups(&self) -> Vec<GroupStatus> {
        self.groups.iter().map(|(n, g)| self.group_status(n, g)).collect()
    }

    /// Every entry in file order, then records of removed entries.
    pub fn processes(&self) -> Vec<ProcessStatus> {
        let mut rows: Vec<ProcessStatus> =
            self.config.entries.iter().filter_map(|e| self.process_status(&e.tag)).collect();
        let removed = self.procs.keys().filter(|t| self.config.entry(t).is_none());
        rows.extend(removed.filter_map(|t| self.process_status(t)));
        rows
    }

    /// The status file's lines: `GROUP LEVEL STATE`, sorted by group.
    pub fn status_lines(&self) -> String {
        self.groups
            .iter()
            .map(|(n, g)| format!("{} {} {}\n", n, g.level.as_deref().unwrap_or("-"), group_state(&g.phase)))
            .collect()
    }

    /// Turns the changes recorded since the last flush into publishes.
    pub(super) fn flush_changes(&mut self) {
        self.note_saved_changes();
        self.sweep_due.extend(self.dirty_procs.iter().cloned());
        let removable: Vec<String> = self
            .groups
            .iter()
            .filter(|(n, g)| !g.in_file && self.records_of(n.as_str()).next().is_none())
            .map(|(n, _)| n.clone())
            .collect();
        for name in removable {
            self.groups.remove(&name);
            self.dirty_groups.insert(name);
            self.status_dirty = true;
            self.timeline_forget_gone();
        }
        for tag in std::mem::take(&mut self.dirty_procs) {
            let event = match self.process_status(&tag) {
                Some(p) => Event::Process(p),
                None => Event::ProcessRemoved { tag },
            };
            self.effects.push(Effect::Publish(event));
        }
        for name in std::mem::take(&mut self.dirty_groups) {
            let event = match self.groups.get(&name) {
                Some(g) => Event::Group(self.group_status(&name, g)),
                None => Event::GroupRemoved { name },
            };
            self.effects.push(Effect::Publish(event));
        }
        if std::mem::take(&mut self.status_dirty) {
            self.effects.push(Effect::WriteStatus);
        }
    }
}
