//! `subscribe`: a snapshot, then every change in order. A client that
//! falls behind, or a change a client cannot apply on its own (a new
//! isinittab), gets a fresh snapshot instead — the daemon never waits for
//! a slow subscriber.

use super::{Context, ask};
use crate::runtime::Command;
use crate::server::connection::Conn;
use isinit_shared::protocol::{Event, Response};

pub async fn handle(ctx: &Context, mut conn: Conn) {
    let Ok(_stream) = ctx.streams.clone().try_acquire_owned() else { return };
    let mut exiting = ctx.exiting.clone();
    'resync: loop {
        let Some((snapshot, mut rx)) = ask(ctx, |reply| Command::Subscribe { reply }).await else { return };
        if conn.send(&Response::Snapshot(snapshot)).await.is_err() {
            return;
        }
        while let Some(item) = conn.next_for(&mut rx, &mut exiting).await {
            match item {
                Ok(update) => {
                    let resync = matches!(update.event, Event::ConfigChanged { .. });
                    if conn.send(&Response::Update(std::sync::Arc::unwrap_or_clone(update))).await.is_err() {
                        return;
                    }
                    if resync {
                        continue 'resync;
                    }
                }
                Err(missed) => {
                    tracing::debug!("subscriber pid {:?} missed {missed} updates; resynchronising", conn.peer.pid);
                    continue 'resync;
                }
            }
        }
        conn.end_stream().await;
        return;
    }
}
