//! Switching resource groups between levels (SPEC §3), reload and shutdown
//! (SPEC §6).

use super::group_phase::{GroupEvent, GroupPhase, Outcome};
use super::process::Phase;
use super::{Effect, Now, Supervisor};
use isinit_shared::config::{Entry, Inittab};
use isinit_shared::protocol::{ErrorKind, ErrorReply, Event, Plan};
use std::sync::Arc;

impl Supervisor {
    /// Switches `group` to `level`: stop what the level does not keep, then
    /// start its entries in file order. A tell during a switch takes over.
    /// An operator's tell: refused for a group a cluster manager owns
    /// ([`Supervisor::tell_by`]).
    pub fn tell(&mut self, now: Now, group: &str, level: &str) -> Result<(), ErrorReply> {
        self.tell_by(now, group, level, &isinit_shared::protocol::Asker::Operator)
    }

    /// The tell itself, whoever asks.
    pub(super) fn tell_unowned(&mut self, now: Now, group: &str, level: &str) -> Result<(), ErrorReply> {
        if self.halting {
            return Err(ErrorReply::new(ErrorKind::Rejected, "daemon is shutting down"));
        }
        if let Some(refusal) = self.refuse_tell(&self.config, group, level) {
            return Err(refusal);
        }
        self.timeline_told(now, group, level);
        self.apply_level(now, group, level);
        Ok(())
    }

    /// What a tell of `group` to `level` would do if `config` were adopted
    /// first (the runtime passes the re-read file, or the current one).
    pub fn plan(&self, config: &Inittab, group: &str, level: &str) -> Plan {
        let mut plan = Plan { group: group.to_string(), level: level.to_string(), ..Plan::default() };
        if let Some(refusal) = self.refuse_tell(config, group, level) {
            plan.error = Some(refusal.message);
            return plan;
        }
        let mut kept = Vec::new();
        for (tag, p) in self.records_of(group) {
            let keep = p.phase != Phase::Stopping && keeps(config.entry(tag).map(Arc::as_ref), &p.entry, group, level);
            match (keep, p.has_live_processes()) {
                (true, true) => {
                    plan.keep.push(tag.clone());
                    kept.push(tag.as_str());
                }
                (true, false) => kept.push(tag.as_str()),
                (false, true) => plan.stop.push(tag.clone()),
                (false, false) => {}
            }
        }
        for e in config.entries_of(group).filter(|e| e.in_level(level)) {
            if !kept.contains(&e.tag.as_str()) {
                plan.start.push(e.tag.clone());
            } else if !plan.keep.contains(&e.tag) {
                plan.done.push(e.tag.clone());
            }
        }
        plan
    }

    /// Adopts a validated new isinittab (SPEC §6 reload): processes of
    /// removed groups and of removed, changed or `off` entries stop; every
    /// told group re-applies its level, which starts new entries.
    pub fn reload(&mut self, now: Now, config: Inittab) -> Result<(), ErrorReply> {
        if self.halting {
            return Err(ErrorReply::new(ErrorKind::Rejected, "daemon is shutting down"));
        }
        let changed = config.sha256 != self.config.sha256 || config.path != self.config.path;
        self.config = config;
        self.sync_groups(now);
        let (config, procs) = (&self.config, &self.procs);
        self.exits.retain(|tag, _| config.entry(tag).is_some() || procs.contains_key(tag));
        if changed {
            self.effects.push(Effect::Publish(Event::ConfigChanged {
                path: self.config.path.display().to_string(),
                sha256: self.config.sha256.clone(),
            }));
        }
        let told: Vec<(String, String)> =
            self.groups.iter().filter_map(|(n, g)| g.level.clone().map(|l| (n.clone(), l))).collect();
        for (name, level) in told {
            self.apply_level(now, &name, &level);
        }
        self.sync_probes(now);
        Ok(())
    }

    /// Begins shutdown: every group `HALTING`, every process stopped. An
    /// [`Effect::Exit`] follows once nothing is left.
    pub fn shutdown(&mut self, now: Now) {
        if self.halting {
            return;
        }
        self.halting = true;
        self.effects.push(Effect::Publish(Event::Halting));
        let names: Vec<String> = self.groups.keys().cloned().collect();
        for name in names {
            self.step(&name, GroupEvent::Halt, now);
        }
        let tags: Vec<String> = self.procs.keys().cloned().collect();
        for tag in tags {
            self.retire(now, &tag);
        }
        self.check_exit();
    }

    /// A second shutdown request while halting (an operator pressing
    /// Ctrl-C again): skip the rest of the graceful escalation and send
    /// SIGKILL to everything still running.
    pub fn hurry(&mut self) {
        if !self.halting {
            return;
        }
        let pgids: Vec<i32> = self.procs.values().flat_map(|p| p.pgids.iter().copied()).collect();
        for pgid in pgids {
            self.effects.push(Effect::Signal { pgid, signal: super::StopSignal::Kill });
        }
    }

