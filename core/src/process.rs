//! The record the supervisor keeps for one entry's process.

use super::actions::AfterStop;
use isinit_shared::config::{Entry, Mode};
use isinit_shared::protocol::ExitStatus;
use isinit_shared::time::UnixMillis;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

/// Where a process record is in its life. The leader pid and the process
/// groups that may still have members are kept beside it in [`Proc`],
/// because they matter in every phase (a stopped `once` can leave a
/// background job behind).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Started (or being started): alive until its exit is reaped.
    Running,
    /// Ran and exited; for `wait`/`test` this is completion.
    Exited,
    /// A `respawn` throttled until `until`.
    Backoff { until: Instant, until_ms: UnixMillis },
    /// The command could not be started.
    FailedToStart(String),
    /// Being stopped; the record is forgotten once nothing is left.
    Stopping,
}

/// One process record (SPEC §3: created when the entry starts at a level,
/// forgotten when the group moves to a level the entry does not have).
#[derive(Debug, Clone)]
pub struct Proc {
    /// The entry as it was when the record was created; compared with the
    /// file on reload to find changed commands. Shared with the file in
    /// force while it is the same entry, not copied (issue 22).
    pub entry: Arc<Entry>,
    pub phase: Phase,
    /// The leader, while alive.
    pub pid: Option<i32>,
    /// Process groups this record started that may still have members.
    pub pgids: BTreeSet<i32>,
    pub started_at: Option<Instant>,
    pub started_at_ms: Option<UnixMillis>,
    /// The leader's start time in clock ticks since boot (`/proc/PID/stat`
    /// field 22), once the runtime has read it: with the pid, what the
    /// state file records so that only this process is adopted (SPEC §15).
    pub start_ticks: Option<u64>,
    /// Restarts since the record was created.
    pub respawns: u32,
    /// Consecutive starts, each less than `rapid_window` after the previous.
    pub rapid_starts: u32,
    pub last_exit: Option<ExitStatus>,
    pub start_error: Option<String>,
    /// What happens once a stop has nothing left: forget, or start again.
    pub after_stop: AfterStop,
    /// The leader was left by a previous daemon and adopted: it is not our
    /// child, so its end is noticed with a pidfd and its status is unknown.
    pub adopted: bool,
    /// A `notify` process: whether the current run has reported `READY=1`
    /// (SPEC §11). False again whenever it is started anew. Plain data so
    /// a re-executed daemon can take it over.
    pub ready: bool,
    /// The last `STATUS=` text the current (or last) run reported.
    pub status_text: Option<String>,
    /// What the entry's `:::probe:` found of the current run (SPEC §17).
    pub probe: super::health::ProbeRecord,
    /// Why the daemon is stopping the current run while it still counts as
    /// running (a failed probe): recorded with its exit.
    pub stop_reason: Option<isinit_shared::protocol::ExitReason>,
    /// The watchdog interval the current run set with `WATCHDOG_USEC=`.
    pub watchdog_interval: Option<std::time::Duration>,
    /// The current run has sent its first `WATCHDOG=1` (or `READY=1`):
    /// from then on its silence counts.
    pub watchdog_armed: bool,
    /// Set once the run reported `MAINPID=` (SPEC §17): `pid` is then the
    /// main process it named, and this the process group that process is
    /// in (the one stop signals and notify datagrams are checked against).
    /// `None`: the leader's own group, `pid`.
    pub followed_group: Option<i32>,
}

impl Proc {
    pub fn new(entry: Arc<Entry>) -> Proc {
        Proc {
            entry,
            phase: Phase::Running,
            pid: None,
            pgids: BTreeSet::new(),
            started_at: None,
            started_at_ms: None,
            start_ticks: None,
            respawns: 0,
            rapid_starts: 0,
            last_exit: None,
            start_error: None,
            after_stop: AfterStop::Forget,
            adopted: false,
            ready: false,
            status_text: None,
            probe: super::health::ProbeRecord::default(),
            stop_reason: None,
            watchdog_interval: None,
            watchdog_armed: false,
            followed_group: None,
        }
    }

    /// The process group of the current run: the leader's, or that of the
    /// main process it named with `MAINPID=`.
    pub fn run_group(&self) -> Option<i32> {
        self.pid.map(|pid| self.followed_group.unwrap_or(pid))
    }

    /// Whether anything this record started may still be running.
    pub fn has_live_processes(&self) -> bool {
        self.pid.is_some() || !self.pgids.is_empty()
    }

    /// Whether the group's start must hold its next entry back for this
    /// record: a `wait`/`test` whose leader is alive in the foreground, or
    /// a `notify` that has not reported `READY=1` yet (running, being
    /// restarted or throttled: it is still on its way to ready).
    pub fn holds_start(&self) -> bool {
        match self.entry.mode {
            Mode::Notify => !self.ready,
            mode => mode.is_foreground() && self.phase == Phase::Running,
        }
    }

    /// A `test` that ran and did not exit 0 (or never started).
    pub fn test_failed(&self) -> bool {
        self.entry.mode == Mode::Test
            && match self.phase {
                Phase::Exited => !self.last_exit.is_some_and(ExitStatus::success),
                Phase::FailedToStart(_) => true,
                _ => false,
            }
    }

    /// A `test` that ran and exited 0.
    pub fn test_passed(&self) -> bool {
        self.entry.mode == Mode::Test && self.phase == Phase::Exited && self.last_exit.is_some_and(ExitStatus::success)
    }
}
