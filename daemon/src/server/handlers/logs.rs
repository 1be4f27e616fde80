//! `logs TAG [-n N] [-f]`: recent output, then (with follow) every new line
//! until the client goes away.

use super::{Context, ask};
use crate::runtime::Command;
use crate::server::connection::Conn;
use isinit_shared::protocol::{ErrorKind, ErrorReply, Response};
use tokio::io::AsyncReadExt;
use tokio::sync::broadcast::error::RecvError;

/// Most lines one request may ask for.
const MAX_LINES: u32 = crate::runtime::output::LINES_KEPT as u32;

pub async fn handle(ctx: &Context, mut conn: Conn, tag: String, lines: u32, follow: bool) {
    let known = ask(ctx, |reply| Command::KnowsTag { tag: tag.clone(), reply }).await.unwrap_or(false);
    if !known {
        let e = ErrorReply::new(ErrorKind::NoSuchTag, format!("no such tag: {tag}"));
        let _ = conn.send(&Response::Error(e)).await;
        return;
    }
    let n = lines.min(MAX_LINES) as usize;
    if !follow {
        let lines = ctx.output.tail(&tag, n);
        let _ = conn.send(&Response::Logs { tag, lines }).await;
        return;
    }
    let (lines, mut rx) = ctx.output.follow(&tag, n);
    if conn.send(&Response::Logs { tag: tag.clone(), lines }).await.is_err() {
        return;
    }
    let mut scratch = [0u8; 256];
    let mut exiting = ctx.exiting.clone();
    loop {
        tokio::select! {
            // Anything the client sends now, or its going away, ends the follow.
            _ = conn.reader.read(&mut scratch) => return,
            _ = crate::server::until_exiting(&mut exiting) => return,
            line = rx.recv() => match line {
                Ok(line) => {
                    if conn.send(&Response::Output(line)).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    let note = format!("[isinit: {missed} lines skipped: client too slow]");
                    let line = isinit_shared::protocol::OutputLine { tag: tag.clone(), at_ms: isinit_shared::time::now_ms(), text: note };
                    if conn.send(&Response::Output(line)).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Closed) => return,
            }
        }
    }
}
