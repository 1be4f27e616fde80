//! One client connection: hello, then requests until the client leaves.

use super::{Context, HELLO_TIMEOUT, IDLE_TIMEOUT, WRITE_TIMEOUT, handlers};
use crate::runtime::Peer;
use isinit_shared::protocol::chunk;
use isinit_shared::protocol::frame::{FrameError, read_message, write_message};
use isinit_shared::protocol::{ErrorKind, ErrorReply, PROTOCOL_VERSION, Request, Response};
use tokio::io::{AsyncReadExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::watch;

/// The two halves of a connection and who is on the other end.
pub struct Conn {
    /// Requests arrive here; streaming handlers also watch it for the
    /// client going away.
    pub reader: BufReader<OwnedReadHalf>,
    /// Replies go out here, one frame at a time.
    pub writer: OwnedWriteHalf,
    /// The client's credentials, for the permission check and the audit.
    pub peer: Peer,
    /// Becomes true while the daemon re-executes (see `Context::ending`).
    pub ending: watch::Receiver<bool>,
}

impl Conn {
    /// Writes one message, giving up on a client that does not read.
    ///
    /// A snapshot too large for one frame goes out in chunks (see
    /// `isinit_shared::protocol::chunk`), which the client joins back.
    pub async fn send(&mut self, msg: &Response) -> Result<(), FrameError> {
        let result = self.write(msg).await;
        match (result, msg) {
            (Err(FrameError::TooLarge(len)), Response::Snapshot(snapshot)) => {
                tracing::debug!("snapshot of {len} bytes sent in chunks");
                for chunk in chunk::split(snapshot.as_ref().clone())? {
                    self.write(&chunk).await?;
                }
                Ok(())
            }
            (result, _) => result,
        }
    }

    /// The next item of a stream this client follows (`logs -f`,
    /// `subscribe`), or `None` once the stream ends: the client sent
    /// anything or went away, the daemon is exiting, or the stream closed.
    /// `Err(n)`: the client fell `n` items behind and missed them.
    pub async fn next_for<T: Clone>(
        &mut self,
        rx: &mut broadcast::Receiver<T>,
        exiting: &mut watch::Receiver<bool>,
    ) -> Option<Result<T, u64>> {
        let mut scratch = [0u8; 256];
        tokio::select! {
            _ = self.reader.read(&mut scratch) => None,
            _ = super::until_exiting(exiting) => None,
            _ = super::until_exiting(&mut self.ending) => None,
            item = rx.recv() => match item {
                Ok(item) => Some(Ok(item)),
                Err(RecvError::Lagged(missed)) => Some(Err(missed)),
                Err(RecvError::Closed) => None,
            },
        }
    }

    /// Ends a stream: if the daemon is re-executing, tells the client so
    /// (an error with a reason), so that it reconnects rather than guess.
    pub async fn end_stream(&mut self) {
        if *self.ending.borrow() {
            let e = ErrorReply::new(ErrorKind::Rejected, super::REEXEC_REASON);
            let _ = self.send(&Response::Error(e)).await;
        }
    }

    async fn write(&mut self, msg: &Response) -> Result<(), FrameError> {
        match tokio::time::timeout(WRITE_TIMEOUT, write_message(&mut self.writer, msg)).await {
            Ok(result) => result,
            Err(_) => Err(FrameError::Io(std::io::ErrorKind::TimedOut.into())),
        }
    }
}

/// Serves one connection to its end; every failure ends only this task.
pub async fn serve(stream: UnixStream, peer: Peer, ctx: Context) {
    let (reader, writer) = stream.into_split();
    let mut conn = Conn { reader: BufReader::new(reader), writer, peer, ending: ctx.ending.clone() };
    if !hello(&mut conn, &ctx).await {
        return;
    }
    let mut exiting = ctx.exiting.clone();
    loop {
        let next = tokio::select! {
            next = tokio::time::timeout(IDLE_TIMEOUT, read_message::<_, Request>(&mut conn.reader)) => next,
            _ = super::until_exiting(&mut exiting) => return,
        };
        let request = match next {
            Ok(Ok(request)) => request,
            Ok(Err(FrameError::Closed)) | Err(_) => return,
            Ok(Err(e)) => return refuse(&mut conn, e).await,
        };
        let reply = match request {
            Request::Hello { .. } => Response::Error(ErrorReply::new(ErrorKind::Rejected, "hello sent twice")),
            Request::Tell { group, level, dry_run } => handlers::tell::handle(&ctx, peer, group, level, dry_run).await,
            Request::Status => handlers::status::handle(&ctx).await,
            Request::Reload => handlers::reload::handle(&ctx, peer).await,
            Request::Shutdown => handlers::shutdown::handle(&ctx, peer).await,
            Request::Logs { tag, lines, follow } => {
                return handlers::logs::handle(&ctx, conn, tag, lines, follow).await;
            }
            Request::Subscribe => return handlers::subscribe::handle(&ctx, conn).await,
            Request::Restart { tag } => handlers::restart::handle(&ctx, peer, tag).await,
            Request::Retry { tag } => handlers::retry::handle(&ctx, peer, tag).await,
            Request::Signal { tag, signal } => handlers::signal::handle(&ctx, peer, tag, signal).await,
            Request::Usage => handlers::usage::handle(&ctx).await,
            Request::Reexec => return handlers::reexec::handle(&ctx, conn).await,
            Request::RunningConfig => handlers::running_config::handle(&ctx).await,
        };
        if conn.send(&reply).await.is_err() {
            return;
        }
    }
}

/// Exchanges hellos; false when the connection must end.
async fn hello(conn: &mut Conn, ctx: &Context) -> bool {
    let first = match tokio::time::timeout(HELLO_TIMEOUT, read_message::<_, Request>(&mut conn.reader)).await {
        Ok(Ok(first)) => first,
        Ok(Err(FrameError::Closed)) | Err(_) => return false,
        Ok(Err(e)) => {
            refuse(conn, e).await;
            return false;
        }
    };
    let reply = match first {
        Request::Hello { protocol } if protocol == PROTOCOL_VERSION => {
            Response::Hello { protocol, daemon: ctx.info.borrow().clone() }
        }
        Request::Hello { protocol } => {
            tracing::warn!("client pid {:?} speaks protocol {protocol}, we speak {PROTOCOL_VERSION}", conn.peer.pid);
            let _ = conn.send(&Response::VersionMismatch { daemon: PROTOCOL_VERSION, client: protocol }).await;
            return false;
        }
        _ => {
            let e = ErrorReply::new(ErrorKind::Rejected, "a connection must start with hello");
            let _ = conn.send(&Response::Error(e)).await;
            return false;
        }
    };
    conn.send(&reply).await.is_ok()
}

/// Tells a client why its bytes were refused, then lets the connection end.
async fn refuse(conn: &mut Conn, e: FrameError) {
    tracing::debug!("dropping client pid {:?}: {e}", conn.peer.pid);
    let reply = ErrorReply::new(ErrorKind::Rejected, format!("bad request: {e}"));
    let _ = conn.send(&Response::Error(reply)).await;
}
