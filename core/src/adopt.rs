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
        self.groups
            .iter()
            .filter(|(_, g)| g.in_file)
            .filter_map(|(name, g)| {
                let level = g.level.clone()?;
                let settled = matches!(g.phase, GroupPhase::Settled(_)).then(|| group_state(&g.phase));
                let ran = self
                    .procs
                    .iter()
                    .filter(|(_, p)| p.entry.group == *name && p.phase != Phase::Stopping)
                    .map(|(tag, p)| Ran {
                        tag: tag.clone(),
                        finished: p.entry.mode != Mode::Respawn
                            && matches!(p.phase, Phase::Exited | Phase::FailedToStart(_)),
                        last_exit: p.last_exit,
                        started_at_ms: p.started_at_ms,
                        respawns: p.respawns,
                    })
                    .collect();
                Some(SavedLevel { group: name.clone(), level, settled, ran })
            })
            .collect()
    }

    /// Restores the levels of a state file at start-up. An orphan that is
    /// the leader of its process group and carries the mark of an entry of
    /// its group's restored level is adopted as that entry's running
    /// process; a settled group's `once`/`wait`/`test` entries count as run;
    /// then each group's start phase starts what is missing, in file order.
    /// Returns the pids adopted; every other orphan is the caller's to stop.
    pub fn restore(&mut self, now: Now, saved: &[SavedLevel], orphans: &[Orphan]) -> Vec<i32> {
        let mut adopted = Vec::new();
        for s in saved {
            if !valid_level(&s.level) || !self.groups.get(&s.group).is_some_and(|g| g.in_file) {
                self.log(format!("state file: group {} level {} is not in the isinittab; ignored", s.group, s.level));
                continue;
            }
            let entries: Vec<Entry> = self
                .config
                .entries_of(&s.group)
                .filter(|e| e.in_level(&s.level) && e.mode != Mode::Off)
                .cloned()
                .collect();
            for e in &entries {
                let mark = Self::entry_mark(e);
                let orphan = orphans
                    .iter()
                    .find(|o| o.pid == o.pgid && o.mark.as_deref() == Some(mark.as_str()) && !adopted.contains(&o.pid));
                let ran = s.ran.iter().find(|r| r.tag == e.tag);
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
                    let mut p = Proc::new(e.clone());
                    p.phase = Phase::Exited;
                    p.last_exit = ran.map_or(Some(ExitStatus::Unknown), |r| r.last_exit);
                    p.started_at_ms = ran.and_then(|r| r.started_at_ms);
                    self.procs.insert(e.tag.clone(), p);
                    self.dirty_procs.insert(e.tag.clone());
                }
            }
            if let Some(g) = self.groups.get_mut(&s.group) {
                g.level = Some(s.level.clone());
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
    fn adopt(&mut self, now: Now, entry: &Entry, orphan: &Orphan) {
        let age = Duration::from_millis(now.wall_ms.saturating_sub(orphan.started_at_ms));
        let mut p = Proc::new(entry.clone());
        p.pid = Some(orphan.pid);
        p.pgids.insert(orphan.pgid);
        p.started_at = Some(now.before(age).mono);
        p.started_at_ms = Some(orphan.started_at_ms);
        p.adopted = true;
        // A `notify` process reported READY=1 to the daemon that started it
        // (nothing tells it to say so again): count it ready, so that its
        // group does not hold for a report that will not come.
        p.ready = true;
        self.log(format!("{}: adopted pid {} left running by the previous daemon", entry.tag, orphan.pid));
        self.procs.insert(entry.tag.clone(), p);
        self.dirty_procs.insert(entry.tag.clone());
    }

    /// Keeps a process group a previous daemon's run of `tag` left behind
    /// (a double-forked daemon of a `once` entry, found in the entry's
    /// cgroup) as the record's, so it is stopped when the group leaves the
    /// level — as it would have been had the daemon not restarted. False
    /// if the tag has no record at the restored level: then it is a stray.
    pub fn keep_lingering(&mut self, tag: &str, pgid: i32) -> bool {
        let Some(p) = self.procs.get_mut(tag) else { return false };
        if p.phase == Phase::Stopping {
            return false;
        }
        p.pgids.insert(pgid);
        self.dirty_procs.insert(tag.to_string());
        true
    }

    /// Pids of adopted leaders still alive: their ends are watched with
    /// pidfds, since `waitpid` cannot see them.
    pub fn adopted_pids(&self) -> Vec<i32> {
        self.procs.values().filter(|p| p.adopted).filter_map(|p| p.pid).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Effect, Timing};
    use isinit_shared::config::Inittab;
    use std::path::Path;

    const TAB: &str = "g:r:1:respawn:sleep 1\ng:o:1:once:true\ng:n:1:respawn:sleep 2\ng:x:2:respawn:sleep 3\n";

    fn spawned_tags(s: &mut Supervisor) -> Vec<String> {
        s.take_effects()
            .into_iter()
            .filter_map(|e| match e {
                Effect::Spawn(req) => Some(req.tag),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn restore_adopts_matching_leaders_and_starts_only_what_is_missing() {
        let tab = Inittab::from_bytes(Path::new("/t"), TAB.as_bytes()).unwrap();
        let now = Now::real();
        let mut s = Supervisor::new(tab.clone(), Timing::default(), now);
        let mark = |tag: &str| Some(Supervisor::entry_mark(tab.entry(tag).unwrap()));
        let orphans = [
            Orphan { pid: 10, pgid: 10, mark: mark("r"), started_at_ms: now.wall_ms - 5000 },
            // A background job of r: same group, not the leader.
            Orphan { pid: 11, pgid: 10, mark: mark("r"), started_at_ms: now.wall_ms },
            // x is not in level 1; a stale mark matches nothing.
            Orphan { pid: 20, pgid: 20, mark: mark("x"), started_at_ms: now.wall_ms },
            Orphan { pid: 30, pgid: 30, mark: Some("0000".into()), started_at_ms: now.wall_ms },
        ];
        let saved = [SavedLevel {
            group: "g".into(),
            level: "1".into(),
            settled: Some(GroupState::Done),
            ran: vec![
                Ran {
                    tag: "o".into(),
                    finished: true,
                    last_exit: Some(ExitStatus::Code(0)),
                    started_at_ms: None,
                    respawns: 0,
                },
                Ran {
                    tag: "r".into(),
                    finished: false,
                    last_exit: Some(ExitStatus::Code(1)),
                    started_at_ms: None,
                    respawns: 4,
                },
            ],
        }];
        let adopted = s.restore(now, &saved, &orphans);
        assert_eq!(adopted, vec![10]);
        assert_eq!(spawned_tags(&mut s), vec!["n".to_string()], "only the missing respawn starts; once is not re-run");
        let r = &s.procs["r"];
        assert!(r.adopted && r.pid == Some(10) && r.respawns == 4 && r.started_at_ms == Some(now.wall_ms - 5000));
        assert_eq!(s.procs["o"].phase, Phase::Exited);
        assert_eq!(group_state(&s.groups["g"].phase), GroupState::Done);
        assert_eq!(s.adopted_pids(), vec![10]);

        // The once entry's double-forked daemon, found in its cgroup, is
        // kept as the record's and stopped when the group leaves level 1.
        assert!(s.keep_lingering("o", 40));
        assert!(!s.keep_lingering("x", 50), "x has no record at level 1: a stray");
        s.tell(now, "g", "2").expect("tell");
        let signalled: Vec<i32> = s
            .take_effects()
            .into_iter()
            .filter_map(|e| match e {
                Effect::Signal { pgid, .. } => Some(pgid),
                _ => None,
            })
            .collect();
        assert!(signalled.contains(&40) && signalled.contains(&10), "{signalled:?}");
    }

    #[test]
    fn a_group_that_was_switching_runs_its_start_phase_again() {
        let tab = Inittab::from_bytes(Path::new("/t"), TAB.as_bytes()).unwrap();
        let now = Now::real();
        let mut s = Supervisor::new(tab, Timing::default(), now);
        let saved = [SavedLevel { group: "g".into(), level: "1".into(), settled: None, ran: vec![] }];
        assert!(s.restore(now, &saved, &[]).is_empty());
        assert_eq!(spawned_tags(&mut s), ["r", "o", "n"].map(String::from));
    }

    #[test]
    fn marks_differ_by_group_tag_mode_and_command() {
        let tab =
            Inittab::from_bytes(Path::new("/t"), b"g:a:1:respawn:x\ng:b:1:respawn:x\nh:c:1:once:x\nh:d:1:once:y\n")
                .unwrap();
        let marks: std::collections::BTreeSet<String> = tab.entries.iter().map(Supervisor::entry_mark).collect();
        assert_eq!(marks.len(), 4);
    }
}
