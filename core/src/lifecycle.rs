//! The life of one process record: start, exit, respawn and its throttle
//! (SPEC §4), graceful stop with escalation (SPEC §5), and forgetting.

use super::actions::AfterStop;
use super::process::{Phase, Proc};
use super::timeline::Noted;
use super::timers::Timer;
use super::{Effect, Now, SpawnRequest, StopSignal, Supervisor};
use isinit_shared::config::{Entry, Mode};
use isinit_shared::protocol::{EXITS_KEPT, Event, ExitRecord, ExitStatus};
use std::sync::Arc;

impl Supervisor {
    /// Creates (or reuses) the record of `entry` and asks for a spawn.
    pub(super) fn start(&mut self, now: Now, entry: &Arc<Entry>, level: &str) {
        let rapid_window = self.timing.rapid_window;
        if !self.procs.contains_key(&entry.tag) {
            self.insert_record(entry.tag.clone(), Proc::new(Arc::clone(entry)));
        }
        let Some(p) = self.procs.get_mut(&entry.tag) else { return };
        let quick = p.started_at.is_some_and(|t| now.mono.saturating_duration_since(t) < rapid_window);
        p.rapid_starts = if quick { p.rapid_starts + 1 } else { 1 };
        p.phase = Phase::Running;
        p.pid = None;
        p.followed_group = None;
        p.start_error = None;
        p.adopted = false;
        p.started_at = Some(now.mono);
        p.started_at_ms = Some(now.wall_ms);
        p.start_ticks = None;
        // A respawned notify entry is not ready until it says so again.
        p.ready = false;
        p.status_text = None;
        p.probe.restart();
        p.stop_reason = None;
        p.watchdog_interval = None;
        p.watchdog_armed = false;
        self.dirty_procs.insert(entry.tag.clone());
        self.timeline_note(now, &entry.group, &entry.tag, Noted::StartBegan(entry.mode));
        self.effects.push(Effect::Spawn(SpawnRequest {
            group: entry.group.clone(),
            tag: entry.tag.clone(),
            level: level.to_string(),
            command: entry.command.clone(),
            mark: Supervisor::entry_mark(entry),
            notify: entry.mode == Mode::Notify,
            watchdog_usec: self
                .config
                .watchdog_of(&entry.tag)
                .map(|w| u64::try_from(w.interval.as_micros()).unwrap_or(u64::MAX)),
        }));
    }

    /// The runtime's answer to [`Effect::Spawn`]: the leader's pid (which is
    /// also its process group id), or why it could not start.
    pub fn spawned(&mut self, now: Now, tag: &str, result: Result<i32, String>) {
        let Some(p) = self.procs.get_mut(tag) else { return };
        self.dirty_procs.insert(tag.to_string());
        let group = p.entry.group.clone();
        let noted = if result.is_ok() { Noted::Spawned } else { Noted::Exited(None) };
        self.timeline_note(now, &group, tag, noted);
        let Some(p) = self.procs.get_mut(tag) else { return };
        match result {
            Ok(pid) => {
                p.pid = Some(pid);
                self.by_pid.insert(pid, tag.to_string());
                p.pgids.insert(pid);
                if p.entry.mode == Mode::Notify {
                    self.arm_ready_timeout(now, tag, pid);
                }
                self.arm_first_probe(now, tag, pid);
            }
            Err(error) => {
                p.start_error = Some(error.clone());
                p.phase = Phase::FailedToStart(error.clone());
                let (group, mode) = (p.entry.group.clone(), p.entry.mode);
                self.log(format!("{tag}: cannot start: {error}"));
                if mode.is_respawned() && !self.halting {
                    self.throttle(now, tag);
                }
                if mode.is_foreground() {
                    self.foreground_finished(now, &group, tag);
                }
            }
        }
    }