    pub(super) fn check_exit(&mut self) {
        if self.halting && self.procs.is_empty() && !self.effects.contains(&Effect::Exit) {
            self.effects.push(Effect::Exit);
        }
    }

    /// The stop phase of a tell, then the start phase.
    pub(super) fn apply_level(&mut self, now: Now, group: &str, level: &str) {
        let Some(g) = self.groups.get_mut(group) else { return };
        g.level = Some(level.to_string());
        self.dirty_groups.insert(group.to_string());
        self.status_dirty = true;
        self.step(group, GroupEvent::Told, now);
        let tags: Vec<String> = self.records_of(group).map(|(t, _)| t.clone()).collect();
        for tag in tags {
            // Re-checked per tag: retiring one record can let another
            // group start a record under a tag listed here.
            let Some(p) = self.procs.get_mut(&tag) else { continue };
            if p.phase == Phase::Stopping || p.entry.group != group {
                continue;
            }
            let newer = self.config.entry(&tag);
            if keeps(newer.map(Arc::as_ref), &p.entry, group, level) {
                // The record points at the entry in force, so an old
                // file's entries are not kept alive by it; it is shown as
                // changed only if the entry is.
                if let Some(newer) = newer
                    && !Arc::ptr_eq(&p.entry, newer)
                {
                    let changed = p.entry != *newer;
                    p.entry = Arc::clone(newer);
                    if changed {
                        self.dirty_procs.insert(tag);
                    }
                }
            } else {
                self.retire(now, &tag);
            }
        }
        self.advance(now, group);
    }

    /// Moves a group's switch forward as far as it can go now.
    pub(super) fn advance(&mut self, now: Now, group: &str) {
        // The level's entries, computed once per call: a 1,000-entry group
        // starts in one pass without re-scanning the file per entry.
        let mut entries: Option<Vec<Arc<Entry>>> = None;
        loop {
            let Some(g) = self.groups.get(group) else { return };
            let event = match &g.phase {
                GroupPhase::Stopping => {
                    if self.records_of(group).any(|(_, p)| p.phase == Phase::Stopping) {
                        return;
                    }
                    GroupEvent::StopsFinished
                }
                GroupPhase::Starting { cursor, waiting_on: None } => {
                    let Some(level) = g.level.clone() else { return };
                    let cursor = *cursor;
                    let entries = entries.get_or_insert_with(|| {
                        self.config.entries_of(group).filter(|e| e.in_level(&level)).cloned().collect()
                    });
                    match entries.get(cursor).cloned() {
                        None => GroupEvent::Completed(self.result_of(entries)),
                        Some(entry) => match self.procs.get(&entry.tag) {
                            // Moved here from another group by a reload
                            // (SPEC §6): it starts once the old record,
                            // being stopped, is gone.
                            Some(p) if p.entry.group != group => GroupEvent::Blocked(entry.tag.clone()),
                            Some(p) => GroupEvent::Passed { waits_for: p.holds_start().then_some(entry.tag.clone()) },
                            None => {
                                self.start(now, &entry, &level);
                                GroupEvent::Passed { waits_for: entry.mode.gates_start().then_some(entry.tag.clone()) }
                            }
                        },
                    }
                }
                _ => return,
            };
            let completed = matches!(event, GroupEvent::Completed(_));
            if !self.step(group, event, now) {
                return;
            }
            if completed && let Some(g) = self.groups.get(group) {
                let state = super::snapshot::group_state(&g.phase);
                self.timeline_finished(now, group, state);
            }
        }
    }

    /// SPEC §3.5: FAILED if a test failed; PASSED if every entry is a test
    /// and all passed; otherwise DONE (also for a level with no entries).
    fn result_of(&self, entries: &[Arc<Entry>]) -> Outcome {
        let procs: Vec<_> = entries.iter().map(|e| self.procs.get(&e.tag)).collect();
        if procs.iter().flatten().any(|p| p.test_failed()) {
            Outcome::Failed
        } else if !procs.is_empty() && procs.iter().all(|p| p.is_some_and(|p| p.test_passed())) {
            Outcome::Passed
        } else {
            Outcome::Done
        }
    }

    /// Called when `tag` is done as far as `group`'s start is concerned: a
    /// foreground entry finished or failed to start, a `notify` entry
    /// reported `READY=1`, or the record of another group that held the tag
    /// was forgotten.
    pub(super) fn foreground_finished(&mut self, now: Now, group: &str, tag: &str) {
        if self.step(group, GroupEvent::Finished(tag.to_string()), now) {
            self.advance(now, group);
        }
    }
}

/// Whether a live process started for `current` stays up when its group
/// `group` switches to `level` under the entry `newer` from the file.
fn keeps(newer: Option<&Entry>, current: &Entry, group: &str, level: &str) -> bool {
    newer.is_some_and(|n| n.group == group && n.in_level(level) && !current.needs_restart_for(n))
}
