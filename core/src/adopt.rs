//! Surviving a daemon that died (SPEC §10): what a tell leaves to persist
//! (each group's told level and how far it got), and how a new daemon
//! restores it, adopting the processes its predecessor left running
//! instead of starting them a second time.

use super::group_phase::{GroupEvent, GroupPhase};
use super::process::{Phase, Proc};
use super::snapshot::group_state;
use super::{Now, Supervisor};
use isinit_shared::config::{Entry, Mode, valid_level};
use isinit_shared::protocol::{ExitStatus, GroupState};
use isinit_shared::time::UnixMillis;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// One group's told level as the state file keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedLevel {
    /// The resource group.
    pub group: String,
    /// The level last told.
    pub level: String,
    /// `DONE`, `PASSED` or `FAILED` once the switch had finished; `None`
    /// while it was still stopping or starting (the start phase then runs
    /// again).
    pub settled: Option<GroupState>,
    /// The group's process records: a `once`/`wait`/`test` entry of a
    /// settled level that had run to its end is not run again; a respawn
    /// entry keeps its restart count.
    pub ran: Vec<Ran>,
    /// The cluster manager's resource that owns the group (SPEC §18);
    /// absent from files written before owners existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<isinit_shared::protocol::Owner>,
}

/// The state file's lines that changed ([`Supervisor::saved_changes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedChanges {
    /// The lines below are every line the file has: drop any other.
    pub whole: bool,
    /// Each changed group's line, `None` where the group has none now.
    pub groups: Vec<(String, Option<SavedLevel>)>,
}

/// One process record, as the state file keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ran {
    /// Its tag.
    pub tag: String,
    /// Whether it had run to its end (rather than running, or waiting to
    /// be restarted).
    pub finished: bool,
    /// How it last ended.
    pub last_exit: Option<ExitStatus>,
    /// When it last started.
    pub started_at_ms: Option<UnixMillis>,
    /// Restarts so far.
    pub respawns: u32,
    /// The running process's pid. With `start_ticks`, the only thing that
    /// makes a process found after a restart this record's (SPEC §15):
    /// its environment marks anyone can forge. Absent in files of older
    /// daemons: their processes are stopped and started again, since an
    /// unknown is safer to restart than to trust.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    /// Its start time in clock ticks since boot, exactly as field 22 of
    /// `/proc/PID/stat` gives it (unlike `started_at_ms`, exact: a pid
    /// taken again by another process has another).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ticks: Option<u64>,
}

/// A process a previous daemon left running, as `/proc` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Orphan {
    /// Its pid.
    pub pid: i32,
    /// Its process group.
    pub pgid: i32,
    /// Its `ISINIT_ENTRY` mark, if it has one (older daemons set none).
    pub mark: Option<String>,
    /// When it started (wall clock), from `/proc/PID/stat`.
    pub started_at_ms: UnixMillis,
    /// When it started, in clock ticks since boot (`/proc/PID/stat` field
    /// 22), to compare with the state file's record.
    pub start_ticks: u64,
    /// Whether it runs as the user the daemon runs its children as.
    pub own_uid: bool,
    /// The entry cgroup it was found in, if any.
    pub cgroup: Option<PathBuf>,
}

impl Orphan {
    /// Whether this is the process the state file recorded as `ran`'s
    /// running one, started for the entry whose mark is `mark` and, where
    /// cgroups are used, whose cgroup is `cgroup` (SPEC §15): the exact pid
    /// and start time a previous daemon recorded (which only it can have
    /// written: the file is its own), the leader of its process group, the
    /// mark of the entry as the file now has it (a changed entry is not
    /// adopted), the daemon's children's user, and the entry's cgroup.
    pub fn is_recorded(&self, ran: Option<&Ran>, mark: &str, cgroup: Option<&Path>) -> bool {
        ran.is_some_and(|r| r.pid == Some(self.pid) && r.start_ticks == Some(self.start_ticks))
            && self.pid == self.pgid
            && self.own_uid
            && self.mark.as_deref() == Some(mark)
            && cgroup.is_none_or(|dir| self.cgroup.as_deref() == Some(dir))
    }
}

impl Supervisor {
    /// The mark every child carries in `ISINIT_ENTRY`: a digest of what
    /// makes a process the one of an entry — group, tag, mode and command.
    /// A process whose entry changed in any of these is not adopted.
    pub fn entry_mark(entry: &Entry) -> String {
        let mut h = Sha256::new();
        for part in [entry.group.as_str(), entry.tag.as_str(), entry.mode.as_str(), entry.command.as_str()] {
            h.update(part.as_bytes());
            h.update([0u8]);
        }
        h.finalize().iter().take(12).map(|b| format!("{b:02x}")).collect()
    }

