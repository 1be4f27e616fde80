//! The decisions of the agent, as pure functions over a daemon
//! [`Snapshot`]: what the group looks like from Pacemaker's side
//! ([`view`]), what monitor answers ([`monitor`]), and whether a start or
//! stop in progress is finished ([`arrival`], [`departure`]). No I/O here,
//! so every rule is unit-tested with hand-made snapshots.

use super::exit::{OcfCode, Outcome};
use isinit_shared::config::{Levels, Mode};
use isinit_shared::protocol::{GroupState, ProcessState, ProcessStatus, Snapshot};
use isinit_shared::time::UnixMillis;

/// An entry that exited this many times within [`FLAP_WINDOW_MS`] while
/// running again counts as flapping: monitor reports `OCF_DEGRADED`.
pub const FLAP_EXITS: usize = 2;
/// The window of [`FLAP_EXITS`].
pub const FLAP_WINDOW_MS: u64 = 60_000;
/// How long a respawn entry must have been running for a start to count
/// it as up: the daemon's rapid-respawn window (SPEC §4), so an entry that
/// crashes at once is seen failing (backoff) by the start, not only by the
/// next monitor.
pub const STEADY_MS: u64 = 1_000;

/// The levels a resource maps its roles to (from the parameters).
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The isinit group.
    pub group: &'a str,
    /// The level of the started (unpromoted) role.
    pub level: &'a str,
    /// The level of the stopped role.
    pub stop_level: &'a str,
    /// The level of the promoted role, for promotable clones.
    pub promoted_level: Option<&'a str>,
}

/// The two running roles of a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Started (at `level`).
    Unpromoted,
    /// Promoted (at `promoted_level`).
    Promoted,
}

/// How a group at one of its running levels is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Settled, every respawn entry running.
    Up,
    /// Still switching to the level, or a respawn entry between two runs.
    Settling(String),
    /// Settled and running, but a respawn entry started less than
    /// [`STEADY_MS`] ago; steady at `steady_at` unless it exits first.
    Young {
        /// Which entry, for a timeout message.
        why: String,
        /// When it will have run [`STEADY_MS`].
        steady_at: UnixMillis,
        /// Set when an entry is also flapping (see [`Health::Degraded`]).
        flapping: Option<String>,
    },
    /// Up, but an entry keeps exiting and being respawned.
    Degraded(String),
    /// A test failed, an entry is in backoff or failed to start, or the
    /// daemon is shutting down.
    Failed(String),
}

/// The group as Pacemaker's resource sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupView {
    /// Nothing of it runs: unknown to the daemon, never told, settled at
    /// the stop level, or at some other level with nothing alive.
    Stopped(String),
    /// Told the stop level (or halting), processes still going away.
    Stopping(String),
    /// At the level of a running role.
    Active {
        /// Which role the level is.
        role: Role,
        /// How it is doing there.
        health: Health,
    },
    /// At a level that is none of the resource's, with processes alive:
    /// someone told it behind Pacemaker's back.
    Foreign(String),
}

/// Whether anything of this process record may still be running.
fn active(p: &ProcessStatus) -> bool {
    p.pid.is_some()
        || matches!(
            p.state,
            ProcessState::Running | ProcessState::Waiting | ProcessState::Stopping | ProcessState::Backoff
        )
}

/// Whether the entry of `p` belongs to `level` (SPEC §2, as the daemon
/// decides it; `off` entries belong to no level).
fn in_level(p: &ProcessStatus, level: &str) -> bool {
    p.mode != Mode::Off && Levels::from_field(&p.levels).contains(level)
}

