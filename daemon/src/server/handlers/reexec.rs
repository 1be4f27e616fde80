//! `reexec`: re-execute the daemon binary in place (SPEC §10). On success
//! this process image is gone and the new one answers on this very
//! connection; what comes back here is only a failure, with its reason.

use super::{Context, ask, authorize, outcome};
use crate::runtime::Command;
use crate::server::connection::Conn;
use std::os::fd::AsFd;

pub async fn handle(ctx: &Context, mut conn: Conn) {
    if let Err(denied) = authorize(ctx, conn.peer, "re-execute the daemon") {
        let _ = conn.send(&denied).await;
        return;
    }
    // The new image answers on this connection, so the hello's reply goes
    // out first.
    if conn.flush_held().await.is_err() {
        return;
    }
    // A close-on-exec duplicate: only the runtime, right before execve,
    // lets it through.
    let fd = match conn.writer.as_ref().as_fd().try_clone_to_owned() {
        Ok(fd) => fd,
        Err(e) => {
            let reply = outcome(Some(Err(isinit_shared::protocol::ErrorReply::new(
                isinit_shared::protocol::ErrorKind::Rejected,
                format!("cannot pass the connection on: {e}"),
            ))));
            let _ = conn.send(&reply).await;
            return;
        }
    };
    let peer = conn.peer;
    let reply = outcome(ask(ctx, |reply| Command::Reexec { peer, conn: fd, reply }).await);
    let _ = conn.send(&reply).await;
}
