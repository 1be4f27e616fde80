//! `status`: one snapshot.

use super::{Context, ask, exiting};
use crate::runtime::Command;
use isinit_shared::protocol::Response;

pub async fn handle(ctx: &Context) -> Response {
    reply(ask(ctx, |reply| Command::Status { reply }).await, ctx)
}

/// `status` without process rows ([`isinit_shared::protocol::Request::Groups`]).
pub async fn handle_groups(ctx: &Context) -> Response {
    reply(ask(ctx, |reply| Command::Groups { reply }).await, ctx)
}

fn reply(snapshot: Option<Box<isinit_shared::Snapshot>>, ctx: &Context) -> Response {
    match snapshot {
        Some(mut snapshot) => {
            snapshot.daemon.clients_connected = ctx.slots.connected();
            Response::Snapshot(snapshot)
        }
        None => exiting(),
    }
}
