//! The actions that talk to the daemon: start, stop, monitor, promote,
//! demote. Each is idempotent (OCF 1.1): a start of a started group, or a
//! stop of a stopped one, tells nothing and succeeds (a stop still tells
//! an owned group, to end the ownership). Every tell names the resource
//! that owns the group from then on, until its stop (SPEC §18).

use super::exit::{OcfCode, Outcome};
use super::params::Params;
use super::session::{Session, SessionError};
use super::unattended::{self, Look};
use super::view::{self, Progress, Role, Target};
use isinit_client::ClientError;
use isinit_client::held;
use isinit_shared::protocol::{ErrorKind, Owner};
use std::path::Path;
use tokio::time::Instant;

fn target(p: &Params) -> Target<'_> {
    Target { group: &p.group, level: &p.level, stop_level: &p.stop_level, promoted_level: p.promoted_level.as_deref() }
}

/// `monitor`: the group's state as an OCF code, from one snapshot. With
/// no daemon answering, what runs of the group on the node decides
/// ([`unattended::monitor`]); a daemon that is starting is waited for.
pub async fn monitor(p: &Params, s: &Session, config: &Path) -> Outcome {
    loop {
        match s.snapshot().await {
            Ok(snap) => return view::monitor(&view::view(&snap, &target(p), snap.daemon.now_ms)),
            Err(SessionError::Client(ClientError::NotRunning { .. })) => {
                match unattended::monitor(p, s, config).await {
                    Look::Answer(outcome) => return outcome,
                    Look::DaemonAlive => {
                        if let Some(timed_out) = starting(s).await {
                            return timed_out;
                        }
                    }
                }
            }
            Err(e) => return failure(e),
        }
    }
}

/// Waits a moment for a daemon that holds its lock but does not answer
/// yet (starting up); the failure to give when the operation's time is up.
async fn starting(s: &Session) -> Option<Outcome> {
    if Instant::now() + unattended::LOOK_EVERY >= s.deadline() {
        return Some(Outcome::with(
            OcfCode::ErrGeneric,
            format!("the isinit daemon on {} holds its lock but does not answer (starting?)", s.socket().display()),
        ));
    }
    tokio::time::sleep(unattended::LOOK_EVERY).await;
    None
}

/// `start` (`Role::Unpromoted`), `promote` (`Role::Promoted`) or `demote`
/// (`Role::Unpromoted` again): tell the role's level unless the group is
/// already there, then wait until it has settled with every respawn entry
/// running.
pub async fn arrive(p: &Params, s: &Session, role: Role, owner: &Owner) -> Outcome {
    let level = match role {
        Role::Unpromoted => p.level.as_str(),
        Role::Promoted => match &p.promoted_level {
            Some(l) => l.as_str(),
            None => return Outcome::with(OcfCode::Unimplemented, "promoted_level is not set"),
        },
    };
    let t = target(p);
    let judge = |snap: &_, now| view::arrival(&view::view(snap, &t, now), role);
    let (mut sub, mut snap) = match s.subscribe().await {
        Ok(x) => x,
        Err(SessionError::Client(ClientError::NotRunning { .. })) => {
            return Outcome::with(
                OcfCode::ErrGeneric,
                format!("isinit daemon not running on {}", s.socket().display()),
            );
        }
        Err(e) => return failure(e),
    };
    if role == Role::Unpromoted
        && let Err(e) = release(s.socket(), &p.group).await
    {
        return Outcome::with(OcfCode::ErrGeneric, e);
    }
    // Already there and ours: nothing to tell. There but not ours (told
    // by hand, or by this resource before the daemon knew owners): the
    // same level again, which re-runs nothing and makes the group ours.
    let told =
        snap.group(&p.group).is_some_and(|g| g.level.as_deref() == Some(level) && g.owner.as_ref() == Some(owner));
    if !told && let Err(e) = s.tell(&p.group, level, owner, false).await {
        return match e {
            SessionError::Client(ClientError::Daemon(reply)) if reply.kind == ErrorKind::NoSuchGroup => {
                Outcome::with(OcfCode::ErrConfigured, reply.message)
            }
            e => failure(e),
        };
    }
    match s.follow(&mut sub, &mut snap, judge).await {
        Ok(Progress::Reached) => {
            let state = snap.group(&p.group).map(|g| g.state.as_str()).unwrap_or("?");
            Outcome::with(OcfCode::Success, format!("group {} at level {level} ({state})", p.group))
        }
        Ok(Progress::Failed(why) | Progress::Pending { why, .. }) => Outcome::with(OcfCode::ErrGeneric, why),
        Err(SessionError::TimedOut { waited, what }) => Outcome::with(
            OcfCode::ErrGeneric,
            format!("group {} not settled at level {level} after {}s: {what}", p.group, waited.as_secs()),
        ),
        Err(e) => failure(e),
    }
}

/// How many times a stop subscribes again after losing its connection
/// (the daemon restarting or exiting under it) before giving up.
const STOP_ATTEMPTS: u32 = 3;

