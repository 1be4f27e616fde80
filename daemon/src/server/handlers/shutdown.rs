//! `shutdown`: the reply comes at once; the daemon exits once every process
//! has stopped, closing this connection, which is what `--wait` waits for.

use super::{Context, ask, authorize, outcome};
use crate::runtime::{Command, Peer};
use isinit_shared::protocol::Response;

pub async fn handle(ctx: &Context, peer: Peer) -> Response {
    if let Err(denied) = authorize(ctx, peer, "shut down the daemon") {
        return *denied;
    }
    outcome(ask(ctx, |reply| Command::Shutdown { peer, reply }).await)
}
