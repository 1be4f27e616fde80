//! `monitor` and `stop` when no daemon answers on the socket.
//!
//! The daemon's lock (`SOCKET.lock`, [`DaemonLock`]) tells a dead daemon
//! from one that is starting: held, a daemon lives and will answer — the
//! agent asks it again within the operation's time; free, none does, and
//! the agent takes the lock itself, so that no daemon can start and
//! restore the group while the agent looks at the node ([`scan`]) or stops
//! what runs of the group, with the daemon's own signals and delays.

use super::alone::{self, Running, Step};
use super::exit::{OcfCode, Outcome};
use super::params::Params;
use super::scan;
use super::session::Session;
use isinit_client::daemon_lock::DaemonLock;
use isinit_shared::settings::{DEFAULT_KILL_AFTER, DEFAULT_TERM_AFTER};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::collections::BTreeSet;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::time::Instant;

/// How often the node is looked at again while waiting for processes to
/// go (no single event says a set of process groups and cgroups emptied,
/// and a stray may fork meanwhile) or for a starting daemon to answer.
pub const LOOK_EVERY: Duration = Duration::from_millis(100);

/// What a look without the daemon came to.
#[derive(Debug)]
pub enum Look {
    /// The lock is held: a daemon lives (maybe still starting); ask it.
    DaemonAlive,
    /// The answer of the action.
    Answer(Outcome),
}

/// Where to look: the socket, the group, the daemon's uid and the cgroup
/// ROOTs the isinittab names.
struct Node {
    socket: PathBuf,
    group: String,
    uid: u32,
    roots: Vec<PathBuf>,
}

impl Node {
    async fn of(p: &Params, s: &Session, config: &Path) -> Node {
        let (socket, config) = (s.socket().to_owned(), config.to_owned());
        let (uid, roots) =
            blocking(move || (scan::daemon_uid(&socket), scan::configured_root(&config))).await.unwrap_or((0, None));
        Node { socket: s.socket().to_owned(), group: p.group.clone(), uid, roots: roots.into_iter().collect() }
    }

    /// What runs of the group; `Err` when the look itself failed, which
    /// proves nothing either way.
    async fn scan(&self) -> Result<Running, Outcome> {
        let (socket, group, uid, roots) = (self.socket.clone(), self.group.clone(), self.uid, self.roots.clone());
        blocking(move || scan::scan(&socket, &group, uid, &roots)).await.ok_or_else(|| {
            Outcome::with(OcfCode::ErrGeneric, "no isinit daemon answers and the look at the node failed")
        })
    }

    /// Takes the daemon's lock: `Ok(None)` when a daemon holds it. A lock
    /// file this agent creates is given to the daemon's uid, so that a
    /// daemon not running as root can still take it later.
    async fn lock(&self) -> Result<Option<DaemonLock>, std::io::Error> {
        let (socket, uid) = (self.socket.clone(), self.uid);
        blocking(move || {
            let lock = DaemonLock::try_acquire(&socket)?;
            if let Some(l) = &lock
                && nix::unistd::geteuid().is_root()
            {
                std::os::unix::fs::fchown(l.as_fd(), Some(uid), None)?;
            }
            Ok(lock)
        })
        .await
        .unwrap_or_else(|| Err(std::io::Error::other("the lock task failed")))
    }
}

/// Runs blocking file-system work off the runtime's thread.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    tokio::task::spawn_blocking(f).await.ok()
}

/// `monitor` with no daemon answering: not running only if nothing of the
/// group runs, looked at while holding the lock.
pub async fn monitor(p: &Params, s: &Session, config: &Path) -> Look {
    let node = Node::of(p, s, config).await;
    let _lock = match node.lock().await {
        Ok(Some(lock)) => Some(lock),
        Ok(None) => return Look::DaemonAlive,
        // No lock to take (no socket directory, or not ours to open): the
        // look still says what runs now.
        Err(_) => None,
    };
    Look::Answer(match node.scan().await {
        Ok(found) => alone::monitor(&found, &p.group, &node.socket),
        Err(failed) => failed,
    })
}

/// `stop` with no daemon answering: holding the lock, marks the group held
/// (the caller did) and stops what runs of it — SIGINT, SIGTERM, SIGKILL
/// to process groups and cgroups on the daemon's default delays, squeezed
/// into the operation's time — and succeeds only once nothing is left.
pub async fn stop(p: &Params, s: &Session, config: &Path) -> Look {
    let node = Node::of(p, s, config).await;
    let _lock = match node.lock().await {
        Ok(Some(lock)) => Some(lock),
        Ok(None) => return Look::DaemonAlive,
        // No socket directory: no daemon can have run, or start, there.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Look::Answer(Outcome::with(
                OcfCode::ErrGeneric,
                format!("no isinit daemon answers and its lock cannot be taken: {e}"),
            ));
        }
    };
    let began = Instant::now();
    let plan = alone::schedule(DEFAULT_TERM_AFTER, DEFAULT_KILL_AFTER, s.deadline().saturating_duration_since(began));
    let mut seen = BTreeSet::new();
    for (step, at) in plan {
        let due = began + at;
        let found = loop {
            let found = match node.scan().await {
                Ok(found) => found,
                Err(failed) => return Look::Answer(failed),
            };
            seen.extend(found.members.iter().map(|m| m.pid));
            if found.is_empty() {
                return Look::Answer(alone::stopped(&found, &p.group, seen.len()));
            }
            if Instant::now() >= due {
                break found;
            }
            tokio::time::sleep(LOOK_EVERY.min(due.saturating_duration_since(Instant::now()))).await;
        };
        send(&found, step);
    }
    loop {
        let found = match node.scan().await {
            Ok(found) => found,
            Err(failed) => return Look::Answer(failed),
        };
        if found.is_empty() || Instant::now() >= s.deadline() {
            return Look::Answer(alone::stopped(&found, &p.group, seen.len()));
        }
        tokio::time::sleep(LOOK_EVERY).await;
    }
}

/// Sends one step's signal to everything found: through its cgroup where
/// it has one (`cgroup.kill` for SIGKILL), else to its process group.
fn send(found: &Running, step: Step) {
    let signal = match step {
        Step::Interrupt => Signal::SIGINT,
        Step::Terminate => Signal::SIGTERM,
        Step::Kill => Signal::SIGKILL,
    };
    let pgids: BTreeSet<i32> = found.members.iter().filter(|m| m.cgroup.is_none()).map(|m| m.pgid).collect();
    // Never our own process group, nor init's.
    let own = nix::unistd::getpgrp().as_raw();
    for pgid in pgids.into_iter().filter(|g| *g > 1 && *g != own) {
        let _ = killpg(Pid::from_raw(pgid), signal);
    }
    for dir in &found.cgroups {
        isinit_cgroup::signal(dir, signal);
    }
}
