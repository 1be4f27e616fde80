//! Which datagrams of the readiness socket may reach the runtime: those of
//! the process groups of running `notify` entries (and of our own children,
//! which the runtime then judges), each sender at a bounded rate.
//!
//! The socket is mode 0666, so any local user can send to it. Judging in the
//! reader thread — a set lookup, and for a sender never seen before one read
//! of `/proc/PID/stat` — keeps a flood off the runtime's only thread: what
//! the runtime receives is what it would accept, no faster than
//! [`RATE_PER_SEC`] a sender.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Datagrams a sender may send at once before the rate applies: a start-up
/// burst of `STATUS=` lines and `READY=1` passes whole.
const BURST: f64 = 64.0;
/// Datagrams a second a sender may send once its burst is spent.
pub const RATE_PER_SEC: f64 = 64.0;
/// Most senders remembered as strangers (and rate buckets kept) before the
/// memory is cleared: a flood from many pids cannot grow it without bound.
const REMEMBERED: usize = 4096;

/// The process groups whose datagrams count: the leader pids of running
/// `notify` entries. Written by the runtime whenever they change, read by
/// the reader for every datagram.
#[derive(Default)]
pub struct Leaders {
    inner: Mutex<LeaderSet>,
}

#[derive(Default)]
struct LeaderSet {
    /// Bumped on every change, so the reader knows its memory is stale.
    generation: u64,
    pids: HashSet<i32>,
}

impl Leaders {
    /// Replaces the set (the runtime, after a change).
    pub fn replace(&self, pids: HashSet<i32>) {
        // A poisoned lock only means a reader panicked mid-lookup; the set
        // itself is always whole.
        let mut set = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        set.pids = pids;
        set.generation = set.generation.wrapping_add(1);
    }
}

/// What becomes of one datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// To the runtime.
    Forward,
    /// Dropped: neither a `notify` leader's group nor one of our children.
    Stranger,
    /// Dropped: the sender is over its rate.
    OverRate,
}

/// The reader's side: the shared set, what it learnt about other senders,
/// and one token bucket per sender.
pub struct Gate {
    leaders: Arc<Leaders>,
    generation: u64,
    strangers: HashSet<i32>,
    buckets: HashMap<i32, Bucket>,
    daemon: i32,
    parent_of: fn(i32) -> Option<i32>,
}

impl Gate {
    /// A gate reading `leaders`, for the daemon whose pid is `daemon`.
    pub fn new(leaders: Arc<Leaders>, daemon: i32) -> Gate {
        Gate::with_parents(leaders, daemon, parent_of)
    }

    fn with_parents(leaders: Arc<Leaders>, daemon: i32, parent_of: fn(i32) -> Option<i32>) -> Gate {
        Gate { leaders, generation: 0, strangers: HashSet::new(), buckets: HashMap::new(), daemon, parent_of }
    }

    /// Judges a datagram from process group `pgid`.
    ///
    /// A group not (yet) in the set still passes when its leader is our
    /// child: an entry spawned a moment ago may speak before the runtime
    /// has published it, and its `READY=1` must not be lost. Everyone else
    /// is remembered as a stranger until the set changes.
    pub fn judge(&mut self, pgid: i32, now: Instant) -> Verdict {
        let known = {
            let set = self.leaders.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if set.generation != self.generation {
                self.generation = set.generation;
                self.strangers.clear();
                self.buckets.retain(|pid, _| set.pids.contains(pid));
            }
            set.pids.contains(&pgid)
        };
        if !known {
            if self.strangers.contains(&pgid) {
                return Verdict::Stranger;
            }
            if (self.parent_of)(pgid) != Some(self.daemon) {
                if self.strangers.len() >= REMEMBERED {
                    self.strangers.clear();
                }
                self.strangers.insert(pgid);
                return Verdict::Stranger;
            }
        }
        if self.buckets.len() >= REMEMBERED && !self.buckets.contains_key(&pgid) {
            self.buckets.clear();
        }
        match self.buckets.entry(pgid).or_insert_with(|| Bucket::full(now)).take(now) {
            true => Verdict::Forward,
            false => Verdict::OverRate,
        }
    }
}

/// A token bucket: [`BURST`] tokens, refilled at [`RATE_PER_SEC`].
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(now: Instant) -> Bucket {
        Bucket { tokens: BURST, at: now }
    }

    fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * RATE_PER_SEC).min(BURST);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The parent pid of `pid`, from `/proc/PID/stat`.
fn parent_of(pid: i32) -> Option<i32> {
    Some(procfs::process::Process::new(pid).ok()?.stat().ok()?.ppid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const DAEMON: i32 = 100;

    /// 200 is our child, everything else someone else's.
    fn parents(pid: i32) -> Option<i32> {
        Some(if pid == 200 { DAEMON } else { 1 })
    }

    fn gate(leaders: &[i32]) -> (Arc<Leaders>, Gate) {
        let shared = Arc::new(Leaders::default());
        shared.replace(leaders.iter().copied().collect());
        (shared.clone(), Gate::with_parents(shared, DAEMON, parents))
    }

    #[test]
    fn leaders_and_our_children_pass_strangers_do_not() {
        let (_, mut g) = gate(&[42]);
        let now = Instant::now();
        assert_eq!(g.judge(42, now), Verdict::Forward);
        assert_eq!(g.judge(200, now), Verdict::Forward, "a child not yet published");
        assert_eq!(g.judge(7, now), Verdict::Stranger);
        assert_eq!(g.judge(7, now), Verdict::Stranger, "remembered");
    }

    #[test]
    fn a_stranger_is_forgotten_when_the_leaders_change() {
        let (shared, mut g) = gate(&[]);
        let now = Instant::now();
        assert_eq!(g.judge(7, now), Verdict::Stranger);
        shared.replace([7].into_iter().collect());
        assert_eq!(g.judge(7, now), Verdict::Forward, "pid 7 is a notify leader now");
    }

    #[test]
    fn a_sender_over_its_rate_is_dropped_and_refilled_with_time() {
        let (_, mut g) = gate(&[42, 43]);
        let now = Instant::now();
        let passed = (0..1000).filter(|_| g.judge(42, now) == Verdict::Forward).count();
        assert_eq!(passed, BURST as usize);
        assert_eq!(g.judge(43, now), Verdict::Forward, "another sender has its own bucket");
        let later = now + Duration::from_secs(1);
        let refilled = (0..1000).filter(|_| g.judge(42, later) == Verdict::Forward).count();
        assert_eq!(refilled, RATE_PER_SEC as usize);
    }

    #[test]
    fn the_parent_of_this_process_is_read_from_proc() {
        assert_eq!(parent_of(std::process::id() as i32), Some(nix::unistd::getppid().as_raw()));
        assert_eq!(parent_of(-1), None);
    }
}
