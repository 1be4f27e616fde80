//! The actions that talk to the daemon: start, stop, monitor, promote,
//! demote. Each is idempotent (OCF 1.1): a start of a started group, or a
//! stop of a stopped one, tells nothing and succeeds.

use super::exit::{OcfCode, Outcome};
use super::params::Params;
use super::session::{Session, SessionError};
use super::view::{self, Progress, Role, Target};
use isinit_client::ClientError;
use isinit_shared::protocol::ErrorKind;

fn target(p: &Params) -> Target<'_> {
    Target { group: &p.group, level: &p.level, stop_level: &p.stop_level, promoted_level: p.promoted_level.as_deref() }
}

/// `monitor`: the group's state as an OCF code, from one snapshot. A
/// daemon that does not run supervises nothing: not running.
pub async fn monitor(p: &Params, s: &Session) -> Outcome {
    match s.snapshot().await {
        Ok(snap) => view::monitor(&view::view(&snap, &target(p), snap.daemon.now_ms)),
        Err(SessionError::Client(ClientError::NotRunning { .. })) => {
            Outcome::with(OcfCode::NotRunning, format!("isinit daemon not running on {}", s.socket().display()))
        }
        Err(e) => failure(e),
    }
}

/// `start` (`Role::Unpromoted`), `promote` (`Role::Promoted`) or `demote`
/// (`Role::Unpromoted` again): tell the role's level unless the group is
/// already there, then wait until it has settled with every respawn entry
/// running.
pub async fn arrive(p: &Params, s: &Session, role: Role) -> Outcome {
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
    let told = snap.group(&p.group).and_then(|g| g.level.as_deref()) == Some(level);
    if !told && let Err(e) = s.tell(&p.group, level).await {
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

/// How many times a stop re-subscribes after losing its connection (the
/// daemon restarting under it) before giving up.
const STOP_ATTEMPTS: u32 = 3;

/// `stop`: tell the stop level unless the group is already stopped, then
/// wait until no process of the group is left. A daemon that is not
/// running, or does not know the group, has nothing of it running.
pub async fn stop(p: &Params, s: &Session) -> Outcome {
    let t = target(p);
    let judge = |snap: &_, now| view::departure(&view::view(snap, &t, now));
    let stopped = |why: String| Outcome::with(OcfCode::Success, why);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (mut sub, mut snap) = match s.subscribe().await {
            Ok(x) => x,
            Err(SessionError::Client(ClientError::NotRunning { .. })) => {
                return stopped(format!("isinit daemon not running on {}: nothing to stop", s.socket().display()));
            }
            Err(e) => return failure(e),
        };
        if snap.group(&p.group).and_then(|g| g.level.as_deref()) != Some(p.stop_level.as_str())
            && judge(&snap, snap.daemon.now_ms) != Progress::Reached
        {
            match s.tell(&p.group, &p.stop_level).await {
                Ok(_) => {}
                Err(SessionError::Client(ClientError::Daemon(reply))) if reply.kind == ErrorKind::NoSuchGroup => {
                    return stopped(format!("{}: nothing to stop", reply.message));
                }
                Err(SessionError::Client(ClientError::NotRunning { .. })) => {
                    return stopped("isinit daemon went away: nothing to stop".to_string());
                }
                Err(e) => return failure(e),
            }
        }
        match s.follow(&mut sub, &mut snap, judge).await {
            Ok(Progress::Reached) => {
                return stopped(format!("group {} stopped at level {}", p.group, p.stop_level));
            }
            Ok(Progress::Failed(why) | Progress::Pending { why, .. }) => {
                return Outcome::with(OcfCode::ErrGeneric, why);
            }
            Err(SessionError::Client(ClientError::Frame(_))) if attempt < STOP_ATTEMPTS => continue,
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
