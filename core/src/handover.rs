//! The supervisor's whole state as plain data, for `isinit reexec` (SPEC
//! §10): what one daemon image hands to the next through `execve`.
//!
//! Monotonic instants mean nothing to another image's clock reading, so
//! every one is turned into a duration relative to "now" on export and
//! back on import. A group's progress is kept as its state; a group that
//! was starting walks its level again from the first entry, which starts
//! nothing twice (entries with a record are skipped) and waits again on a
//! foreground entry still running.

use super::AfterStop;
use super::group_phase::{GroupPhase, Outcome};
use super::process::{Phase, Proc};
use super::snapshot::group_state;
use super::timers::{Timer, Timers};
use super::{Group, Now, StopSignal, Supervisor, Timing};
use isinit_shared::config::{Entry, Inittab, Levels, Mode};
use isinit_shared::protocol::{ExitRecord, ExitStatus, GroupState};
use isinit_shared::time::UnixMillis;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

/// Everything the supervisor knows, ready to cross an `execve`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SupervisorState {
    /// Every group with a record.
    pub groups: Vec<SavedGroup>,
    /// Every process record.
    pub procs: Vec<SavedProc>,
    /// Exit history per tag.
    pub exits: Vec<(String, Vec<SavedExit>)>,
    /// Pending escalations and throttled respawns.
    pub timers: Vec<SavedTimer>,
    /// Whether shutdown had begun.
    pub halting: bool,
}

/// One past exit, in the layout of handover version 2: the protocol's
/// [`ExitRecord`] gained a `reason` (SPEC §17), which would change the
/// handover's shape and refuse a reexec from an image of that version.
/// The reason is therefore not handed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedExit {
    /// When the exit was reaped.
    pub at_ms: UnixMillis,
    /// How it ended.
    pub status: ExitStatus,
    /// How long that run lasted.
    pub ran_ms: u64,
}

/// One group's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedGroup {
    /// Its name.
    pub name: String,
    /// The level last told.
    pub level: Option<String>,
    /// Where its switch is.
    pub state: GroupState,
    /// When it entered that state.
    pub since_ms: UnixMillis,
    /// False for a removed group whose processes are still stopping.
    pub in_file: bool,
}

/// An entry as a process record holds it (which may differ from the file
/// in force: a removed entry still stopping).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedEntry {
    /// Its group.
    pub group: String,
    /// Its tag.
    pub tag: String,
    /// Its runlevels field as written.
    pub levels: String,
    /// Its mode.
    pub mode: Mode,
    /// Its command.
    pub command: String,
    /// Its line in the file.
    pub line: usize,
}

/// Where a process record is; deadlines as time left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SavedPhase {
    /// Alive (or being started).
    Running,
    /// Ran and exited.
    Exited,
    /// Throttled: restarts after `left_ms`.
    Backoff {
        /// Time left until the restart.
        left_ms: u64,
        /// The restart as operators see it.
        until_ms: UnixMillis,
    },
    /// Could not be started.
    FailedToStart(String),
    /// Being stopped.
    Stopping,
}

/// One process record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedProc {
    /// The entry it was started for.
    pub entry: SavedEntry,
    /// Where it is.
    pub phase: SavedPhase,
    /// Its leader, while alive.
    pub pid: Option<i32>,
    /// Process groups that may still have members.
    pub pgids: Vec<i32>,
    /// How long ago it started.
    pub started_ago_ms: Option<u64>,
    /// When it started, as operators see it.
    pub started_at_ms: Option<UnixMillis>,
    /// Restarts since the record was created.
    pub respawns: u32,
    /// Quick successive starts so far.
    pub rapid_starts: u32,
    /// How it last ended.
    pub last_exit: Option<ExitStatus>,
    /// Why it last failed to start.
    pub start_error: Option<String>,
    /// Not our child (adopted after a daemon was killed).
    pub adopted: bool,
    /// What happens once its stop (if any) finishes.
    pub after_stop: SavedAfterStop,
    /// A `notify` process that reported `READY=1`.
    pub ready: bool,
    /// Its last `STATUS=` text.
    pub status_text: Option<String>,
}

