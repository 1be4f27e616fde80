//! Bytes ⇄ frames: a 4-byte big-endian length, then that many bytes.
//!
//! The length is checked against the cap of the message's direction
//! ([`Message::CAP`]: requests are far smaller than replies) before a single byte of the body is allocated, so
//! a peer claiming a 4 GiB frame costs nothing; and the body buffer grows
//! only as bytes actually arrive, so a peer that announces a large frame
//! and then trickles costs what it sent, not what it claimed.

use super::codec::{self, CodecError, Message};

/// Why a frame could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The peer closed the connection between frames: a normal end.
    #[error("connection closed")]
    Closed,
    /// The peer closed the connection in the middle of a frame.
    #[error("connection closed in the middle of a frame")]
    Truncated,
    /// The peer announced a frame larger than the cap.
    #[error("frame of {0} bytes refused (too large)")]
    TooLarge(usize),
    /// The frame's bytes are not a message.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// The socket failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// Reads one frame body of at most `cap` bytes from a blocking reader
/// (the command line's one-shot requests, see `isinit_client::blocking`;
/// the async reader is `isinit_client::frame`): the same bounds, the same
/// errors.
fn read_frame_capped_blocking<R: std::io::Read>(r: &mut R, cap: usize) -> Result<Vec<u8>, FrameError> {
    let mut header = [0u8; 4];
    let mut got = 0;
    while got < header.len() {
        match r.read(&mut header[got..]) {
            Ok(0) if got == 0 => return Err(FrameError::Closed),
            Ok(0) => return Err(FrameError::Truncated),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    let len = body_len(header, cap)?;
    let mut body = Vec::with_capacity(len.min(INITIAL_BUFFER));
    std::io::Read::read_to_end(&mut std::io::Read::take(&mut *r, len as u64), &mut body)?;
    whole(body, len)
}

/// The body length a frame header announces, refused past `cap` before
/// anything is allocated for it.
pub fn body_len(header: [u8; 4], cap: usize) -> Result<usize, FrameError> {
    let len = u32::from_be_bytes(header) as usize;
    if len > cap {
        return Err(FrameError::TooLarge(len));
    }
    Ok(len)
}

/// The body, if all `len` bytes of it arrived.
pub fn whole(body: Vec<u8>, len: usize) -> Result<Vec<u8>, FrameError> {
    if body.len() < len {
        return Err(FrameError::Truncated);
    }
    Ok(body)
}

/// True when `buffered` starts with a whole frame: a request that is
/// already here, whose reply can go out with the one before it.
pub fn starts_with_frame(buffered: &[u8]) -> bool {
    match buffered.first_chunk::<4>() {
        Some(header) => buffered.len() - 4 >= u32::from_be_bytes(*header) as usize,
        None => false,
    }
}

/// Reads and decodes one message from a blocking reader, within its
/// direction's bound ([`Message::CAP`]), also returning the body length.
pub fn read_sized_message_blocking<R: std::io::Read, T: Message>(r: &mut R) -> Result<(T, usize), FrameError> {
    let body = read_frame_capped_blocking(r, T::CAP)?;
    Ok((codec::decode(&body)?, body.len()))
}

/// What a frame's buffer starts at; it grows as the body arrives.
pub const INITIAL_BUFFER: usize = 16 * 1024;

/// Encodes `msg` as a complete frame (length prefix included), refusing
/// one the other side would refuse (see [`codec::fits`]), so a message
/// that is sent is always one that is read.
pub fn encode_frame<T: Message>(msg: &T) -> Result<Vec<u8>, FrameError> {
    let body = codec::encode(msg)?;
    if !codec::fits::<T>(&body) {
        return Err(FrameError::TooLarge(body.len()));
    }
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(&body);
    Ok(frame)
}
