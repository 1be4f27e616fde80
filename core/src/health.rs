//! Liveness probes (SPEC §17): when an entry's `:::probe:` is checked, what
//! a result changes, and when a run is stopped for failing.
//!
//! Pure like the rest of the supervisor: a [`Timer::Probe`] per probed
//! process asks for one check ([`Effect::Probe`]), the runtime runs it as a
//! task and answers with [`Supervisor::probed`]; only then is the next check
//! timed, so a process never has two checks at once and a slow check
//! delays the next rather than piling them up.

use super::process::Phase;
use super::timers::Timer;
use super::{Effect, Now, Supervisor};
use isinit_shared::config::{Check, Mode};
use isinit_shared::protocol::{Event, ExitReason, Health};
use std::time::Duration;

/// The longest wait before the first check of a run: a service that binds
/// its port within a second is seen healthy (and a `notify` one ready)
/// within a second, whatever `every=` says.
pub const FIRST_CHECK_AFTER: Duration = Duration::from_secs(1);

/// One check for the runtime to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeRequest {
    /// The entry checked; with `pid`, what the answer names.
    pub tag: String,
    /// The run checked: an answer about an earlier run is dropped.
    pub pid: i32,
    /// For an `exec:` check's environment (`ISINIT_GROUP`).
    pub group: String,
    /// For an `exec:` check's environment (`ISINIT_LEVEL`).
    pub level: String,
    /// What to do.
    pub check: Check,
    /// How long it may take; past it, the check failed.
    pub timeout: Duration,
}

/// What the probe of one process record knows about the current run.
/// Plain data, reset whenever the entry is started anew.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProbeRecord {
    /// What the last finished check said, if any.
    pub last: Option<bool>,
    /// Failed checks in a row.
    pub failed_in_row: u32,
    /// Why the last failed check failed (kept across runs).
    pub last_failure: Option<String>,
    /// A check is running: the next one is timed when it answers.
    pub in_flight: bool,
    /// A check of this run has passed: from then on every failure counts.
    pub passed: bool,
}

impl ProbeRecord {
    /// What `status` shows.
    pub fn health(&self) -> Health {
        match self.last {
            None => Health::NotProbed,
            Some(true) => Health::Healthy,
            Some(false) => Health::Unhealthy,
        }
    }

    /// A new run: nothing is known of it yet.
    pub fn restart(&mut self) {
        self.last = None;
        self.failed_in_row = 0;
        self.in_flight = false;
        self.passed = false;
    }
}

impl Supervisor {
    /// Times the first check of the run `pid` of `tag`, if its entry has a
    /// probe.
    pub(super) fn arm_first_probe(&mut self, now: Now, tag: &str, pid: i32) {
        let Some(probe) = self.config.probe_of(tag) else { return };
        let at = now.after(probe.every.min(FIRST_CHECK_AFTER)).mono;
        self.timers.cancel(tag, |t| matches!(t, Timer::Probe { .. }));
        self.timers.arm(at, Timer::Probe { tag: tag.to_string(), pid });
    }

    /// After a reload, an adoption or a reexec: every running process
    /// whose entry has a probe gets one timed (unless it has one already
    /// or a check is running); one whose probe left the file is no longer
    /// checked.
    pub(super) fn sync_probes(&mut self, now: Now) {
        let timed: Vec<String> = self
            .timers
            .entries()
            .filter(|(_, t)| matches!(t, Timer::Probe { .. }))
            .map(|(_, t)| t.tag().to_string())
            .collect();
        let mut arm = Vec::new();
        let mut dropped = Vec::new();
        for (tag, p) in &self.procs {
            let probed = self.config.probe_of(tag).is_some_and(|_| p.entry.mode != Mode::Off);
            match (probed, p.pid) {
                (true, Some(pid)) if p.phase == Phase::Running && !p.probe.in_flight && !timed.contains(tag) => {
                    arm.push((tag.clone(), pid));
                }
                (false, _) if p.probe != ProbeRecord::default() => dropped.push(tag.clone()),
                _ => {}
            }
        }
        for (tag, pid) in arm {
            self.arm_first_probe(now, &tag, pid);
        }
        for tag in dropped {
            self.timers.cancel(&tag, |t| matches!(t, Timer::Probe { .. }));
            if let Some(p) = self.procs.get_mut(&tag) {
                p.probe = ProbeRecord::default();
            }
            self.dirty_procs.insert(tag);
        }
    }

