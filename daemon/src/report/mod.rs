//! The task that tells the service manager the daemon is ready, and keeps
//! its `STATUS=` line current: a consumer of the runtime (it asks for
//! snapshots and follows events, like a client), speaking through
//! [`crate::notify`], which knows nothing of the runtime.

mod summary;

pub use summary::{Counts, summary};

use crate::notify;
use crate::runtime::Command;
use isinit_client::Client;
use isinit_shared::protocol::{Event, Request, Snapshot, Update};
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::broadcast::{Receiver, error::RecvError};
use tokio::sync::{mpsc, oneshot};

/// How long the control socket may take to answer the readiness probe. The
/// runtime has already answered in-process by then, so only a broken
/// socket takes this long.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends `READY=1` once the runtime runs (start-up work done) *and* the
/// control socket answers a status request like any client's; then a new
/// `STATUS=` line whenever a group changes state and the line differs.
///
/// Returns at once without `$NOTIFY_SOCKET`, and when the runtime ends.
/// Spawned by `daemon::run` once the server accepts connections.
pub async fn report(commands: mpsc::Sender<Command>, control_socket: PathBuf) {
    if !notify::enabled() {
        return;
    }
    // The runtime answers only from its main loop, after its start-up work.
    let Some((snap, mut updates)) = subscribe(&commands).await else { return };
    let mut counts = Counts::of(&snap);
    drop(snap);
    if let Err(e) = Client::connect_and_request(&control_socket, &Request::Status, PROBE_TIMEOUT).await {
        tracing::error!("the control socket does not answer ({e}); not telling the service manager we are ready");
        return;
    }
    let mut last = summary(&counts);
    notify::ready(Some(&last));
    tracing::info!("told the service manager we are ready");
    loop {
        let resync = match updates.recv().await {
            Ok(update) => {
                let group_changed = matches!(update.event, Event::Group(_) | Event::GroupRemoved { .. });
                match counts.apply(&update.event) {
                    true if !group_changed => continue,
                    applied => !applied,
                }
            }
            Err(RecvError::Lagged(_)) => true,
            Err(RecvError::Closed) => return,
        };
        if resync {
            // A new isinittab, or we fell behind: start from a fresh snapshot.
            let Some((fresh, rx)) = subscribe(&commands).await else { return };
            (counts, updates) = (Counts::of(&fresh), rx);
        }
        let line = summary(&counts);
        if line != last {
            notify::status(&line);
            last = line;
        }
    }
}

/// A snapshot and the updates that follow it, from the runtime itself.
async fn subscribe(commands: &mpsc::Sender<Command>) -> Option<(Snapshot, Receiver<std::sync::Arc<Update>>)> {
    let (reply, rx) = oneshot::channel();
    commands.send(Command::Subscribe { reply }).await.ok()?;
    let (snap, updates) = rx.await.ok()?;
    Some((*snap, updates))
}
