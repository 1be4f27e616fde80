//! `running-config`: the isinittab in force and the file on disk, for
//! `isinit drift`. Read-only, so any peer that may connect may ask.

use super::{Context, ask, exiting};
use crate::runtime::Command;
use isinit_shared::config::Inittab;
use isinit_shared::protocol::{ErrorKind, ErrorReply, MAX_FRAME_LEN, OnDisk, Response, RunningConfig};

/// Room left in a frame for everything but the two texts.
const FRAME_OVERHEAD: usize = 4096;

pub async fn handle(ctx: &Context) -> Response {
    let Some((path, sha256, text)) = ask(ctx, |reply| Command::RunningConfig { reply }).await else {
        return exiting();
    };
    // Read here, on this connection's task, not on the runtime's: a slow
    // disk must not hold up supervision.
    let on_disk = match tokio::fs::read(&path).await {
        Ok(bytes) => {
            let disk_sha = Inittab::digest(&bytes);
            if disk_sha == sha256 {
                OnDisk::Same
            } else {
                OnDisk::Differs { sha256: disk_sha, text: String::from_utf8_lossy(&bytes).into_owned() }
            }
        }
        Err(e) => OnDisk::Unreadable(e.to_string()),
    };
    let disk_len = match &on_disk {
        OnDisk::Differs { text, .. } => text.len(),
        _ => 0,
    };
    if text.len().saturating_add(disk_len).saturating_add(FRAME_OVERHEAD) > MAX_FRAME_LEN {
        return Response::Error(ErrorReply::new(
            ErrorKind::Rejected,
            format!("isinittab too large to send ({} bytes in force, {disk_len} on disk)", text.len()),
        ));
    }
    Response::RunningConfig(RunningConfig { path: path.display().to_string(), sha256, text: text.to_string(), on_disk })
}