/// `stop`: holds the group stopped on this node until the next `start`
/// (`SOCKET.held/GROUP`, which a daemon restoring its levels obeys), tells
/// the stop level unless the group is already stopped, then waits until
/// no process of the group is left. With no daemon answering, the agent
/// stops what runs of the group itself ([`unattended::stop`]); while the
/// daemon shuts down, it waits for the group's processes to be gone.
pub async fn stop(p: &Params, s: &Session, config: &Path, owner: &Owner) -> Outcome {
    if let Err(e) = hold(s.socket(), &p.group).await {
        return Outcome::with(OcfCode::ErrGeneric, e);
    }
    let t = target(p);
    let judge = |snap: &_, now| view::departure(&view::view(snap, &t, now));
    let stopped = |why: String| Outcome::with(OcfCode::Success, why);
    let mut lost = 0;
    loop {
        let (mut sub, mut snap) = match s.subscribe().await {
            Ok(x) => x,
            Err(SessionError::Client(ClientError::NotRunning { .. })) => match unattended::stop(p, s, config).await {
                Look::Answer(outcome) => return outcome,
                Look::DaemonAlive => match starting(s).await {
                    Some(timed_out) => return timed_out,
                    None => continue,
                },
            },
            Err(e) => return failure(e),
        };
        let mut halting = snap.daemon.halting;
        let group = snap.group(&p.group);
        // An owned group is told even when it already stopped: the tell
        // ends the ownership (SPEC §18).
        let owned = group.is_some_and(|g| g.owner.is_some());
        if !halting
            && (owned
                || (group.and_then(|g| g.level.as_deref()) != Some(p.stop_level.as_str())
                    && judge(&snap, snap.daemon.now_ms) != Progress::Reached))
        {
            match s.tell(&p.group, &p.stop_level, owner, true).await {
                Ok(_) => {}
                Err(SessionError::Client(ClientError::Daemon(reply))) if reply.kind == ErrorKind::NoSuchGroup => {
                    return stopped(format!("{}: nothing to stop", reply.message));
                }
                // Shutting down: the daemon stops everything itself.
                Err(SessionError::Client(ClientError::Daemon(reply))) if reply.kind == ErrorKind::Rejected => {
                    halting = true;
                }
                // Gone meanwhile: look at the node without it.
                Err(SessionError::Client(ClientError::NotRunning { .. })) if lost < STOP_ATTEMPTS => {
                    lost += 1;
                    continue;
                }
                Err(e) => return failure(e),
            }
        }
        let progress = if halting {
            s.follow(&mut sub, &mut snap, |snap: &_, _| view::emptied(snap, &p.group)).await
        } else {
            s.follow(&mut sub, &mut snap, judge).await
        };
        match progress {
            Ok(Progress::Reached) if halting => {
                return stopped(format!("the isinit daemon is shutting down; no process of group {} is left", p.group));
            }
            Ok(Progress::Reached) => {
                return stopped(format!("group {} stopped at level {}", p.group, p.stop_level));
            }
            Ok(Progress::Failed(why) | Progress::Pending { why, .. }) => {
                return Outcome::with(OcfCode::ErrGeneric, why);
            }
            // The daemon went away (a shutdown ending, a crash): subscribe
            // again, which finds it restarted or looks at the node.
            Err(SessionError::Client(ClientError::Frame(_))) if lost < STOP_ATTEMPTS => {
                lost += 1;
                continue;
            }
            Err(SessionError::TimedOut { waited, what }) => {
                return Outcome::with(
                    OcfCode::ErrGeneric,
                    format!("group {} not stopped after {}s: {what}", p.group, waited.as_secs()),
                );
            }
            Err(e) => return failure(e),
        }
    }
}

/// Writes the group's hold mark (owned by us, trusted by the daemon as
/// root's or its own uid's).
async fn hold(socket: &Path, group: &str) -> Result<(), String> {
    let (socket, group) = (socket.to_owned(), group.to_string());
    tokio::task::spawn_blocking(move || {
        let uid = super::scan::daemon_uid(&socket);
        let why = format!("group {group} stopped by the OCF agent's stop; held stopped until its next start");
        match held::hold(&socket, &group, uid, &why) {
            // No socket directory: no daemon can start there to restore it.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => {
                Err(format!("cannot hold group {group} stopped ({}): {e}", held::path(&socket, &group).display()))
            }
            Ok(()) => Ok(()),
        }
    })
    .await
    .unwrap_or_else(|e| Err(format!("cannot hold group stopped: {e}")))
}

/// Ends the hold of the last stop (the agent's `start`).
async fn release(socket: &Path, group: &str) -> Result<(), String> {
    let (socket, group) = (socket.to_owned(), group.to_string());
    tokio::task::spawn_blocking(move || {
        held::release(&socket, &group).map_err(|e| {
            format!("cannot end the hold of group {group} ({}): {e}", held::path(&socket, &group).display())
        })
    })
    .await
    .unwrap_or_else(|e| Err(format!("cannot end the hold of the group: {e}")))
}

/// The OCF code for a conversation that failed.
fn failure(e: SessionError) -> Outcome {
    let client = match e {
        SessionError::TimedOut { waited, what } => {
            return Outcome::with(OcfCode::ErrGeneric, format!("no answer after {}s: {what}", waited.as_secs()));
        }
        SessionError::Client(c) => c,
    };
    let code = match &client {
        ClientError::PermissionDenied { .. } => OcfCode::ErrPerm,
        ClientError::VersionMismatch { .. } => OcfCode::ErrInstalled,
        ClientError::Daemon(reply) => match reply.kind {
            ErrorKind::PermissionDenied => OcfCode::ErrPerm,
            ErrorKind::InvalidConfig => OcfCode::ErrConfigured,
            // Refused now (shutting down), or a kind added later: soft.
            _ => OcfCode::ErrGeneric,
        },
        // Not running (where that is an error), a lost connection, or
        // whatever else the client may report: soft, retry or move.
        _ => OcfCode::ErrGeneric,
    };
    let reason = match &client {
        ClientError::Daemon(reply) if !reply.details.is_empty() => {
            format!("{}: {}", reply.message, reply.details.join("; "))
        }
        other => other.to_string(),
    };
    Outcome::with(code, reason)
}
