//! `tell GROUP LEVEL`, its dry run, and a tell that says who asks
//! (SPEC §18: the OCF agent's, which makes the group owned, and `--force`).

use super::{Context, ask, authorize, exiting, outcome};
use crate::runtime::{Command, Peer};
use isinit_shared::protocol::{Asker, Response};

pub async fn handle(ctx: &Context, peer: Peer, group: String, level: String, dry_run: bool) -> Response {
    if dry_run {
        // A preview changes nothing, so anyone who can connect may ask.
        return match ask(ctx, |reply| Command::Plan { group, level, reply }).await {
            Some(plan) => Response::Plan(plan),
            None => exiting(),
        };
    }
    handle_as(ctx, peer, group, level, Asker::Operator).await
}

/// A tell on behalf of `asker`; refused (by the runtime) for an owned group
/// unless the asker is its manager or forces it.
pub async fn handle_as(ctx: &Context, peer: Peer, group: String, level: String, asker: Asker) -> Response {
    if let Err(denied) = authorize(ctx, peer, "tell") {
        return *denied;
    }
    outcome(ask(ctx, |reply| Command::Tell { group, level, asker, peer, reply }).await)
}
