//! What a process group costs the host right now: the answer to
//! [`super::Request::Usage`]. Kept apart from the snapshot because it is
//! measured only when someone asks, never pushed on the event stream.

use serde::{Deserialize, Serialize};

/// CPU and memory of everything in one entry's process group(s).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessUsage {
    /// The entry whose processes were measured.
    pub tag: String,
    /// How many live processes its process groups hold (the leader and
    /// whatever it started), zombies excluded.
    pub processes: u32,
    /// CPU time used so far by those processes and the children they
    /// reaped, in milliseconds.
    pub cpu_time_ms: u64,
    /// CPU use since the previous sample of the same process group, in
    /// percent of one core (200.0 = two cores busy); `None` on the first
    /// sample, since a rate needs two.
    pub cpu_percent: Option<f64>,
    /// Resident memory of those processes, summed, in bytes (shared pages
    /// count once per process, as `ps` shows them).
    pub rss_bytes: u64,
}