/// What the group named by `t` looks like in `snap` at wall-clock `now`
/// (the snapshot's own `now_ms` for a one-off look; the local clock while
/// waiting — the agent runs on the daemon's host).
pub fn view(snap: &Snapshot, t: &Target<'_>, now: UnixMillis) -> GroupView {
    let Some(g) = snap.group(t.group) else {
        return GroupView::Stopped(format!("the daemon does not know group {}", t.group));
    };
    let procs: Vec<&ProcessStatus> = snap.processes_of(t.group).collect();
    let alive = |keep: &dyn Fn(&ProcessStatus) -> bool| procs.iter().filter(|p| active(p) && keep(p)).count();
    let Some(level) = g.level.as_deref() else {
        return match alive(&|_| true) {
            0 => GroupView::Stopped(format!("group {} was never told a level", t.group)),
            n => GroupView::Foreign(format!("group {} was never told a level but has {n} process(es) alive", t.group)),
        };
    };
    if level == t.level {
        return GroupView::Active { role: Role::Unpromoted, health: health(g.state, &procs, level, now) };
    }
    if Some(level) == t.promoted_level {
        return GroupView::Active { role: Role::Promoted, health: health(g.state, &procs, level, now) };
    }
    if level == t.stop_level || g.state == GroupState::Halting {
        let left = alive(&|p| !in_level(p, t.stop_level) || g.state == GroupState::Halting);
        return if g.state == GroupState::Stopping || left > 0 {
            GroupView::Stopping(format!("group {} at level {level}: {left} process(es) still stopping", t.group))
        } else {
            GroupView::Stopped(format!("group {} at stop level {level}", t.group))
        };
    }
    match alive(&|_| true) {
        0 if g.state != GroupState::Stopping => {
            GroupView::Stopped(format!("group {} at level {level} with nothing running", t.group))
        }
        n => GroupView::Foreign(format!(
            "group {} is at level {level} ({}, {n} process(es) alive), not {}",
            t.group, g.state, t.level
        )),
    }
}

/// How the group is doing at `level`, one of its running levels.
fn health(state: GroupState, procs: &[&ProcessStatus], level: &str, now: UnixMillis) -> Health {
    if state == GroupState::Halting {
        return Health::Failed("the isinit daemon is shutting down".to_string());
    }
    let mine: Vec<&ProcessStatus> = procs.iter().copied().filter(|p| in_level(p, level)).collect();
    if state == GroupState::Failed {
        let failed: Vec<&str> = mine.iter().filter(|p| p.state == ProcessState::Fail).map(|p| p.tag.as_str()).collect();
        return Health::Failed(format!("level {level} FAILED (test failed: {})", failed.join(", ")));
    }
    for p in &mine {
        match p.state {
            ProcessState::Backoff => {
                return Health::Failed(format!("{} is in respawn backoff (respawning too rapidly)", p.tag));
            }
            ProcessState::FailedToStart => {
                let why = p.start_error.as_deref().unwrap_or("unknown error");
                return Health::Failed(format!("{} failed to start: {why}", p.tag));
            }
            _ => {}
        }
    }
    if matches!(state, GroupState::Stopping | GroupState::Starting) {
        return Health::Settling(format!("switching to level {level} ({state})"));
    }
    let respawns = || mine.iter().filter(|p| p.mode.is_respawned());
    if let Some(p) = respawns().find(|p| p.state != ProcessState::Running) {
        return Health::Settling(format!("{} is {} (being respawned)", p.tag, p.state.as_str()));
    }
    // A notify process is up only once it has reported READY=1.
    if let Some(p) = respawns().find(|p| p.mode == Mode::Notify && !p.ready) {
        return Health::Settling(format!("{} is running but not ready yet (no READY=1)", p.tag));
    }
    let flapping = respawns()
        .map(|p| (p, recent_exits(p, now)))
        .find(|(_, n)| *n >= FLAP_EXITS)
        .map(|(p, n)| format!("{} exited {n} times in the last {} s", p.tag, FLAP_WINDOW_MS / 1000));
    let young = respawns()
        .filter_map(|p| p.started_at_ms.map(|at| (p, at.saturating_add(STEADY_MS))))
        // A start time in the future (clock stepped back) is not waited for.
        .filter(|(p, steady_at)| {
            *steady_at > now && p.started_at_ms.is_some_and(|at| at <= now.saturating_add(STEADY_MS))
        })
        .max_by_key(|(_, steady_at)| *steady_at);
    match (young, flapping) {
        (Some((p, steady_at)), flapping) => {
            Health::Young { why: format!("{} started less than {STEADY_MS} ms ago", p.tag), steady_at, flapping }
        }
        (None, Some(why)) => Health::Degraded(why),
        (None, None) => Health::Up,
    }
}

