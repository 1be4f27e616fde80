//! `reload`: re-read and adopt the isinittab.

use super::{Context, ask, authorize, outcome};
use crate::runtime::{Command, Peer};
use isinit_shared::protocol::Response;

pub async fn handle(ctx: &Context, peer: Peer) -> Response {
    if let Err(denied) = authorize(ctx, peer, "reload") {
        return *denied;
    }
    outcome(ask(ctx, |reply| Command::Reload { peer, reply }).await)
}