    /// A reaped child. Returns false for pids that are no leader of ours
    /// (adopted orphans, members of a process group).
    pub fn child_exited(&mut self, now: Now, pid: i32, status: ExitStatus) -> bool {
        let Some(tag) = self.by_pid.remove(&pid) else { return false };
        let Some(p) = self.procs.get_mut(&tag).filter(|p| p.pid == Some(pid)) else {
            return false;
        };
        p.pid = None;
        p.followed_group = None;
        p.ready = false;
        p.last_exit = Some(status);
        let ran_ms = p.started_at.map(|t| now.mono.saturating_duration_since(t).as_millis() as u64).unwrap_or(0);
        let reason = p.stop_reason.take();
        p.probe.in_flight = false;
        p.watchdog_armed = false;
        self.timers.cancel(&tag, |t| matches!(t, Timer::Probe { .. } | Timer::Watchdog { .. }));
        let exits = self.exits.entry(tag.clone()).or_default();
        exits.push_back(ExitRecord { at_ms: now.wall_ms, status, ran_ms, reason });
        if exits.len() > EXITS_KEPT {
            exits.pop_front();
        }
        self.dirty_procs.insert(tag.clone());
        let (group, mode, phase) = (p.entry.group.clone(), p.entry.mode, p.phase.clone());
        self.timeline_note(now, &group, &tag, Noted::Exited(Some(status)));
        if phase != Phase::Running {
            return true;
        }
        match mode {
            mode if mode.is_respawned() && !self.halting && self.still_wanted(&tag) => {
                self.respawn_or_throttle(now, &tag);
            }
            _ => {
                if let Some(p) = self.procs.get_mut(&tag) {
                    p.phase = Phase::Exited;
                }
                if mode.is_foreground() {
                    self.foreground_finished(now, &group, &tag);
                }
            }
        }
        true
    }

    /// Whether the record's group is at a level its entry has.
    pub(super) fn still_wanted(&self, tag: &str) -> bool {
        let Some(p) = self.procs.get(tag) else { return false };
        let level = self.groups.get(&p.entry.group).and_then(|g| g.level.as_deref());
        level.is_some_and(|l| p.entry.in_level(l))
    }

    /// SPEC §4: restart at once, unless it has already been started more
    /// than `rapid_starts` times in quick succession.
    pub(super) fn respawn_or_throttle(&mut self, now: Now, tag: &str) {
        let Some(p) = self.procs.get(tag) else { return };
        let quick = p.started_at.is_some_and(|t| now.mono.saturating_duration_since(t) < self.timing.rapid_window);
        if quick && p.rapid_starts > self.timing.rapid_starts {
            self.throttle(now, tag);
        } else {
            self.restart(now, tag);
        }
    }

    fn restart(&mut self, now: Now, tag: &str) {
        let Some(p) = self.procs.get_mut(tag) else { return };
        p.respawns += 1;
        let entry = p.entry.clone();
        let level = self.groups.get(&entry.group).and_then(|g| g.level.clone()).unwrap_or_default();
        self.start(now, &entry, &level);
    }

    /// Puts a respawn entry to sleep for `respawn_pause`.
    fn throttle(&mut self, now: Now, tag: &str) {
        let pause = self.timing.respawn_pause;
        let Some(p) = self.procs.get_mut(tag) else { return };
        let until = now.after(pause);
        p.phase = Phase::Backoff { until: until.mono, until_ms: until.wall_ms };
        p.rapid_starts = 0;
        self.dirty_procs.insert(tag.to_string());
        self.timers.arm(until.mono, Timer::Respawn { tag: tag.to_string() });
        let message = format!("{tag} respawning too rapidly: sleeping {} seconds", pause.as_secs_f64());
        self.log(message.clone());
        self.effects.push(Effect::Publish(Event::Notice { at_ms: now.wall_ms, message }));
    }

    /// Runs every timer that is due.
    pub fn fire_timers(&mut self, now: Now) {
        for timer in self.timers.take_due(now.mono) {
            match timer {
                Timer::Escalate { tag, pgid, signal } => {
                    if !self.procs.get(&tag).is_some_and(|p| p.pgids.contains(&pgid)) {
                        continue;
                    }
                    self.effects.push(Effect::Signal { pgid, signal });
                    if let Some(next) = signal.next() {
                        let delay =
                            if next == StopSignal::Kill { self.timing.kill_after } else { self.timing.term_after };
                        self.timers.arm(now.after(delay).mono, Timer::Escalate { tag, pgid, signal: next });
                    }
                }
                Timer::ReadyTimeout { tag, pid } => self.ready_timed_out(now, &tag, pid),
                Timer::Probe { tag, pid } => self.probe_due(&tag, pid),
                Timer::Watchdog { tag, pid } => self.watchdog_due(now, &tag, pid),
                Timer::Respawn { tag } => {
                    if self.procs.get(&tag).is_some_and(|p| matches!(p.phase, Phase::Backoff { .. }))
                        && self.still_wanted(&tag)
                        && !self.halting
                    {
                        self.restart(now, &tag);
                    }
                }
            }
        }
    }

