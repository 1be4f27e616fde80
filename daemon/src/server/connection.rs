//! One client connection: hello, then requests until the client leaves.

use super::{Context, HELLO_TIMEOUT, IDLE_TIMEOUT, WRITE_TIMEOUT, handlers};
use crate::runtime::Peer;
use isinit_client::frame::{FrameError, encode_frame, read_message, starts_with_frame};
use isinit_shared::protocol::chunk;
use isinit_shared::protocol::{ErrorKind, ErrorReply, PROTOCOL_VERSION, Request, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
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
    /// The hello's reply, held back when the client's request came with
    /// its hello (as `isinit tell` sends them): it goes out in one write
    /// with that request's reply, so the client wakes up once, not twice.
    held: Vec<u8>,
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

    /// Writes whatever reply is held back, on its own (before the
    /// connection is handed to a new process image).
    pub async fn flush_held(&mut self) -> Result<(), FrameError> {
        let held = std::mem::take(&mut self.held);
        self.write_bytes(&held).await
    }

    /// Writes one frame, after the held hello reply if there is one. A
    /// message too large for a frame writes nothing and keeps the hello
    /// held for the chunks that follow.
    async fn write(&mut self, msg: &Response) -> Result<(), FrameError> {
        let frame = encode_frame(msg)?;
        let bytes = match std::mem::take(&mut self.held) {
            held if held.is_empty() => frame,
            mut held => {
                held.extend_from_slice(&frame);
                held
            }
        };
        self.write_bytes(&bytes).await
    }

    async fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), FrameError> {
        if bytes.is_empty() {
            return Ok(());
        }
        let written = async {
            self.writer.write_all(bytes).await?;
            self.writer.flush().await
        };
        match tokio::time::timeout(WRITE_TIMEOUT, written).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(FrameError::Io(std::io::ErrorKind::TimedOut.into())),
        }
    }
}

/// Serves one connection to its end; every failure ends only this task.
pub async fn serve(stream: UnixStream, peer: Peer, ctx: Context) {
    let (reader, writer) = stream.into_split();
    let mut conn = Conn { reader: BufReader::new(reader), writer, peer, ending: ctx.ending.clone(), held: Vec::new() };
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
        // A client that gave up (its deadline passed while the daemon was
        // stopped or busy) is gone: its request is not carried out behind
        // its back.
        if hung_up(&conn.writer) {
            return;
        }
        let reply = match request {
            Request::Hello { .. } => Response::Error(ErrorReply::new(ErrorKind::Rejected, "hello sent twice")),
            Request::Tell { group, level, dry_run } => handlers::tell::handle(&ctx, peer, group, level, dry_run).await,
            Request::Status => handlers::status::handle(&ctx).await,
            Request::Groups => handlers::status::handle_groups(&ctx).await,
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
            Request::Ps { name } => handlers::ps::handle(&ctx, name).await,
            Request::Analyze { group } => handlers::analyze::handle(&ctx, group).await,
            Request::GroupLogs { group, lines, follow, since_ms } => {
                let asked = handlers::logs_group::Asked { group, lines, follow, since_ms };
                return handlers::logs_group::handle(&ctx, conn, asked).await;
            }
            Request::TellAs { group, level, asker } => handlers::tell::handle_as(&ctx, peer, group, level, asker).await,
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
    if starts_with_frame(conn.reader.buffer())
        && let Ok(frame) = encode_frame(&reply)
    {
        conn.held = frame;
        return true;
    }
    conn.send(&reply).await.is_ok()
}

/// True when the client has closed its end of the connection.
fn hung_up(writer: &OwnedWriteHalf) -> bool {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::os::fd::AsFd;
    let stream: &tokio::net::UnixStream = writer.as_ref();
    let mut fds = [PollFd::new(stream.as_fd(), PollFlags::empty())];
    // POLLHUP (always reported): both directions shut, i.e. closed; a
    // client that only shut down its writing still reads its reply.
    matches!(poll(&mut fds, PollTimeout::ZERO), Ok(1))
        && fds[0].revents().is_some_and(|r| r.intersects(PollFlags::POLLHUP | PollFlags::POLLERR))
}

/// Tells a client why its bytes were refused, then lets the connection end.
async fn refuse(conn: &mut Conn, e: FrameError) {
    tracing::debug!("dropping client pid {:?}: {e}", conn.peer.pid);
    let reply = ErrorReply::new(ErrorKind::Rejected, format!("bad request: {e}"));
    let _ = conn.send(&Response::Error(reply)).await;
}
