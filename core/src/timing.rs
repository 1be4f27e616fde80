//! The supervisor's clocks and delays.

use isinit_shared::time::UnixMillis;
use std::time::{Duration, Instant};

/// The delays SPEC §4 and §5 prescribe. The defaults are the contract;
/// tests and impatient operators shorten them with daemon flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// How long a throttled respawn sleeps (SPEC: 60 s).
    pub respawn_pause: Duration,
    /// Starts closer together than this count as "in quick succession" (1 s).
    pub rapid_window: Duration,
    /// How many quick starts are allowed before throttling (5).
    pub rapid_starts: u32,
    /// SIGINT → SIGTERM delay (5 s).
    pub term_after: Duration,
    /// SIGTERM → SIGKILL delay (10 s).
    pub kill_after: Duration,
    /// How long a `notify` process has to report `READY=1` before it is
    /// stopped and started again (SPEC §11: 90 s).
    pub ready_timeout: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            respawn_pause: Duration::from_secs(60),
            rapid_window: Duration::from_secs(1),
            rapid_starts: 5,
            term_after: isinit_shared::settings::DEFAULT_TERM_AFTER,
            kill_after: isinit_shared::settings::DEFAULT_KILL_AFTER,
            ready_timeout: Duration::from_secs(90),
        }
    }
}

/// The furthest ahead any deadline is put: far beyond any delay a flag
/// accepts, far before the end of any clock.
pub const FAR: Duration = Duration::from_secs(10 * 365 * 24 * 60 * 60);

/// "Now", passed into every supervisor call so that tests control time:
/// the monotonic clock for deadlines, the wall clock for what is displayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// For deadlines and durations.
    pub mono: Instant,
    /// For what operators see.
    pub wall_ms: UnixMillis,
}

impl Now {
    /// The real current time.
    pub fn real() -> Now {
        Now { mono: Instant::now(), wall_ms: isinit_shared::time::now_ms() }
    }

    /// This instant plus `d`, on both clocks. Never panics: delays are
    /// bounded at parse time (one day), and anything past [`FAR`] is
    /// treated as `FAR` (issue 6, defect 3b).
    pub fn after(self, d: Duration) -> Now {
        let d = d.min(FAR);
        Now {
            mono: self.mono.checked_add(d).unwrap_or(self.mono),
            wall_ms: self.wall_ms.saturating_add(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        }
    }

    /// This instant minus `d` on both clocks (for a process that started
    /// before this daemon did), or the instant itself if the monotonic
    /// clock does not reach back that far.
    pub fn before(self, d: Duration) -> Now {
        Now {
            mono: self.mono.checked_sub(d).unwrap_or(self.mono),
            wall_ms: self.wall_ms.saturating_sub(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        }
    }
}
