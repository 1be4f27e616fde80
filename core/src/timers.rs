//! Pending deadlines of the supervisor: stop escalations, throttled
//! respawns and readiness deadlines. The runtime sleeps until [`Timers::next_deadline`]; there is no
//! periodic tick anywhere.

use super::effects::StopSignal;
use std::collections::BTreeMap;
use std::time::Instant;

/// What happens when a deadline passes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Timer {
    /// Send `signal` to the process group `pgid` of `tag` if anything is left in it.
    Escalate { tag: String, pgid: i32, signal: StopSignal },
    /// Start the throttled `respawn` entry `tag` again.
    Respawn { tag: String },
    /// The `notify` process `pid` of `tag` had `ready_timeout` to report
    /// `READY=1`; if it has not, it is stopped and started again.
    ReadyTimeout { tag: String, pid: i32 },
    /// The next liveness check of the run `pid` of `tag` is due (SPEC §17).
    Probe { tag: String, pid: i32 },
    /// The run `pid` of `tag` has not sent `WATCHDOG=1` in time (SPEC §17).
    Watchdog { tag: String, pid: i32 },
}

impl Timer {
    /// The entry the timer is for.
    pub fn tag(&self) -> &str {
        match self {
            Timer::Escalate { tag, .. }
            | Timer::Respawn { tag }
            | Timer::ReadyTimeout { tag, .. }
            | Timer::Probe { tag, .. }
            | Timer::Watchdog { tag, .. } => tag,
        }
    }
}

/// Deadlines ordered by time; the `u64` keeps equal instants distinct.
#[derive(Debug, Default)]
pub struct Timers {
    pending: BTreeMap<(Instant, u64), Timer>,
    counter: u64,
}

impl Timers {
    pub fn arm(&mut self, at: Instant, timer: Timer) {
        self.counter += 1;
        self.pending.insert((at, self.counter), timer);
    }

    /// Drops every pending timer the predicate matches.
    pub fn cancel(&mut self, mut matches: impl FnMut(&Timer) -> bool) {
        self.pending.retain(|_, t| !matches(t));
    }

    /// Every pending timer with its deadline, earliest first (for the
    /// state handed over on reexec).
    pub fn entries(&self) -> impl Iterator<Item = (Instant, &Timer)> {
        self.pending.iter().map(|((at, _), t)| (*at, t))
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.pending.keys().next().map(|(at, _)| *at)
    }

    /// Removes and returns every timer due at `now`, earliest first.
    pub fn take_due(&mut self, now: Instant) -> Vec<Timer> {
        let mut due = Vec::new();
        while let Some(entry) = self.pending.first_entry() {
            if entry.key().0 > now {
                break;
            }
            due.push(entry.remove());
        }
        due
    }
}
