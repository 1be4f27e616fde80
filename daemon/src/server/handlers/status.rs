//! `status`: one snapshot.

use super::{Context, ask, exiting};
use crate::runtime::Command;
use isinit_shared::protocol::Response;

pub async fn handle(ctx: &Context) -> Response {
    match ask(ctx, |reply| Command::Status { reply }).await {
        Some(mut snapshot) => {
            snapshot.daemon.clients_connected = ctx.slots.connected();
            Response::Snapshot(snapshot)
        }
        None => exiting(),
    }
}
