//! One host's row of the fleet screen, computed from its model: pure, so
//! the rules (what counts as drift, what raises the alert mark) are tested
//! without a terminal.

use super::Host;
use crate::app::Connection;
use isinit_shared::protocol::{GroupState, ProcessState};
use isinit_shared::time::UnixMillis;

/// Whether a host can be heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// Before its first snapshot.
    Connecting,
    /// Subscribed: its row is live.
    Up,
    /// Gone since then, for this reason; its row shows the last known state.
    Lost {
        /// Local time it was first found missing.
        since_ms: UnixMillis,
        /// Why the last attempt failed (ssh's words).
        reason: String,
    },
}

/// Group states in the order the counts are shown: what needs a human first.
pub const COUNT_ORDER: [GroupState; 7] = [
    GroupState::Failed,
    GroupState::Halting,
    GroupState::Stopping,
    GroupState::Starting,
    GroupState::Done,
    GroupState::Passed,
    GroupState::Configured,
];

/// What is wrong with a host, worst first: the order of the trouble-first
/// sort (SPEC §16: LOST, FAILED, backoff, DRIFT, then the rest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Trouble {
    /// It cannot be heard.
    Lost,
    /// A group of it is FAILED.
    Failed,
    /// An entry is throttled (backoff) or could not start.
    Backoff,
    /// It runs another isinittab than most hosts.
    Drift,
    /// Nothing.
    None,
}

/// What the fleet screen shows for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSummary {
    /// Whether it can be heard.
    pub link: Link,
    /// The daemon's version, once known.
    pub version: Option<String>,
    /// How long its daemon has run, as of the data shown.
    pub uptime_ms: Option<u64>,
    /// Its isinittab's SHA-256, once known.
    pub sha256: Option<String>,
    /// Runs another isinittab than most hosts do.
    pub drift: bool,
    /// Non-zero group counts, in [`COUNT_ORDER`].
    pub counts: Vec<(GroupState, usize)>,
    /// A group FAILED or a process is throttled (backoff) or failed to start.
    pub alert: bool,
    /// The worst thing about it, for the trouble-first sort.
    pub trouble: Trouble,
}

/// The isinittab most hosts run (ties: the first host's); hosts that never
/// answered do not vote.
pub fn majority_sha(hosts: &[Host]) -> Option<String> {
    let mut versions: Vec<(&str, usize)> = Vec::new();
    for sha in hosts.iter().filter_map(|h| h.app.snapshot()).map(|s| s.daemon.config_sha256.as_str()) {
        match versions.iter_mut().find(|(v, _)| *v == sha) {
            Some((_, n)) => *n += 1,
            None => versions.push((sha, 1)),
        }
    }
    let best = versions.iter().map(|(_, n)| *n).max()?;
    versions.iter().find(|(_, n)| *n == best).map(|(v, _)| v.to_string())
}

/// The worst thing about `host`, drift judged against `majority`: what the
/// trouble-first sort needs, without the rest of a [`HostSummary`] (the
/// sort judges every host; only the rows on screen need a summary).
pub fn trouble(host: &Host, majority: Option<&str>) -> Trouble {
    let app = &host.app;
    if matches!(app.connection(), Connection::Disconnected { .. }) {
        return Trouble::Lost;
    }
    let Some(s) = app.snapshot() else { return Trouble::None };
    if s.groups.iter().any(|g| g.state == GroupState::Failed) {
        Trouble::Failed
    } else if s.processes.iter().any(|p| matches!(p.state, ProcessState::Backoff | ProcessState::FailedToStart)) {
        Trouble::Backoff
    } else if majority.is_some_and(|m| m != s.daemon.config_sha256) {
        Trouble::Drift
    } else {
        Trouble::None
    }
}

impl HostSummary {
    /// The row of `host`, with drift judged against `majority`.
    pub fn of(host: &Host, majority: Option<&str>) -> HostSummary {
        let app = &host.app;
        let link = match app.connection() {
            Connection::Connecting => Link::Connecting,
            Connection::Connected => Link::Up,
            Connection::Disconnected { since_ms, reason } => Link::Lost { since_ms: *since_ms, reason: reason.clone() },
        };
        let trouble = trouble(host, majority);
        let Some(s) = app.snapshot() else {
            return HostSummary {
                link,
                version: None,
                uptime_ms: None,
                sha256: None,
                drift: false,
                counts: Vec::new(),
                alert: false,
                trouble,
            };
        };
        // One pass over the groups, counted in COUNT_ORDER's slots.
        let mut tally = [0usize; COUNT_ORDER.len()];
        for g in &s.groups {
            if let Some(slot) = COUNT_ORDER.iter().position(|state| *state == g.state) {
                tally[slot] += 1;
            }
        }
        let counts = COUNT_ORDER.iter().zip(tally).filter(|(_, n)| *n > 0).map(|(state, n)| (*state, n)).collect();
        let failed = tally[0] > 0;
        let backoff =
            s.processes.iter().any(|p| matches!(p.state, ProcessState::Backoff | ProcessState::FailedToStart));
        HostSummary {
            link,
            version: Some(s.daemon.version.clone()),
            uptime_ms: app.as_of_ms().checked_sub(s.daemon.started_at_ms),
            sha256: Some(s.daemon.config_sha256.clone()),
            drift: majority.is_some_and(|m| m != s.daemon.config_sha256),
            counts,
            alert: failed || backoff,
            trouble,
        }
    }
}

/// `3d04h`, `5h12m`, `42m`, `<1m`: minutes at most, so the fleet screen
/// needs a tick a minute, not a second.
pub fn uptime(ms: u64) -> String {
    let minutes = ms / 60_000;
    let (days, hours, mins) = (minutes / 1440, (minutes / 60) % 24, minutes % 60);
    match (days, hours, mins) {
        (0, 0, 0) => "<1m".to_string(),
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h{m:02}m"),
        (d, h, _) => format!("{d}d{h:02}h"),
    }
}