/// How many times the current record of `p` exited within
/// [`FLAP_WINDOW_MS`] before `now`. The exit history outlives records (a
/// stop's own SIGINT is in it), so only the last `respawns` exits — those
/// each followed by a restart of this record — count.
fn recent_exits(p: &ProcessStatus, now: UnixMillis) -> usize {
    let own = usize::try_from(p.respawns).unwrap_or(usize::MAX).min(p.recent_exits.len());
    let first = p.recent_exits.len() - own;
    p.recent_exits[first..].iter().filter(|e| now.saturating_sub(e.at_ms) <= FLAP_WINDOW_MS).count()
}

/// The monitor answer for a view.
pub fn monitor(v: &GroupView) -> Outcome {
    match v {
        GroupView::Stopped(why) => Outcome::with(OcfCode::NotRunning, why.clone()),
        GroupView::Stopping(why) | GroupView::Foreign(why) => Outcome::with(OcfCode::ErrGeneric, why.clone()),
        GroupView::Active { role, health } => {
            let (up, degraded, failed) = match role {
                Role::Unpromoted => (OcfCode::Success, OcfCode::Degraded, OcfCode::ErrGeneric),
                Role::Promoted => (OcfCode::RunningPromoted, OcfCode::DegradedPromoted, OcfCode::FailedPromoted),
            };
            match health {
                Health::Up | Health::Settling(_) | Health::Young { flapping: None, .. } => Outcome::code(up),
                Health::Degraded(why) | Health::Young { flapping: Some(why), .. } => {
                    Outcome::with(degraded, why.clone())
                }
                Health::Failed(why) => Outcome::with(failed, why.clone()),
            }
        }
    }
}

/// Where an operation that waits for the group stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Not there yet; the text says what is awaited (for a timeout). An
    /// event from the daemon may change that — or, with `recheck_at`, the
    /// mere passing of time.
    Pending {
        /// What is awaited.
        why: String,
        /// When to look again even if no event arrives.
        recheck_at: Option<UnixMillis>,
    },
    /// Reached: the operation succeeds.
    Reached,
    /// Cannot be reached: the operation fails with this reason.
    Failed(String),
}

impl Progress {
    /// Pending until an event arrives.
    pub fn pending(why: &str) -> Progress {
        Progress::Pending { why: why.to_string(), recheck_at: None }
    }
}

/// Whether a start (`want` = unpromoted), promote or demote has arrived:
/// the group at the role's level, settled, every respawn entry running
/// (for at least [`STEADY_MS`]).
pub fn arrival(v: &GroupView, want: Role) -> Progress {
    match v {
        GroupView::Active { role, health } if *role == want => match health {
            Health::Up | Health::Degraded(_) => Progress::Reached,
            Health::Settling(why) => Progress::pending(why),
            Health::Young { why, steady_at, .. } => {
                Progress::Pending { why: why.clone(), recheck_at: Some(*steady_at) }
            }
            Health::Failed(why) => Progress::Failed(why.clone()),
        },
        GroupView::Stopped(why) | GroupView::Stopping(why) | GroupView::Foreign(why) => Progress::pending(why),
        GroupView::Active { .. } => Progress::pending("the group is still at the other role's level"),
    }
}

/// Whether a stop has arrived: at the stop level with nothing left.
pub fn departure(v: &GroupView) -> Progress {
    match v {
        GroupView::Stopped(_) => Progress::Reached,
        GroupView::Stopping(why) | GroupView::Foreign(why) => Progress::pending(why),
        GroupView::Active { .. } => Progress::pending("the group has not left its level yet"),
    }
}

/// Whether the daemon, shutting down, has stopped every process of
/// `group` (a stop cannot tell it anything then, only wait).
pub fn emptied(snap: &Snapshot, group: &str) -> Progress {
    match snap.processes_of(group).filter(|p| p.pid.is_some()).count() {
        0 => Progress::Reached,
        n => {
            Progress::pending(&format!("the isinit daemon is shutting down; {n} process(es) of {group} still stopping"))
        }
    }
}
