//! Pending deadlines of the supervisor: stop escalations, throttled
//! respawns and readiness deadlines. The runtime sleeps until [`Timers::next_deadline`]; there is no
//! periodic tick anywhere.

use super::effects::StopSignal;
use std::collections::{BTreeMap, BTreeSet, HashMap};
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
/// Each tag's deadlines are also indexed by the tag, so that cancelling
/// the timers of one entry costs what that entry has pending, not what
/// every entry has (issue 22: stopping 10,000 entries arms and cancels
/// 10,000 escalations).
#[derive(Debug, Default)]
pub struct Timers {
    pending: BTreeMap<(Instant, u64), Timer>,
    by_tag: HashMap<String, BTreeSet<(Instant, u64)>>,
    counter: u64,
}

impl Timers {
    pub fn arm(&mut self, at: Instant, timer: Timer) {
        self.counter += 1;
        let key = (at, self.counter);
        self.by_tag.entry(timer.tag().to_string()).or_default().insert(key);
        self.pending.insert(key, timer);
    }

    /// Drops every pending timer of `tag` the predicate matches.
    pub fn cancel(&mut self, tag: &str, mut matches: impl FnMut(&Timer) -> bool) {
        let Some(keys) = self.by_tag.get_mut(tag) else { return };
        keys.retain(|key| match self.pending.get(key) {
            Some(t) if matches(t) => {
                self.pending.remove(key);
                false
            }
            Some(_) => true,
            None => false,
        });
        if keys.is_empty() {
            self.by_tag.remove(tag);
        }
    }

    /// Moves `tag`'s deadlines of the run `old` to the run `new` (its
    /// `MAINPID=`): the same deadlines, now for the followed process.
    pub fn repid(&mut self, tag: &str, old: i32, new: i32) {
        let Some(keys) = self.by_tag.get(tag) else { return };
        for key in keys {
            match self.pending.get_mut(key) {
                Some(Timer::ReadyTimeout { pid, .. } | Timer::Probe { pid, .. } | Timer::Watchdog { pid, .. })
                    if *pid == old =>
                {
                    *pid = new;
                }
                _ => {}
            }
        }
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
            let key = *entry.key();
            let timer = entry.remove();
            if let Some(keys) = self.by_tag.get_mut(timer.tag()) {
                keys.remove(&key);
                if keys.is_empty() {
                    self.by_tag.remove(timer.tag());
                }
            }
            due.push(timer);
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn cancelling_one_tag_leaves_the_others_and_the_index_follows() {
        let t0 = Instant::now();
        let mut timers = Timers::default();
        for i in 0..3 {
            timers.arm(t0 + Duration::from_secs(i), Timer::Respawn { tag: format!("t{i}") });
            let escalate = Timer::Escalate { tag: format!("t{i}"), pgid: i as i32, signal: StopSignal::Term };
            timers.arm(t0 + Duration::from_secs(i), escalate);
        }
        timers.cancel("t1", |t| matches!(t, Timer::Respawn { .. }));
        assert_eq!(timers.entries().count(), 5);
        timers.cancel("t1", |_| true);
        assert_eq!(timers.entries().count(), 4);
        assert!(!timers.by_tag.contains_key("t1"));
        let due = timers.take_due(t0);
        assert_eq!(due.len(), 2);
        assert!(!timers.by_tag.contains_key("t0"), "a timer taken leaves the index");
        assert_eq!(timers.by_tag["t2"].len(), 2);
    }
}
