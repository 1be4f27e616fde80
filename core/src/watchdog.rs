//! The sd_notify watchdog (SPEC §17): an entry with `:::watchdog:TAG SECS`
//! must send `WATCHDOG=1` at least every SECS once it has sent its first
//! one (or `READY=1`); silence, or `WATCHDOG=trigger`, gets its leader
//! SIGABRT (a core for the post-mortem) and then the stop of a restart,
//! and its exit is recorded with the reason `watchdog`.
//!
//! Only the deadline lives here; datagrams arrive through
//! [`Supervisor::notified`] like readiness does, from the entry's own
//! process group only.

use super::process::Phase;
use super::timers::Timer;
use super::timing::FAR;
use super::{Effect, Now, StopSignal, Supervisor};
use isinit_shared::protocol::{Event, ExitReason};
use std::time::Duration;

/// What a datagram says to the watchdog.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WatchdogNote {
    /// `WATCHDOG=1`: alive; the deadline moves.
    pub ping: bool,
    /// `WATCHDOG=trigger`: act as if the deadline had passed.
    pub trigger: bool,
    /// `WATCHDOG_USEC=N`: the new interval, in microseconds.
    pub usec: Option<u64>,
}

impl Supervisor {
    /// The watchdog interval of the current run of `tag`: the one the
    /// child set with `WATCHDOG_USEC=`, else the file's.
    fn watchdog_interval(&self, tag: &str) -> Option<Duration> {
        let configured = self.config.watchdog_of(tag)?.interval;
        Some(self.procs.get(tag).and_then(|p| p.watchdog_interval).unwrap_or(configured))
    }

    /// Applies what a counted datagram of `tag`'s run `pid` says to the
    /// watchdog; `ready` is whether it carried `READY=1`.
    pub(super) fn watchdog_noted(&mut self, now: Now, tag: &str, pid: i32, note: WatchdogNote, ready: bool) {
        if self.config.watchdog_of(tag).is_none() {
            return;
        }
        let Some(p) = self.procs.get_mut(tag) else { return };
        if let Some(usec) = note.usec.filter(|u| *u > 0) {
            p.watchdog_interval = Some(Duration::from_micros(usec).min(FAR));
        }
        let armed = p.watchdog_armed;
        if note.trigger {
            self.watchdog_expired(now, tag, pid, "WATCHDOG=trigger");
            return;
        }
        if note.ping || ready || (armed && note.usec.is_some()) {
            self.arm_watchdog(now, tag, pid);
        }
    }

    fn arm_watchdog(&mut self, now: Now, tag: &str, pid: i32) {
        let Some(interval) = self.watchdog_interval(tag) else { return };
        let Some(p) = self.procs.get_mut(tag) else { return };
        p.watchdog_armed = true;
        self.timers.cancel(tag, |t| matches!(t, Timer::Watchdog { .. }));
        self.timers.arm(now.after(interval).mono, Timer::Watchdog { tag: tag.to_string(), pid });
    }

    /// The deadline passed (or the child asked for it): SIGABRT to the
    /// leader, then INT → TERM → KILL to its process group after the usual
    /// delays, with the record left running so that its mode applies.
    pub(super) fn watchdog_expired(&mut self, now: Now, tag: &str, pid: i32, why: &str) {
        let Some(p) = self.procs.get_mut(tag) else { return };
        if self.halting || p.pid != Some(pid) || p.phase != Phase::Running || p.stop_reason.is_some() {
            return;
        }
        let pgid = p.run_group().unwrap_or(pid);
        p.stop_reason = Some(ExitReason::Watchdog);
        p.watchdog_armed = false;
        self.timers.cancel(tag, |t| matches!(t, Timer::Watchdog { .. } | Timer::Probe { .. }));
        let message = format!("{tag} (pid {pid}) failed its watchdog ({why}): sending SIGABRT, then stopping it");
        self.log(message.clone());
        self.effects.push(Effect::Publish(Event::Notice { at_ms: now.wall_ms, message }));
        self.effects.push(Effect::Abort { pid });
        let at = now.after(self.timing.term_after).mono;
        self.timers.arm(at, Timer::Escalate { tag: tag.to_string(), pgid, signal: StopSignal::Int });
    }

    /// A [`Timer::Watchdog`] fired.
    pub(super) fn watchdog_due(&mut self, now: Now, tag: &str, pid: i32) {
        let secs = self.watchdog_interval(tag).map_or(0.0, |d| d.as_secs_f64());
        self.watchdog_expired(now, tag, pid, &format!("no WATCHDOG=1 for {secs} seconds"));
    }
}
