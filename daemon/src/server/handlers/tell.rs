//! `tell GROUP LEVEL` and its dry run.

use super::{Context, ask, authorize, exiting, outcome};
use crate::runtime::{Command, Peer};
use isinit_shared::protocol::Response;

pub async fn handle(ctx: &Context, peer: Peer, group: String, level: String, dry_run: bool) -> Response {
    if dry_run {
        // A preview changes nothing, so anyone who can connect may ask.
        return match ask(ctx, |reply| Command::Plan { group, level, reply }).await {
            Some(plan) => Response::Plan(plan),
            None => exiting(),
        };
    }
    if let Err(denied) = authorize(ctx, peer, "tell") {
        return *denied;
    }
    outcome(ask(ctx, |reply| Command::Tell { group, level, peer, reply }).await)
}
