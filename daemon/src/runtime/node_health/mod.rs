//! Feeding the node's health to Pacemaker (SPEC §18): the node attribute
//! `#health-isinit`, `green`, `yellow` or `red` ([`color::judge`]), set
//! with `attrd_updater` whenever it changes. With the cluster option
//! `node-health-strategy=migrate-on-red`, Pacemaker moves every resource
//! off a node whose isinit is red.
//!
//! A consumer of the runtime like `crate::report`: it subscribes through
//! the command queue, folds the events into a snapshot, and runs the
//! updater in a task of its own ([`attrd::update`], with a time limit), so
//! a slow or hung cluster stack never delays the runtime. It runs the
//! updater only while a Pacemaker attribute daemon runs on the node
//! ([`attrd::pacemaker_runs`]); where the updater is missing or fails, it
//! tries again later; the value is also sent again every
//! [`REFRESH`], since Pacemaker forgets a node's transient attributes
//! when the node leaves the cluster.

pub mod attrd;
pub mod color;

use super::Command;
use color::{BackoffSince, Color, Limits};
use isinit_shared::protocol::{Snapshot, Update};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::broadcast::{Receiver, error::RecvError};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// How often the log directory's space and the backoff durations are
/// looked at when no event comes.
const TICK: Duration = Duration::from_secs(5);
/// How long after a failed or impossible update the next try comes (a
/// Pacemaker Remote node refuses updates for a moment after its
/// connection starts, which `crm_mon` already shows as online).
const RETRY: Duration = Duration::from_secs(10);
/// How often an unchanged value is sent again: Pacemaker clears a node's
/// transient attributes when it leaves, and a remote node's whenever its
/// connection starts again, without telling the node. One updater run a
/// minute bounds how long the value can be missing.
const REFRESH: Duration = Duration::from_secs(60);
/// Runs until the runtime ends. `updater` is the `attrd_updater` to run
/// (`ISINIT_ATTRD_UPDATER`, else [`attrd::DEFAULT_UPDATER`]).
pub async fn feed(commands: mpsc::Sender<Command>, logdir: PathBuf) {
    let updater = std::env::var("ISINIT_ATTRD_UPDATER").unwrap_or_else(|_| attrd::DEFAULT_UPDATER.to_string());
    let limits = Limits::default();
    let Some((mut snap, mut updates)) = subscribe(&commands).await else { return };
    let mut backoff = BackoffSince::default();
    let mut logdir_full = false;
    let mut sent: Option<(Color, Instant)> = None;
    let mut retry_at: Option<Instant> = None;
    let mut tick = tokio::time::interval(TICK);
    loop {
        tokio::select! {
            update = updates.recv() => match update {
                Ok(update) => {
                    if !snap.apply(&update) {
                        let Some(fresh) = subscribe(&commands).await else { return };
                        (snap, updates) = fresh;
                    }
                }
                Err(RecvError::Lagged(_)) => {
                    let Some(fresh) = subscribe(&commands).await else { return };
                    (snap, updates) = fresh;
                }
                Err(RecvError::Closed) => return,
            },
            _ = tick.tick() => logdir_full = full(&logdir).await,
        }
        if snap.daemon.halting {
            // Shutting down: what isinit said of the node stops being true.
            if sent.is_some() {
                match attrd::delete(&updater).await {
                    Ok(()) => tracing::info!("node health {} removed: isinit is shutting down", attrd::ATTRIBUTE),
                    Err(e) => tracing::warn!("cannot remove {}: {e}; it keeps its last value", attrd::ATTRIBUTE),
                }
            }
            return;
        }
        let now = Instant::now();
        let wall = isinit_shared::time::now_ms();
        backoff.observe(&snap, wall);
        let (color, why) = color::judge(&snap, &backoff, wall, logdir_full, &limits);
        let due = match sent {
            Some((last, at)) => last != color || now.duration_since(at) >= REFRESH,
            None => true,
        };
        if !due || retry_at.is_some_and(|at| now < at) {
            continue;
        }
        if !tokio::task::spawn_blocking(attrd::pacemaker_runs).await.unwrap_or(false) {
            retry_at = Some(Instant::now() + RETRY);
            continue;
        }
        match attrd::update(&updater, color.as_str()).await {
            Ok(()) => {
                let changed = sent.is_none_or(|(last, _)| last != color);
                sent = Some((color, Instant::now()));
                retry_at = None;
                if changed {
                    let message = format!("node health {} = {} ({why})", attrd::ATTRIBUTE, color.as_str());
                    tracing::info!("{message}");
                    let _ = commands.try_send(Command::Notice { message });
                }
            }
            Err(e) => {
                tracing::debug!("cannot set {}: {e}; trying again in {RETRY:?}", attrd::ATTRIBUTE);
                retry_at = Some(Instant::now() + RETRY);
            }
        }
    }
}

/// Whether the log directory's file system is full, as the output
/// capture judges it (one `statvfs`, off the runtime thread; a failed look
/// says not full).
async fn full(logdir: &Path) -> bool {
    let dir = logdir.to_owned();
    tokio::task::spawn_blocking(move || {
        Some(crate::runtime::output::space::free_bytes(&dir)? < crate::runtime::output::space::LOW)
    })
    .await
    .ok()
    .flatten()
    .unwrap_or(false)
}

/// A snapshot and the updates that follow it, from the runtime itself.
async fn subscribe(commands: &mpsc::Sender<Command>) -> Option<(Snapshot, Receiver<Update>)> {
    let (reply, rx) = oneshot::channel();
    commands.send(Command::Subscribe { reply }).await.ok()?;
    let (snap, updates) = rx.await.ok()?;
    Some((*snap, updates))
}
