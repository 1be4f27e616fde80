//! `restart TAG`: stop the entry's process gracefully and start it again.
//! The reply waits for the new process (or the reason it did not start).

use super::{Context, ask, authorize, outcome};
use crate::runtime::{Command, Peer};
use isinit_shared::protocol::Response;

pub async fn handle(ctx: &Context, peer: Peer, tag: String) -> Response {
    if let Err(denied) = authorize(ctx, peer, "restart") {
        return *denied;
    }
    outcome(ask(ctx, |reply| Command::Restart { tag, peer, reply }).await)
}
