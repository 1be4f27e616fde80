//! One file per request kind. Each turns a request into a runtime
//! [`Command`], awaits its reply, and shapes the [`Response`].

pub mod analyze;
pub mod logs;
pub mod logs_group;
pub mod ps;
mod ps_tree;
pub mod reexec;
pub mod reload;
pub mod restart;
pub mod retry;
pub mod running_config;
pub mod shutdown;
pub mod signal;
pub mod status;
pub mod subscribe;
pub mod tell;
pub mod usage;

use super::Context;
use crate::runtime::{Command, Outcome, Peer};
use isinit_shared::protocol::{ErrorKind, ErrorReply, Response};
use tokio::sync::oneshot;

/// Sends a command built around a reply channel and awaits the reply;
/// `None` once the runtime is gone (the daemon is exiting).
async fn ask<T>(ctx: &Context, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Option<T> {
    let (tx, rx) = oneshot::channel();
    ctx.commands.send(make(tx)).await.ok()?;
    rx.await.ok()
}

/// The reply when the runtime has already gone away.
fn exiting() -> Response {
    Response::Error(ErrorReply::new(ErrorKind::Rejected, "daemon is exiting"))
}

/// Refuses a state change to anyone but root and the daemon's own user.
fn authorize(ctx: &Context, peer: Peer, what: &str) -> Result<(), Box<Response>> {
    if ctx.may_change_state(peer) {
        return Ok(());
    }
    tracing::warn!("refused {what} from uid {} pid {:?}: permission denied", peer.uid, peer.pid);
    Err(Box::new(Response::Error(ErrorReply::new(
        ErrorKind::PermissionDenied,
        format!("permission denied: only root and uid {} may {what}", ctx.own_uid),
    ))))
}

/// The response for a state-changing command's outcome.
fn outcome(o: Option<Outcome>) -> Response {
    match o {
        Some(Ok(message)) => Response::Ok { message },
        Some(Err(e)) => Response::Error(e),
        None => exiting(),
    }
}
