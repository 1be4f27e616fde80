//! The decisions of the agent when no daemon answers, as pure functions
//! over what a look at the node found ([`Running`]): no answer from the
//! daemon is not proof that nothing runs (a `kill -9` of the daemon leaves
//! every service running, `KillMode=process`), so `monitor` says "not
//! running" only when nothing of the group is found, and `stop` stops what
//! it finds itself, on the daemon's own schedule of signals.

use super::exit::{OcfCode, Outcome};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One process of the group found on the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Its pid.
    pub pid: i32,
    /// Its process group, which is what gets signalled.
    pub pgid: i32,
    /// The entry it runs for (`ISINIT_TAG`, or its cgroup's name).
    pub tag: String,
    /// The entry cgroup it was found in: signalled through it, not its
    /// process group (never twice).
    pub cgroup: Option<PathBuf>,
}

/// What of one group runs on the node, found without the daemon.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Running {
    /// Processes carrying the daemon's marks and uid, or in the group's
    /// entry cgroups.
    pub members: Vec<Member>,
    /// The group's entry cgroups that still hold a process.
    pub cgroups: Vec<PathBuf>,
}

impl Running {
    /// Whether nothing of the group runs.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.cgroups.is_empty()
    }

    /// What runs, for an `ocf-exit-reason` (at most a few processes named).
    pub fn describe(&self) -> String {
        const NAMED: usize = 5;
        let mut parts: Vec<String> =
            self.members.iter().take(NAMED).map(|m| format!("{} (pid {})", m.tag, m.pid)).collect();
        if self.members.len() > NAMED {
            parts.push(format!("{} more", self.members.len() - NAMED));
        }
        if parts.is_empty() {
            parts = self.cgroups.iter().map(|c| format!("cgroup {}", c.display())).collect();
        }
        parts.join(", ")
    }
}

/// `monitor` with no daemon answering on `socket` (and none starting):
/// `OCF_NOT_RUNNING` only when nothing of `group` runs; otherwise a soft
/// error, so Pacemaker recovers with a stop here instead of starting the
/// group elsewhere while it runs on.
pub fn monitor(found: &Running, group: &str, socket: &Path) -> Outcome {
    if found.is_empty() {
        Outcome::with(
            OcfCode::NotRunning,
            format!("isinit daemon not running on {}, and nothing of group {group} runs", socket.display()),
        )
    } else {
        Outcome::with(
            OcfCode::ErrGeneric,
            format!(
                "isinit daemon not running on {}, but group {group} still runs unsupervised: {}",
                socket.display(),
                found.describe()
            ),
        )
    }
}

/// The signal steps of a stop without the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// SIGINT, the graceful request (SPEC §5).
    Interrupt,
    /// SIGTERM.
    Terminate,
    /// SIGKILL (`cgroup.kill` for a cgroup).
    Kill,
}

/// When each step of a stop without the daemon is sent, counted from the
/// first: the daemon's own delays (`term_after` to SIGTERM, `kill_after`
/// more to SIGKILL), squeezed into `budget` so that SIGTERM comes by a
/// third of it and SIGKILL by half of it, leaving the rest to see the
/// processes gone before Pacemaker's timeout.
pub fn schedule(term_after: Duration, kill_after: Duration, budget: Duration) -> [(Step, Duration); 3] {
    let term = term_after.min(budget / 3);
    let kill = term.saturating_add(kill_after).min(budget / 2).max(term);
    [(Step::Interrupt, Duration::ZERO), (Step::Terminate, term), (Step::Kill, kill)]
}

/// The answer of a stop without the daemon once its signals are sent and
/// its time is up (or nothing is left): success only when nothing is.
pub fn stopped(left: &Running, group: &str, killed: usize) -> Outcome {
    if left.is_empty() {
        Outcome::with(
            OcfCode::Success,
            format!("no isinit daemon answers: stopped the {killed} process(es) of group {group} left running"),
        )
    } else {
        Outcome::with(OcfCode::ErrGeneric, format!("group {group} not stopped: {} still run", left.describe()))
    }
}