    /// Drops process groups that `alive` reports empty, and finishes stops
    /// with nothing left. The runtime calls it after every batch of reaped
    /// children and before every request, with a probe that sends signal 0
    /// to the group.
    pub fn sweep(&mut self, now: Now, alive: impl Fn(i32) -> bool) {
        // Only records that changed since the last sweep, or that still
        // have a process group beside their leader, can have anything to
        // drop or finish: not a scan of every record after every exit
        // (issue 22).
        let mut candidates = std::mem::take(&mut self.sweep_due);
        if std::mem::take(&mut self.sweep_all) {
            candidates.extend(self.procs.keys().cloned());
        }
        candidates.extend(self.dirty_procs.iter().cloned());
        let mut emptied = Vec::new();
        let mut finished = Vec::new();
        for tag in candidates {
            let Some(p) = self.procs.get_mut(&tag) else { continue };
            // The run's own group (the followed MAINPID's, once there is
            // one) ends with its exit, not here.
            let run = p.run_group();
            let gone: Vec<i32> = p.pgids.iter().copied().filter(|g| Some(*g) != run && !alive(*g)).collect();
            for pgid in gone {
                p.pgids.remove(&pgid);
                self.dropped.pgids.push(pgid);
                emptied.push((tag.clone(), pgid));
            }
            if p.phase == Phase::Stopping && !p.has_live_processes() {
                finished.push(tag);
            } else if p.pgids.iter().any(|g| Some(*g) != run) {
                self.sweep_due.insert(tag);
            }
        }
        for (tag, pgid) in &emptied {
            self.timers.cancel(tag, |t| matches!(t, Timer::Escalate { pgid: g, .. } if g == pgid));
        }
        for tag in finished {
            if self.procs.get(&tag).is_some_and(|p| p.is_restarting()) {
                self.start_again(now, &tag);
                continue;
            }
            if self.procs.get(&tag).is_some_and(|p| p.after_stop == AfterStop::Respawn) {
                self.respawn_after_stop(now, &tag);
                continue;
            }
            if let Some(group) = self.forget(now, &tag) {
                self.advance(now, &group);
            }
        }
        self.check_exit();
    }

    /// The record leaves its level: stop whatever it still has running, or
    /// forget it at once.
    pub(super) fn retire(&mut self, now: Now, tag: &str) {
        let Some(p) = self.procs.get_mut(tag) else { return };
        if p.phase == Phase::Stopping {
            return;
        }
        if !p.has_live_processes() {
            self.forget(now, tag);
            return;
        }
        p.phase = Phase::Stopping;
        let pgids: Vec<i32> = p.pgids.iter().copied().collect();
        let (group, mode) = (p.entry.group.clone(), p.entry.mode);
        self.timeline_note(now, &group, tag, Noted::StopBegan(mode));
        self.dirty_procs.insert(tag.to_string());
        self.timers.cancel(tag, |t| matches!(t, Timer::Respawn { .. } | Timer::ReadyTimeout { .. }));
        let at = now.after(self.timing.term_after).mono;
        for pgid in pgids {
            self.effects.push(Effect::Signal { pgid, signal: StopSignal::Int });
            self.timers.arm(at, Timer::Escalate { tag: tag.to_string(), pgid, signal: StopSignal::Term });
        }
    }

    /// Drops the record (SPEC §3.4: switching away and back runs
    /// `once`/`wait` entries again) and returns its group, which the
    /// caller moves on once it has finished its own changes (a tell must
    /// retire every process before its group may leave `STOPPING`).
    /// If the file now puts the tag in another group, that group's start,
    /// which waits for the old record to go, moves on at once.
    pub(super) fn forget(&mut self, now: Now, tag: &str) -> Option<String> {
        let p = self.procs.remove(tag)?;
        self.saved_dirty.insert(p.entry.group.clone());
        self.dropped.pgids.extend(p.pgids.iter().copied());
        self.dropped.forgotten.push((p.entry.group.clone(), tag.to_string()));
        self.timeline_note(now, &p.entry.group, tag, Noted::Gone);
        if let Some(tags) = self.members.get_mut(&p.entry.group) {
            tags.remove(tag);
            if tags.is_empty() {
                self.members.remove(&p.entry.group);
            }
        }
        if let Some(pid) = p.pid
            && self.by_pid.get(&pid).is_some_and(|t| t == tag)
        {
            self.by_pid.remove(&pid);
        }
        self.timers.cancel(tag, |_| true);
        self.dirty_procs.insert(tag.to_string());
        if let Some(home) = self.config.entry(tag).map(|e| e.group.clone())
            && home != p.entry.group
        {
            self.foreground_finished(now, &home, tag);
        }
        Some(p.entry.group.clone())
    }
}
