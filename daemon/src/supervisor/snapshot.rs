//! The supervisor's state as the protocol shows it, and the changes it
//! publishes.

use super::process::blank_status;
use super::{Effect, Group, Supervisor};
use isinit_shared::protocol::{Event, GroupStatus, ProcessStatus};

impl Supervisor {
    fn group_status(&self, name: &str, g: &Group) -> GroupStatus {
        GroupStatus {
            name: name.to_string(),
            level: g.level.clone(),
            state: g.state,
            since_ms: g.since_ms,
            levels: self.config.suggested_levels(name),
            in_file: g.in_file,
        }
    }

    /// The row of one tag: its record if it has one, else its entry.
    fn process_status(&self, tag: &str) -> Option<ProcessStatus> {
        let exits = self.exits.get(tag);
        let entry = self.config.entry(tag);
        match (self.procs.get(tag), entry) {
            (Some(p), _) => Some(p.status(exits, entry.is_some())),
            (None, Some(e)) => Some(blank_status(e, exits)),
            (None, None) => None,
        }
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
        self.groups.iter().map(|(n, g)| format!("{} {} {}\n", n, g.level.as_deref().unwrap_or("-"), g.state)).collect()
    }

    /// Turns the changes recorded since the last flush into publishes.
    pub(super) fn flush_changes(&mut self) {
        let removable: Vec<String> = self
            .groups
            .iter()
            .filter(|(n, g)| !g.in_file && !self.procs.values().any(|p| &p.entry.group == *n))
            .map(|(n, _)| n.clone())
            .collect();
        for name in removable {
            self.groups.remove(&name);
            self.dirty_groups.insert(name);
            self.status_dirty = true;
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
