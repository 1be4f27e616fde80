//! Frames over an async socket: the reading and writing half of
//! `crate::frame`, which holds the format, its bounds
//! and the blocking reader (the vocabulary crate has no async runtime).
//!
//! The length is checked against the cap of the message's direction before
//! a single byte of the body is allocated, and the body buffer grows only
//! as bytes arrive, so a peer claiming a 4 GiB frame, or announcing a large
//! one and then trickling, costs what it sent, not what it claimed.

use isinit_shared::protocol::MAX_FRAME_LEN;
use isinit_shared::protocol::codec::{self, Message};
pub use isinit_shared::protocol::frame::{FrameError, encode_frame, read_sized_message_blocking, starts_with_frame};
use isinit_shared::protocol::frame::{INITIAL_BUFFER, body_len, whole};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Reads one frame body of at most [`MAX_FRAME_LEN`] bytes (the largest
/// cap of either direction; [`read_message`] applies the message's own).
pub async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> Result<Vec<u8>, FrameError> {
    read_frame_capped(r, MAX_FRAME_LEN).await
}

/// Reads one frame body of at most `cap` bytes.
async fn read_frame_capped<R: AsyncRead + Unpin>(r: &mut R, cap: usize) -> Result<Vec<u8>, FrameError> {
    let mut header = [0u8; 4];
    let mut got = 0;
    while got < header.len() {
        match r.read(&mut header[got..]).await? {
            0 if got == 0 => return Err(FrameError::Closed),
            0 => return Err(FrameError::Truncated),
            n => got += n,
        }
    }
    let len = body_len(header, cap)?;
    let mut body = Vec::with_capacity(len.min(INITIAL_BUFFER));
    (&mut *r).take(len as u64).read_to_end(&mut body).await?;
    whole(body, len)
}

/// Reads and decodes one message, within its direction's one bound
/// ([`Message::CAP`]): the frame is refused past it before its body is
/// allocated, and decoding may claim no more than it either.
pub async fn read_message<R: AsyncRead + Unpin, T: Message>(r: &mut R) -> Result<T, FrameError> {
    Ok(read_sized_message(r).await?.0)
}

/// [`read_message`], also returning the frame's body length (what a
/// reader that joins several frames counts against its own bound).
pub async fn read_sized_message<R: AsyncRead + Unpin, T: Message>(r: &mut R) -> Result<(T, usize), FrameError> {
    let body = read_frame_capped(r, T::CAP).await?;
    Ok((codec::decode(&body)?, body.len()))
}

/// Encodes and writes one message, flushing it.
pub async fn write_message<W: AsyncWrite + Unpin, T: Message>(w: &mut W, msg: &T) -> Result<(), FrameError> {
    let frame = encode_frame(msg)?;
    w.write_all(&frame).await?;
    w.flush().await?;
    Ok(())
}