    /// Every told group's level and progress, for the state file.
    pub fn saved_levels(&self) -> Vec<SavedLevel> {
        self.groups.keys().filter_map(|name| self.saved_level_of(name)).collect()
    }

    /// What the state file holds for `group`: `None` for a group it has
    /// no line for (never told, gone from the file, or unknown).
    pub fn saved_level_of(&self, group: &str) -> Option<SavedLevel> {
        let g = self.groups.get(group).filter(|g| g.in_file)?;
        let level = g.level.clone()?;
        let settled = matches!(g.phase, GroupPhase::Settled(_)).then(|| group_state(&g.phase));
        let ran = self
            .records_of(group)
            .filter(|(_, p)| p.phase != Phase::Stopping)
            .map(|(tag, p)| Ran {
                tag: tag.clone(),
                finished: p.entry.mode != Mode::Respawn && matches!(p.phase, Phase::Exited | Phase::FailedToStart(_)),
                last_exit: p.last_exit,
                started_at_ms: p.started_at_ms,
                respawns: p.respawns,
                pid: p.pid,
                start_ticks: p.pid.and(p.start_ticks),
            })
            .collect();
        Some(SavedLevel { group: group.to_string(), level, settled, ran, owner: g.owner.clone() })
    }

    /// The groups whose line of the state file may have changed since the
    /// last call, each with its line now (`None`: no line), or every
    /// group's after a change that can touch any (start, reload, restore).
    /// Issue 22: a change costs the runtime the groups it touched, not a
    /// copy of every record — the state file's writer keeps the rest.
    pub fn saved_changes(&mut self) -> SavedChanges {
        self.note_saved_changes();
        if std::mem::take(&mut self.saved_all) {
            self.saved_dirty.clear();
            return SavedChanges {
                whole: true,
                groups: self.saved_levels().into_iter().map(|s| (s.group.clone(), Some(s))).collect(),
            };
        }
        let dirty = std::mem::take(&mut self.saved_dirty);
        let groups = dirty.into_iter().map(|name| {
            let line = self.saved_level_of(&name);
            (name, line)
        });
        SavedChanges { whole: false, groups: groups.collect() }
    }

    /// Folds the records and groups changed since the last flush into the
    /// groups whose state-file line may have changed.
    pub(super) fn note_saved_changes(&mut self) {
        for tag in &self.dirty_procs {
            let group =
                self.procs.get(tag).map(|p| &p.entry.group).or_else(|| self.config.entry(tag).map(|e| &e.group));
            // None: a forgotten record of a removed entry (`forget` named
            // its group).
            if let Some(group) = group
                && !self.saved_dirty.contains(group)
            {
                self.saved_dirty.insert(group.clone());
            }
        }
        self.saved_dirty.extend(self.dirty_groups.iter().cloned());
    }

    /// Restores the levels of a state file at start-up. An orphan that is
    /// the process recorded for an entry of its group's restored level
    /// ([`Orphan::is_recorded`]; `cgroup_of` gives an entry's cgroup where
    /// cgroups are used) is adopted as that entry's running process; a
    /// settled group's `once`/`wait`/`test` entries count as run; then
    /// each group's start phase starts what is missing, in file order.
    /// Returns the pids adopted; every other orphan is the caller's to stop.
    pub fn restore(
        &mut self,
        now: Now,
        saved: &[SavedLevel],
        orphans: &[Orphan],
        cgroup_of: &dyn Fn(&Entry) -> Option<PathBuf>,
    ) -> Vec<i32> {
        self.saved_all = true;
        self.sweep_all = true;
        self.dropped.all = true;
        let mut adopted = Vec::new();
        for s in saved {
            if !valid_level(&s.level) || !self.groups.get(&s.group).is_some_and(|g| g.in_file) {
                self.log(format!("state file: group {} level {} is not in the isinittab; ignored", s.group, s.level));
                continue;
            }
            let entries: Vec<Arc<Entry>> = self
                .config
                .entries_of(&s.group)
                .filter(|e| e.in_level(&s.level) && e.mode != Mode::Off)
                .cloned()
                .collect();
            for e in &entries {
                let (mark, cgroup) = (Self::entry_mark(e), cgroup_of(e));
                let ran = s.ran.iter().find(|r| r.tag == e.tag);
                let orphan =
                    orphans.iter().find(|o| o.is_recorded(ran, &mark, cgroup.as_deref()) && !adopted.contains(&o.pid));
                if let Some(o) = orphan {
                    self.adopt(now, e, o);
                    if let (Some(p), Some(r)) = (self.procs.get_mut(&e.tag), ran) {
                        p.respawns = r.respawns;
                        p.last_exit = r.last_exit;
                    }
                    adopted.push(o.pid);
                } else if s.settled.is_some() && e.mode != Mode::Respawn {
                    // (A `once` that was still running and has since ended
                    // is not found among the orphans either: it ran.)
                    // It ran to its end under the previous daemon (or ran
                    // and died while no daemon watched): not again.
                    let ran = ran.filter(|r| r.finished);
                    let mut p = Proc::new(Arc::clone(e));
                    p.phase = Phase::Exited;
                    p.last_exit = ran.map_or(Some(ExitStatus::Unknown), |r| r.last_exit);
                    p.started_at_ms = ran.and_then(|r| r.started_at_ms);
                    self.insert_record(e.tag.clone(), p);
                    self.dirty_procs.insert(e.tag.clone());
                }
            }
            if let Some(g) = self.groups.get_mut(&s.group) {
                g.level = Some(s.level.clone());
                g.owner = s.owner.clone();
            }
            self.dirty_groups.insert(s.group.clone());
            self.status_dirty = true;
            // A switch with nothing to stop: the start phase walks the
            // level, passing what was adopted or counts as run.
            self.step(&s.group, GroupEvent::Told, now);
            self.advance(now, &s.group);
        }
        adopted
    }

