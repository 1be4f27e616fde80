//! `usage`: CPU and memory of every live process group. The runtime only
//! names the groups; the sampler reads `/proc` off the runtime task.
//! Reading, so anyone who can connect may ask.

use super::{Context, ask, exiting};
use crate::runtime::Command;
use isinit_shared::protocol::Response;

pub async fn handle(ctx: &Context) -> Response {
    let Some(groups) = ask(ctx, |reply| Command::LiveGroups { reply }).await else { return exiting() };
    match ctx.usage.sample(groups).await {
        Some(rows) => Response::Usage(rows),
        None => exiting(),
    }
}
