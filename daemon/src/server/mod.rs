//! The control socket (SPEC §7): the listener, one task per connection,
//! and one handler per request kind (`handlers/`).
//!
//! The server never touches supervisor state: every handler sends a
//! [`Command`] to the runtime task and waits on its `oneshot`. A client
//! that is slow, silent, hostile or gone only ever occupies its own task,
//! and at most [`MAX_CONNECTIONS`] (+ [`RESERVED_CONNECTIONS`] for
//! privileged peers) of those exist at once.

mod connection;
mod handlers;
mod socket;

pub use socket::{BindError, SocketFile, bind};

use crate::runtime::{Command, Peer};
use isinit_shared::protocol::DaemonInfo;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UnixListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};

/// Connections served at once for clients that may only read; more are
/// closed at once, so a flood of clients cannot exhaust the daemon's file
/// descriptors or memory.
pub const MAX_CONNECTIONS: usize = 256;
/// Connections kept in reserve for root and the daemon's own user, so that
/// however many idle readers hold the shared slots, an operator can still
/// tell, reload and shut down.
pub const RESERVED_CONNECTIONS: usize = 32;
/// Streams (subscriptions, `logs -f`) that can exist at once: one per
/// connection at most.
pub const STREAM_SLOTS: usize = MAX_CONNECTIONS + RESERVED_CONNECTIONS;
/// What a stream ended by `reexec` is told.
pub const REEXEC_REASON: &str = "daemon re-executing; reconnect";
/// How long a new client has to say hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a request-reply connection may sit idle between requests.
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// How long the listener waits after a failed accept (EMFILE) before
/// trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// How long one reply may take to write before the client is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// What every connection task needs.
#[derive(Clone)]
pub struct Context {
    /// Requests for the runtime task.
    pub commands: mpsc::Sender<Command>,
    /// The daemon's identity, for hello replies without a round trip.
    pub info: watch::Receiver<DaemonInfo>,
    /// Output of every tag, for `logs`.
    pub output: crate::runtime::output::OutputHub,
    /// Reads CPU and memory of process groups when a client asks.
    pub usage: crate::runtime::usage::UsageSampler,
    /// The daemon's effective uid: besides root, the only one that may
    /// change state.
    pub own_uid: u32,
    /// Becomes true when the daemon is exiting: connections finish the
    /// reply they are writing and close.
    pub exiting: watch::Receiver<bool>,
    /// The connection slots, which also count the clients being served
    /// (`isinit_clients_connected`).
    pub slots: Slots,
    /// Becomes true while the daemon re-executes: streams end, telling
    /// their clients to reconnect.
    pub ending: watch::Receiver<bool>,
    /// One permit held by every live stream, so that `reexec` can wait
    /// until they have all delivered their last message.
    pub streams: Arc<Semaphore>,
}

/// One permit per connection being served. Privileged peers draw from
/// their reserve once the shared slots are taken.
#[derive(Clone)]
pub struct Slots {
    shared: Arc<Semaphore>,
    reserved: Arc<Semaphore>,
}

impl Slots {
    /// Every slot free.
    pub fn new() -> Slots {
        Slots {
            shared: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
            reserved: Arc::new(Semaphore::new(RESERVED_CONNECTIONS)),
        }
    }

    fn take(&self, privileged: bool) -> Option<OwnedSemaphorePermit> {
        self.shared
            .clone()
            .try_acquire_owned()
            .or_else(|e| if privileged { self.reserved.clone().try_acquire_owned() } else { Err(e) })
            .ok()
    }

    /// How many connections are being served now: the slots taken from
    /// both pools.
    pub fn connected(&self) -> u32 {
        let taken = (MAX_CONNECTIONS - self.shared.available_permits().min(MAX_CONNECTIONS))
            + (RESERVED_CONNECTIONS - self.reserved.available_permits().min(RESERVED_CONNECTIONS));
        u32::try_from(taken).unwrap_or(u32::MAX)
    }

    /// Waits (at most `limit`) until every connection task has finished, so
    /// replies already given — the one to `shutdown` above all — reach
    /// their clients before the process exits.
    pub async fn drain(&self, limit: Duration) {
        let all = async {
            let _ = self.shared.acquire_many(MAX_CONNECTIONS as u32).await;
            let _ = self.reserved.acquire_many(RESERVED_CONNECTIONS as u32).await;
        };
        if tokio::time::timeout(limit, all).await.is_err() {
            tracing::warn!("some clients did not disconnect within {limit:?}; exiting anyway");
        }
    }
}

impl Default for Slots {
    fn default() -> Self {
        Slots::new()
    }
}

impl Context {
    /// SPEC §7: changing state is for root and the daemon's own user only.
    pub fn may_change_state(&self, peer: Peer) -> bool {
        peer.uid == 0 || peer.uid == self.own_uid
    }
}

/// Resolves once the daemon is exiting (or the signal's sender is gone).
pub(crate) async fn until_exiting(exiting: &mut watch::Receiver<bool>) {
    while !*exiting.borrow_and_update() {
        if exiting.changed().await.is_err() {
            return;
        }
    }
}

/// Accepts connections until the task is dropped.
pub async fn serve(listener: UnixListener, ctx: Context) {
    let slots = ctx.slots.clone();
    // Accept failures in a row: EMFILE repeats until a descriptor is freed,
    // and is said once, not twenty times a second.
    let mut failures = 0u64;
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                if failures == 0 {
                    tracing::warn!("cannot accept connections: {e}; retrying until it works");
                }
                failures += 1;
                // EMFILE and friends: back off briefly instead of spinning.
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        if failures > 0 {
            tracing::info!("accepting connections again, after {failures} failed attempts");
            failures = 0;
        }
        let peer = match stream.peer_cred() {
            Ok(c) => Peer { uid: c.uid(), pid: c.pid().and_then(|p| u32::try_from(p).ok()) },
            Err(e) => {
                tracing::warn!("cannot read peer credentials, dropping connection: {e}");
                continue;
            }
        };
        let Some(permit) = slots.take(ctx.may_change_state(peer)) else {
            tracing::warn!("connection from uid {} refused: {MAX_CONNECTIONS} clients already connected", peer.uid);
            continue;
        };
        let ctx = ctx.clone();
        tokio::spawn(async move {
            connection::serve(stream, peer, ctx).await;
            drop(permit);
        });
    }
}
