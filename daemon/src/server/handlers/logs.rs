//! `logs TAG [-n N] [-f]`: recent output, then (with follow) every new line
//! until the client goes away.

use super::{Context, ask};
use crate::runtime::Command;
use crate::server::connection::Conn;
use isinit_shared::protocol::{ErrorKind, ErrorReply, OutputLine, Response};
use isinit_shared::time::now_ms;

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
        let lines = ctx.output.tail(&tag, n).await;
        let _ = conn.send(&Response::Logs { tag, lines }).await;
        return;
    }
    let Ok(_stream) = ctx.streams.clone().try_acquire_owned() else { return };
    let (lines, mut rx) = ctx.output.follow(&tag, n).await;
    if conn.send(&Response::Logs { tag: tag.clone(), lines }).await.is_err() {
        return;
    }
    let mut exiting = ctx.exiting.clone();
    while let Some(item) = conn.next_for(&mut rx, &mut exiting).await {
        let line = item.unwrap_or_else(|missed| OutputLine {
            tag: tag.clone(),
            at_ms: now_ms(),
            text: format!("[isinit: {missed} lines skipped: client too slow]"),
        });
        if conn.send(&Response::Output(line)).await.is_err() {
            return;
        }
    }
    conn.end_stream().await;
}
