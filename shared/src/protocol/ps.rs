//! Every process of an entry (SPEC §19, `isinit ps`): the answer to
//! [`super::Request::Ps`]. Read from `/proc` only when a client asks, like
//! [`super::ProcessUsage`], and never pushed on the event stream.

use serde::{Deserialize, Serialize};

/// The live processes of one entry, as a tree in display order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntryProcesses {
    /// The entry's resource group.
    pub group: String,
    /// The entry's tag.
    pub tag: String,
    /// The entry's main process (the one the daemon started), if alive.
    pub main_pid: Option<u32>,
    /// Whether the members were found through the entry's cgroup (every
    /// process in it, whatever its session) or its process groups.
    pub tracking: Tracking,
    /// The main process first, then its descendants depth first, then the
    /// strays: each row right after its parent.
    pub processes: Vec<PsRow>,
    /// Rows left out because the reply would have grown too large.
    pub omitted: u32,
}

/// Where an entry's members come from (SPEC §14).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tracking {
    /// The members of the entry's cgroup.
    Cgroup,
    /// The members of the entry's process groups: a process that called
    /// `setsid` has left them and is not seen.
    ProcessGroup,
}

/// One live process of an entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PsRow {
    /// Its process id.
    pub pid: u32,
    /// Its parent's process id.
    pub ppid: u32,
    /// How deep in its tree: 0 for the main process and for the root of
    /// each stray tree.
    pub depth: u32,
    /// Not a descendant of the main process (it called `setsid`, or its
    /// parent exited and it was re-parented), or the main one is gone.
    pub stray: bool,
    /// Resident memory, in bytes.
    pub rss_bytes: u64,
    /// CPU time used (user + system), in milliseconds.
    pub cpu_time_ms: u64,
    /// CPU time over its lifetime, in percent of one core, as `ps(1)`
    /// computes it: needs one reading, so asking keeps no state.
    pub cpu_percent: f64,
    /// Its command line (arguments joined by spaces; `[name]` when it has
    /// none), cut to a bounded length.
    pub command: String,
}
