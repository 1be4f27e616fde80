//! `signal TAG SIGNAL`: send a signal to an entry's process group(s).

use super::{Context, ask, authorize, outcome};
use crate::runtime::{Command, Peer};
use isinit_shared::protocol::Response;

pub async fn handle(ctx: &Context, peer: Peer, tag: String, signal: String) -> Response {
    if let Err(denied) = authorize(ctx, peer, "signal") {
        return *denied;
    }
    outcome(ask(ctx, |reply| Command::Signal { tag, signal, peer, reply }).await)
}