    /// Takes `orphan` on as the running process of `entry`.
    fn adopt(&mut self, now: Now, entry: &Arc<Entry>, orphan: &Orphan) {
        let age = Duration::from_millis(now.wall_ms.saturating_sub(orphan.started_at_ms));
        let mut p = Proc::new(Arc::clone(entry));
        p.pid = Some(orphan.pid);
        p.pgids.insert(orphan.pgid);
        p.started_at = Some(now.before(age).mono);
        p.started_at_ms = Some(orphan.started_at_ms);
        p.start_ticks = Some(orphan.start_ticks);
        p.adopted = true;
        // A `notify` process reported READY=1 to the daemon that started it
        // (nothing tells it to say so again): count it ready, so that its
        // group does not hold for a report that will not come.
        p.ready = true;
        self.log(format!("{}: adopted pid {} left running by the previous daemon", entry.tag, orphan.pid));
        self.insert_record(entry.tag.clone(), p);
        self.by_pid.insert(orphan.pid, entry.tag.clone());
        self.dirty_procs.insert(entry.tag.clone());
        self.arm_first_probe(now, &entry.tag, orphan.pid);
    }

    /// Keeps a process group a previous daemon's run of `tag` left behind
    /// (a double-forked daemon of a `once` entry, found in the entry's
    /// cgroup) as the record's, so it is stopped when the group leaves the
    /// level — as it would have been had the daemon not restarted. False
    /// if the tag has no record at the restored level, or one that runs
    /// (or is about to run) a process of its own — a respawn entry, or a
    /// run that was not recorded and is started again: keeping the old
    /// one beside it would run the entry twice. Then it is a stray.
    pub fn keep_lingering(&mut self, tag: &str, pgid: i32) -> bool {
        let Some(p) = self.procs.get_mut(tag) else { return false };
        if p.phase != Phase::Exited {
            return false;
        }
        p.pgids.insert(pgid);
        self.dirty_procs.insert(tag.to_string());
        true
    }

    /// Records the start time (clock ticks since boot, `/proc/PID/stat`
    /// field 22) of `tag`'s leader `pid`, read by the runtime while that
    /// child was not yet reaped: the state file keeps it, so that a
    /// daemon started after this one dies adopts that process and no other.
    pub fn note_start_ticks(&mut self, tag: &str, pid: i32, ticks: u64) {
        if let Some(p) = self.procs.get_mut(tag).filter(|p| p.pid == Some(pid)) {
            p.start_ticks = Some(ticks);
        }
    }

    /// Every record's living leader (tag, pid), whose start time the
    /// runtime reads again after `reexec` (the handover does not carry it).
    pub fn leaders(&self) -> Vec<(String, i32)> {
        self.procs.iter().filter_map(|(tag, p)| Some((tag.clone(), p.pid?))).collect()
    }

    /// Pids of adopted leaders still alive: their ends are watched with
    /// pidfds, since `waitpid` cannot see them.
    pub fn adopted_pids(&self) -> Vec<i32> {
        self.procs.values().filter(|p| p.adopted).filter_map(|p| p.pid).collect()
    }
}