/// The signal a pending escalation will send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SavedSignal {
    /// SIGINT.
    Int,
    /// SIGTERM.
    Term,
    /// SIGKILL.
    Kill,
}

/// A pending deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SavedTimer {
    /// Send `signal` to `pgid` of `tag` in `left_ms`.
    Escalate {
        /// The record being stopped.
        tag: String,
        /// Its process group.
        pgid: i32,
        /// The next signal.
        signal: SavedSignal,
        /// Time left.
        left_ms: u64,
    },
    /// Restart the throttled `tag` in `left_ms`.
    Respawn {
        /// The throttled record.
        tag: String,
        /// Time left.
        left_ms: u64,
    },
    /// Stop and start again the `notify` process `pid` of `tag` if it has
    /// not reported `READY=1` in `left_ms`.
    ReadyTimeout {
        /// The `notify` record.
        tag: String,
        /// The run the deadline is for.
        pid: i32,
        /// Time left.
        left_ms: u64,
    },
}

/// What happens to a record once its stop finishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SavedAfterStop {
    /// Forgotten.
    Forget,
    /// Started again (`isinit restart`).
    Restart,
    /// Started again like a respawn (a `notify` ready timeout).
    Respawn,
}

/// The phase a handed-over group state resumes in. A group that was
/// starting walks its level again from the first entry: what runs or ran is
/// passed over, a foreground entry still running is waited for again.
fn phase_of(state: GroupState) -> GroupPhase {
    match state {
        GroupState::Configured => GroupPhase::Configured,
        GroupState::Stopping => GroupPhase::Stopping,
        GroupState::Starting => GroupPhase::Starting { cursor: 0, waiting_on: None },
        GroupState::Done => GroupPhase::Settled(Outcome::Done),
        GroupState::Passed => GroupPhase::Settled(Outcome::Passed),
        GroupState::Failed => GroupPhase::Settled(Outcome::Failed),
        GroupState::Halting => GroupPhase::Halting,
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Supervisor {
    /// The whole state, with every instant relative to `now`.
    pub fn export(&self, now: Now) -> SupervisorState {
        let left = |at: std::time::Instant| ms(at.saturating_duration_since(now.mono));
        let groups = self
            .groups
            .iter()
            .map(|(name, g)| SavedGroup {
                name: name.clone(),
                level: g.level.clone(),
                state: group_state(&g.phase),
                since_ms: g.since_ms,
                in_file: g.in_file,
            })
            .collect();
        let procs = self
            .procs
            .values()
            .map(|p| SavedProc {
                entry: SavedEntry {
                    group: p.entry.group.clone(),
                    tag: p.entry.tag.clone(),
                    levels: p.entry.levels.raw().to_string(),
                    mode: p.entry.mode,
                    command: p.entry.command.clone(),
                    line: p.entry.line,
                },
                phase: match &p.phase {
                    Phase::Running => SavedPhase::Running,
                    Phase::Exited => SavedPhase::Exited,
                    Phase::Backoff { until, until_ms } => {
                        SavedPhase::Backoff { left_ms: left(*until), until_ms: *until_ms }
                    }
                    Phase::FailedToStart(e) => SavedPhase::FailedToStart(e.clone()),
                    Phase::Stopping => SavedPhase::Stopping,
                },
                pid: p.pid,
                pgids: p.pgids.iter().copied().collect(),
                started_ago_ms: p.started_at.map(|t| ms(now.mono.saturating_duration_since(t))),
                started_at_ms: p.started_at_ms,
                respawns: p.respawns,
                rapid_starts: p.rapid_starts,
                last_exit: p.last_exit,
                start_error: p.start_error.clone(),
                adopted: p.adopted,
                after_stop: match p.after_stop {
                    AfterStop::Forget => SavedAfterStop::Forget,
                    AfterStop::Restart => SavedAfterStop::Restart,
                    AfterStop::Respawn => SavedAfterStop::Respawn,
                },
                ready: p.ready,
                status_text: p.status_text.clone(),
            })
            .collect();
        let exits = self
            .exits
            .iter()
            .map(|(t, e)| {
                (
                    t.clone(),
                    e.iter().map(|r| SavedExit { at_ms: r.at_ms, status: r.status, ran_ms: r.ran_ms }).collect(),
                )
            })
            .collect();
        let timers = self
            .timers
            .entries()
            .filter_map(|(at, t)| {
                Some(match t {
                    Timer::Escalate { tag, pgid, signal } => SavedTimer::Escalate {
                        tag: tag.clone(),
                        pgid: *pgid,
                        signal: match signal {
                            StopSignal::Int => SavedSignal::Int,
                            StopSignal::Term => SavedSignal::Term,
                            StopSignal::Kill => SavedSignal::Kill,
                        },
                        left_ms: left(at),
                    },
                    Timer::Respawn { tag } => SavedTimer::Respawn { tag: tag.clone(), left_ms: left(at) },
                    Timer::ReadyTimeout { tag, pid } => {
                        SavedTimer::ReadyTimeout { tag: tag.clone(), pid: *pid, left_ms: left(at) }
                    }
                    // Not handed over: the new image times a first check of
                    // every probed process afresh (`sync_probes`).
                    // Nor the watchdog's: the next WATCHDOG=1 arms it again.
                    Timer::Probe { .. } | Timer::Watchdog { .. } => return None,
                })
            })
            .collect();
        SupervisorState { groups, procs, exits, timers, halting: self.halting }
    }

    /// A supervisor for `config` carrying on from `state` (see the module
    /// documentation). Groups that were switching move on as far as they
    /// can at once; their effects are the caller's to carry out.
    pub fn import(config: Inittab, timing: Timing, now: Now, state: SupervisorState) -> Supervisor {
        let at = |left_ms: u64| now.after(Duration::from_millis(left_ms)).mono;
        let mut s = Supervisor::new(config, timing, now);
        for g in state.groups {
            let group = Group {
                level: g.level,
                phase: phase_of(g.state),
                since_ms: g.since_ms,
                in_file: g.in_file,
                owner: None,
            };
            s.groups.insert(g.name, group);
        }
        for p in state.procs {
            let e = p.entry;
            let entry = Entry {
                group: e.group,
                tag: e.tag.clone(),
                levels: Levels::from_field(&e.levels),
                mode: e.mode,
                command: e.command,
                line: e.line,
            };
            // The file's own entry when it is the same, as a fresh start
            // would have it: one copy, not two (issue 22).
            let entry = match s.config.entry(&entry.tag) {
                Some(current) if **current == entry => Arc::clone(current),
                _ => Arc::new(entry),
            };
            let mut rec = Proc::new(entry);
            rec.phase = match p.phase {
                SavedPhase::Running => Phase::Running,
                SavedPhase::Exited => Phase::Exited,
                SavedPhase::Backoff { left_ms, until_ms } => Phase::Backoff { until: at(left_ms), until_ms },
                SavedPhase::FailedToStart(e) => Phase::FailedToStart(e),
                SavedPhase::Stopping => Phase::Stopping,
            };
            rec.pid = p.pid;
            if let Some(pid) = p.pid {
                s.by_pid.insert(pid, e.tag.clone());
            }
            rec.pgids = p.pgids.into_iter().collect::<BTreeSet<i32>>();
            rec.started_at = p.started_ago_ms.map(|ago| now.before(Duration::from_millis(ago)).mono);
            rec.started_at_ms = p.started_at_ms;
            rec.respawns = p.respawns;
            rec.rapid_starts = p.rapid_starts;
            rec.last_exit = p.last_exit;
            rec.start_error = p.start_error;
            rec.adopted = p.adopted;
            rec.after_stop = match p.after_stop {
                SavedAfterStop::Forget => AfterStop::Forget,
                SavedAfterStop::Restart => AfterStop::Restart,
                SavedAfterStop::Respawn => AfterStop::Respawn,
            };
            rec.ready = p.ready;
            rec.status_text = p.status_text;
            s.insert_record(e.tag, rec);
        }
        s.exits = state
            .exits
            .into_iter()
            .map(|(t, e)| {
                let e = e.into_iter().map(|r| ExitRecord {
                    at_ms: r.at_ms,
                    status: r.status,
                    ran_ms: r.ran_ms,
                    reason: None,
                });
                (t, e.collect::<VecDeque<_>>())
            })
            .collect::<HashMap<_, _>>();
        s.timers = Timers::default();
        for t in state.timers {
            match t {
                SavedTimer::Escalate { tag, pgid, signal, left_ms } => {
                    let signal = match signal {
                        SavedSignal::Int => StopSignal::Int,
                        SavedSignal::Term => StopSignal::Term,
                        SavedSignal::Kill => StopSignal::Kill,
                    };
                    s.timers.arm(at(left_ms), Timer::Escalate { tag, pgid, signal });
                }
                SavedTimer::Respawn { tag, left_ms } => s.timers.arm(at(left_ms), Timer::Respawn { tag }),
                SavedTimer::ReadyTimeout { tag, pid, left_ms } => {
                    s.timers.arm(at(left_ms), Timer::ReadyTimeout { tag, pid })
                }
            }
        }
        s.halting = state.halting;
        s.sync_probes(now);
        s.dirty_groups.extend(s.groups.keys().cloned());
        s.dirty_procs.extend(s.procs.keys().cloned());
        s.status_dirty = true;
        let switching: Vec<String> = s
            .groups
            .iter()
            .filter(|(_, g)| matches!(g.phase, GroupPhase::Stopping | GroupPhase::Starting { .. }))
            .map(|(n, _)| n.clone())
            .collect();
        if !s.halting {
            for name in switching {
                s.advance(now, &name);
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Effect;
    use std::path::Path;

    const TAB: &str = "g:r:1:respawn:sleep 1\ng:s:1:respawn:sleep 2\ng:w:1:wait:true\nh:flap:1:respawn:false\n";

    /// Answers every spawn with a made-up pid.
    fn settle(s: &mut Supervisor, now: Now, next_pid: &mut i32) {
        loop {
            let effects = s.take_effects();
            if effects.is_empty() {
                return;
            }
            for e in effects {
                if let Effect::Spawn(req) = e {
                    *next_pid += 1;
                    s.spawned(now, &req.tag, Ok(*next_pid));
                }
            }
        }
    }

    #[test]
    fn export_then_import_is_the_same_supervisor() {
        let tab = Inittab::from_bytes(Path::new("/t"), TAB.as_bytes()).unwrap();
        let now = Now::real();
        let mut pid = 100;
        let mut s = Supervisor::new(tab.clone(), Timing::default(), now);
        s.tell(now, "g", "1").unwrap();
        s.tell(now, "h", "1").unwrap();
        settle(&mut s, now, &mut pid);
        // g waits on w; flap is throttled after rapid exits; s is stopping.
        for _ in 0..7 {
            if let Some(p) = s.procs.get("flap").and_then(|p| p.pid) {
                s.child_exited(now, p, ExitStatus::Code(1));
                settle(&mut s, now, &mut pid);
            }
        }
        assert!(matches!(s.procs["flap"].phase, Phase::Backoff { .. }));
        s.retire(now, "s");
        let state = s.export(now);
        let back = Supervisor::import(tab, Timing::default(), now, state.clone());
        assert_eq!(back.export(now), state);
        assert_eq!(back.groups(), s.groups());
        assert_eq!(back.processes(), s.processes());
        assert_eq!(
            back.next_deadline().map(|d| d.saturating_duration_since(now.mono).as_millis() / 10),
            s.next_deadline().map(|d| d.saturating_duration_since(now.mono).as_millis() / 10)
        );
        assert_eq!(back.procs["s"].phase, Phase::Stopping);
        assert!(matches!(back.groups["g"].phase, GroupPhase::Starting { .. }));
        assert!(
            matches!(&back.groups["g"].phase, GroupPhase::Starting { waiting_on: Some(w), .. } if w == "w"),
            "still waiting on the running wait"
        );
    }
}
