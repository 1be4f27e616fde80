//! `status`: one snapshot.

use super::{ask, exiting, Context};
use crate::runtime::Command;
use isinit_shared::protocol::Response;

pub async fn handle(ctx: &Context) -> Response {
    match ask(ctx, |reply| Command::Status { reply }).await {
        Some(snapshot) => Response::Snapshot(snapshot),
        None => exiting(),
    }
}