    /// The check of `tag`'s run `pid` is due: ask the runtime for it.
    pub(super) fn probe_due(&mut self, tag: &str, pid: i32) {
        let Some(probe) = self.config.probe_of(tag) else { return };
        let (check, timeout) = (probe.check.clone(), probe.timeout);
        let Some(p) = self.procs.get_mut(tag) else { return };
        if self.halting || p.pid != Some(pid) || p.phase != Phase::Running || p.probe.in_flight {
            return;
        }
        p.probe.in_flight = true;
        let group = p.entry.group.clone();
        let level = self.groups.get(&group).and_then(|g| g.level.clone()).unwrap_or_default();
        self.effects.push(Effect::Probe(ProbeRequest { tag: tag.to_string(), pid, group, level, check, timeout }));
    }

    /// The runtime's answer to [`Effect::Probe`]: `Ok` if the check
    /// passed, else why it failed.
    ///
    /// A pass makes the run healthy and, on a `notify` entry, ready (SPEC
    /// §11). A failure counts towards `failures` once the run is up — a
    /// check of it passed, or it reported `READY=1` — or once it has had
    /// `ready_timeout` (90 s, like systemd's start timeout) to get there:
    /// a service still starting is not restarted for not listening yet.
    /// The last failure of a row stops the process like a restart (INT →
    /// TERM → KILL), keeping its record running, so that its mode applies
    /// when it exits: a `respawn` comes back as a respawn whose exit
    /// history says `probe failed`.
    pub fn probed(&mut self, now: Now, tag: &str, pid: i32, result: Result<(), String>) {
        let Some(probe) = self.config.probe_of(tag) else {
            if let Some(p) = self.procs.get_mut(tag) {
                p.probe.in_flight = false;
            }
            return;
        };
        let (every, failures) = (probe.every, probe.failures);
        let ready_timeout = self.timing.ready_timeout;
        let Some(p) = self.procs.get_mut(tag) else { return };
        if p.pid != Some(pid) || p.phase != Phase::Running {
            return; // about a run that is gone: its successor has its own checks
        }
        let started_long_ago = p.started_at.is_none_or(|t| now.mono.saturating_duration_since(t) >= ready_timeout);
        p.probe.in_flight = false;
        let before = p.probe.health();
        let mut stop = false;
        let mut became_ready = false;
        match result {
            Ok(()) => {
                p.probe.last = Some(true);
                p.probe.passed = true;
                p.probe.failed_in_row = 0;
                if p.entry.mode == Mode::Notify && !p.ready {
                    p.ready = true;
                    became_ready = true;
                }
            }
            Err(reason) => {
                let up = p.probe.passed || (p.entry.mode == Mode::Notify && p.ready);
                let counts = up || (started_long_ago && p.entry.mode != Mode::Notify);
                p.probe.last = Some(false);
                if counts {
                    p.probe.failed_in_row = p.probe.failed_in_row.saturating_add(1);
                }
                if p.probe.last_failure.as_ref() != Some(&reason) {
                    p.probe.last_failure = Some(reason);
                    self.dirty_procs.insert(tag.to_string());
                }
                stop = counts && p.probe.failed_in_row >= failures;
            }
        }
        let group = p.entry.group.clone();
        if before != p.probe.health() || became_ready {
            self.dirty_procs.insert(tag.to_string());
        }
        if became_ready {
            self.timers.cancel(tag, |t| matches!(t, Timer::ReadyTimeout { .. }));
            self.foreground_finished(now, &group, tag);
        }
        if stop {
            let reason = self.procs.get(tag).and_then(|p| p.probe.last_failure.clone()).unwrap_or_default();
            self.stop_unhealthy(
                now,
                tag,
                ExitReason::ProbeFailed,
                &format!("{failures} checks in a row failed, the last: {reason}"),
            );
        } else {
            self.timers.arm(now.after(every).mono, Timer::Probe { tag: tag.to_string(), pid });
        }
    }

    /// Stops the running leader of `tag` like a restart does (INT now,
    /// TERM and KILL later), with its record left running so that its
    /// exit is handled by its mode, and the exit recorded with `reason`.
    pub(super) fn stop_unhealthy(&mut self, now: Now, tag: &str, reason: ExitReason, why: &str) {
        let Some(p) = self.procs.get_mut(tag) else { return };
        let (Some(pid), Some(pgid)) = (p.pid, p.run_group()) else { return };
        p.stop_reason = Some(reason);
        self.timers.cancel(tag, |t| matches!(t, Timer::Probe { .. }));
        let message = format!("{tag} (pid {pid}) is unhealthy ({reason}: {why}): stopping it");
        self.log(message.clone());
        self.effects.push(Effect::Publish(Event::Notice { at_ms: now.wall_ms, message }));
        self.effects.push(Effect::Signal { pgid, signal: super::StopSignal::Int });
        let at = now.after(self.timing.term_after).mono;
        self.timers.arm(at, Timer::Escalate { tag: tag.to_string(), pgid, signal: super::StopSignal::Term });
    }
}
