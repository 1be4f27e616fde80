//! Feeding the node's health to Pacemaker (SPEC §18): the node attribute
//! `#health-isinit`, `green`, `yellow` or `red` ([`color::judge`]), set
//! with `attrd_updater` whenever it changes. With the cluster option
//! `node-health-strategy=migrate-on-red`, Pacemaker moves every resource
//! off a node whose isinit is red.
//!
//! A consumer of the runtime like `crate::report`: it subscribes through
//! the command queue, folds the events into what the judgement needs
//! ([`color::Seen`], not a copy of the snapshot), and runs the
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
use color::{BackoffSince, Color, Limits, Seen};
use isinit_client::sleep_until;
use isinit_shared::protocol::{Snapshot, Update};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

/// How often the backoff durations and OOM kills are looked at again
/// while one could change the color with time alone.
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
/// How often a node without Pacemaker, all green, looks for it again.
const ABSENT_LOOK: Duration = Duration::from_secs(300);

/// At most one judgement per this long: a burst of events (a thousand
/// starts) is folded as it comes and judged once it settles, instead of
/// a pass over every process per event (issue 22).
const JUDGE_EVERY: Duration = Duration::from_secs(1);

/// Runs until the runtime ends. `updater` is the `attrd_updater` to run
/// (`ISINIT_ATTRD_UPDATER`, else [`attrd::DEFAULT_UPDATER`]).
///
/// `logdir_full` is the output capture's judgement of the log directory
/// (`output::space`), which it makes as output is written: this task
/// never polls the disk, and a node where nothing changes wakes it only
/// when a send is due (issue 22: idle CPU 0).
pub async fn feed(commands: mpsc::Sender<Command>, mut logdir_full_rx: watch::Receiver<bool>) {
    let updater = std::env::var("ISINIT_ATTRD_UPDATER").unwrap_or_else(|_| attrd::DEFAULT_UPDATER.to_string());
    let limits = Limits::default();
    let Some(mut view) = View::subscribe(&commands).await else { return };
    let mut backoff = BackoffSince::default();
    let mut logdir_full = *logdir_full_rx.borrow_and_update();
    let mut sent: Option<(Color, Instant)> = None;
    let mut retry_at: Option<Instant> = None;
    let mut aged: Instant = Instant::now();
    // The first judgement comes at once; later ones after events, at most
    // one per JUDGE_EVERY.
    let mut judge_at = Some(Instant::now());
    let mut judged: Option<Instant> = None;
    let mut judged_color = Color::Green;
    loop {
        let wake = sleep_until(judge_at);
        // When time alone can change something: an entry's backoff growing
        // long or OOM kills ageing out of the window (every TICK), a send
        // to retry, an unchanged value to send again.
        let ageing = (!backoff.is_empty() || judged_color == Color::Yellow).then(|| aged + TICK);
        let timely = [ageing, retry_at, sent.map(|(_, at)| at + REFRESH)].into_iter().flatten().min();
        tokio::select! {
            update = view.updates.recv() => {
                if !view.fold_all(update, &commands).await {
                    return;
                }
                if !view.seen.halting {
                    let earliest = judged.map_or_else(Instant::now, |at| at + JUDGE_EVERY);
                    judge_at.get_or_insert(earliest.max(Instant::now()));
                    continue;
                }
                // Shutting down: said at once, below (the daemon may be
                // gone within the second a judgement would wait).
                judge_at = None;
            }
            _ = wake => judge_at = None,
            _ = sleep_until(timely) => aged = Instant::now(),
            changed = logdir_full_rx.changed() => match changed {
                Ok(()) => logdir_full = *logdir_full_rx.borrow_and_update(),
                Err(_) => return, // the output capture ended: the daemon exits
            },
        }
        if view.seen.halting {
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
        judged = Some(now);
        let wall = isinit_shared::time::now_ms();
        backoff.observe(&view.seen, wall);
        let (color, why) = color::judge(&view.seen, &backoff, wall, logdir_full, &limits);
        if color != judged_color {
            retry_at = None;
        }
        judged_color = color;
        let due = match sent {
            Some((last, at)) => last != color || now.duration_since(at) >= REFRESH,
            None => true,
        };
        if !due {
            // What Pacemaker has is what it should have: nothing to retry.
            retry_at = None;
            continue;
        }
        if retry_at.is_some_and(|at| now < at) {
            continue;
        }
        if !tokio::task::spawn_blocking(attrd::pacemaker_runs).await.unwrap_or(false) {
            // A look reads the name of every process on the host (70 ms
            // of CPU with 10,000 children): while all is green (which a
            // node without the attribute counts as) a node without
            // Pacemaker looks again every ABSENT_LOOK, not every RETRY, so an
            // idle daemon spends nothing (issue 22); any other color, or
            // a change of color, is looked for at once and every RETRY.
            let wait = if color == Color::Green { ABSENT_LOOK } else { RETRY };
            retry_at = Some(Instant::now() + wait);
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

/// What the judgement needs of the runtime's state ([`color::Seen`]), as
/// the events tell it, and the updates still to fold.
struct View {
    seen: Seen,
    updates: Receiver<Arc<Update>>,
}

impl View {
    async fn subscribe(commands: &mpsc::Sender<Command>) -> Option<View> {
        let (snap, updates) = subscribe(commands).await?;
        Some(View { seen: Seen::of(&snap), updates })
    }

    /// Folds `first` and every update already waiting; a fresh snapshot
    /// where one cannot be folded (a new isinittab) or some were missed.
    /// False once the runtime is gone.
    async fn fold_all(&mut self, first: Result<Arc<Update>, RecvError>, commands: &mpsc::Sender<Command>) -> bool {
        let mut next = first;
        loop {
            let folded = match next {
                Ok(update) => self.fold(&update),
                Err(RecvError::Lagged(_)) => false,
                Err(RecvError::Closed) => return false,
            };
            if !folded {
                let Some(fresh) = View::subscribe(commands).await else { return false };
                *self = fresh;
            }
            next = match self.updates.try_recv() {
                Ok(update) => Ok(update),
                Err(TryRecvError::Empty) => return true,
                Err(TryRecvError::Lagged(n)) => Err(RecvError::Lagged(n)),
                Err(TryRecvError::Closed) => Err(RecvError::Closed),
            };
        }
    }

    /// One update; false if it cannot be folded on its own.
    fn fold(&mut self, update: &Update) -> bool {
        self.seen.apply(&update.event)
    }
}

/// A snapshot and the updates that follow it, from the runtime itself.
async fn subscribe(commands: &mpsc::Sender<Command>) -> Option<(Snapshot, Receiver<Arc<Update>>)> {
    let (reply, rx) = oneshot::channel();
    commands.send(Command::Subscribe { reply }).await.ok()?;
    let (snap, updates) = rx.await.ok()?;
    Some((*snap, updates))
}
