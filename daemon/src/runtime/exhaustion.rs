//! Starts that failed because a host limit ran out (issue 22): said in
//! the daemon's log and as a notice in `status` — which limit, its value,
//! what to raise — at most once per [`REPEAT_AFTER`] per limit, with the
//! count of the starts it stopped, so ten thousand failing starts make a
//! few notices, not ten thousand. The starts themselves are retried as
//! any failed start is (a respawn entry after its backoff).

use super::Runtime;
use crate::host_limits::Exhausted;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A limit still exhausted is said again after this long.
pub const REPEAT_AFTER: Duration = Duration::from_secs(10);

/// When each limit was last said, and the starts it stopped since.
#[derive(Default)]
pub struct Said {
    last: HashMap<Exhausted, (Instant, usize)>,
}

impl Said {
    /// Counts a start `limit` stopped; true if it is to be said now.
    fn count(&mut self, limit: Exhausted, now: Instant) -> Option<usize> {
        let first = !self.last.contains_key(&limit);
        let (at, stopped) = self.last.entry(limit).or_insert((now, 0));
        *stopped += 1;
        if first || now.duration_since(*at) >= REPEAT_AFTER {
            let n = *stopped;
            *at = now;
            *stopped = 0;
            return Some(n);
        }
        None
    }
}

impl Runtime {
    /// Looks at a failed start's reason; says the limit it met, if any.
    pub(super) fn start_failed(&mut self, tag: &str, reason: &str) {
        let Some(limit) = Exhausted::of_start_error(reason) else { return };
        let Some(stopped) = self.exhausted.count(limit, Instant::now()) else { return };
        let others = match stopped {
            0 | 1 => String::new(),
            n => format!(" (and {} other starts since the last notice)", n - 1),
        };
        tracing::error!("{tag}: cannot start: {reason}");
        self.notice(format!("{tag} could not start{others}: {}; it is retried like any failed start", limit.explain()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_is_said_once_per_window_with_the_starts_it_stopped() {
        let mut said = Said::default();
        let t0 = Instant::now();
        assert_eq!(said.count(Exhausted::Descriptors, t0), Some(1));
        for _ in 0..99 {
            assert_eq!(said.count(Exhausted::Descriptors, t0 + Duration::from_secs(1)), None);
        }
        assert_eq!(said.count(Exhausted::Processes, t0 + Duration::from_secs(1)), Some(1), "limits apart");
        assert_eq!(said.count(Exhausted::Descriptors, t0 + REPEAT_AFTER), Some(100));
    }
}
