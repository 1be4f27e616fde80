//! `status`: one snapshot.

use super::{Context, ask, exiting};
use crate::runtime::Command;
use isinit_shared::protocol::Response;

pub async fn handle(ctx: &Context) -> Response {
    match ask(ctx, |reply| Command::Status { reply }).await {
        Some(snapshot) => Response::Snapshot(snapshot),
        None => exiting(),
    }
}
