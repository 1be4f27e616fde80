//! What the socket server asks of the runtime task. Each command carries a
//! `oneshot` for its reply, so the server never touches supervisor state.

use isinit_shared::protocol::{ErrorReply, Plan, Snapshot, Update};
use tokio::sync::{broadcast, oneshot};

/// Who sent a request, from the socket's peer credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    pub uid: u32,
    pub pid: Option<u32>,
}

/// The reply to a state-changing command: a message for humans, or why not.
pub type Outcome = Result<String, ErrorReply>;

/// One request for the runtime task.
#[derive(Debug)]
pub enum Command {
    /// Switch a group (SPEC §3). Re-reads the isinittab first.
    Tell { group: String, level: String, peer: Peer, reply: oneshot::Sender<Outcome> },
    /// What a tell would do; changes nothing.
    Plan { group: String, level: String, reply: oneshot::Sender<Plan> },
    /// A snapshot of everything.
    Status { reply: oneshot::Sender<Box<Snapshot>> },
    /// Re-read and adopt the isinittab.
    Reload { peer: Peer, reply: oneshot::Sender<Outcome> },
    /// Stop everything and exit.
    Shutdown { peer: Peer, reply: oneshot::Sender<Outcome> },
    /// A snapshot and the updates that follow it, with no gap in between.
    Subscribe { reply: oneshot::Sender<(Box<Snapshot>, broadcast::Receiver<Update>)> },
    /// Whether `tag` names an entry or a record the daemon knows.
    KnowsTag { tag: String, reply: oneshot::Sender<bool> },
}
