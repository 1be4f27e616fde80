//! Message ⇄ bytes. The only module that knows the wire encoding is
//! bincode 2 (serde flavour), so swapping it touches this file alone.
//!
//! Each direction of the socket has **one** bound, its [`Message::CAP`]:
//! requests [`MAX_REQUEST_LEN`], replies [`MAX_FRAME_LEN`]. It caps the
//! frame a reader accepts (checked before allocating, see `frame.rs`) *and*
//! what the decoder may claim while turning that frame into a message, so
//! a hostile length inside a small request cannot make the daemon allocate
//! more than the request cap either.

use super::{MAX_FRAME_LEN, MAX_REQUEST_LEN, Request, Response};
use serde::{Serialize, de::DeserializeOwned};

/// A message of one direction of the socket, with that direction's bound.
pub trait Message: Serialize + DeserializeOwned {
    /// The largest frame body of this direction, and the most its decoding
    /// may claim (see [`decode`]).
    const CAP: usize;

    /// Decodes a frame body with this direction's decode limit.
    ///
    /// A method rather than one generic function because bincode takes its
    /// limit as a const generic, which cannot be computed from `Self::CAP`.
    fn decode_body(body: &[u8]) -> Result<Self, CodecError>;
}

impl Message for Request {
    const CAP: usize = MAX_REQUEST_LEN;

    fn decode_body(body: &[u8]) -> Result<Self, CodecError> {
        decode_within::<Self, MAX_REQUEST_LEN>(body)
    }
}

impl Message for Response {
    const CAP: usize = MAX_FRAME_LEN;

    fn decode_body(body: &[u8]) -> Result<Self, CodecError> {
        decode_within::<Self, MAX_FRAME_LEN>(body)
    }
}

/// A message that could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// serde could not encode the message (a bug, not input).
    #[error("cannot encode message: {0}")]
    Encode(String),
    /// The bytes are not a valid message.
    #[error("malformed message: {0}")]
    Decode(String),
    #[error("malformed message: {0} trailing bytes")]
    /// A valid message followed by this many extra bytes in its frame.
    Trailing(usize),
    /// Decoding the message would claim more than its direction's cap.
    #[error("message refused: decoding it would take more than {0} bytes")]
    OverLimit(usize),
}

/// Encodes one message into a frame body.
pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, CodecError> {
    bincode::serde::encode_to_vec(msg, bincode::config::standard()).map_err(|e| CodecError::Encode(e.to_string()))
}

/// Decodes one frame body into a message; the body must hold exactly one,
/// and decoding it may claim at most `T::CAP` bytes.
///
/// bincode counts its limit in *in-memory* bytes, not wire bytes: a string
/// length or an integer claims up to 8 bytes however short its varint. A
/// message can therefore fit a frame and still be refused here; senders
/// check with [`fits`] before sending, so only hostile or corrupt input is.
pub fn decode<T: Message>(body: &[u8]) -> Result<T, CodecError> {
    T::decode_body(body)
}

/// Whether the encoded `body` of a `T` will decode on the other side:
/// within the frame cap, and within the decode limit. Cheap for small
/// bodies (a body of at most an eighth of the cap cannot claim more than
/// the cap: no field claims more than 8 bytes per wire byte); larger ones
/// are decoded once to find out.
pub fn fits<T: Message>(body: &[u8]) -> bool {
    if body.len() > T::CAP {
        return false;
    }
    body.len() <= T::CAP / CLAIM_RATIO || !matches!(decode::<T>(body), Err(CodecError::OverLimit(_)))
}

/// The most bytes bincode claims per wire byte of any field the protocol
/// carries (an integer or length: 8 claimed, 1 on the wire; no 128-bit
/// integers).
pub const CLAIM_RATIO: usize = 8;

fn decode_within<T: DeserializeOwned, const LIMIT: usize>(body: &[u8]) -> Result<T, CodecError> {
    let config = bincode::config::standard().with_limit::<LIMIT>();
    let (msg, used) = bincode::serde::decode_from_slice(body, config).map_err(|e| match e {
        bincode::error::DecodeError::LimitExceeded => CodecError::OverLimit(LIMIT),
        e => CodecError::Decode(e.to_string()),
    })?;
    if used != body.len() {
        return Err(CodecError::Trailing(body.len() - used));
    }
    Ok(msg)
}

/// Encodes a value that is not a message — the state one daemon image
/// hands to the next — with the same encoding as the wire.
pub fn encode_value<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    bincode::serde::encode_to_vec(value, bincode::config::standard()).map_err(|e| CodecError::Encode(e.to_string()))
}

/// Decodes a value of [`encode_value`] from exactly `bytes`, refusing any
/// claim of more than `LIMIT` bytes of memory (hostile or corrupt input
/// must not make the reader allocate without bound).
pub fn decode_value<T: DeserializeOwned, const LIMIT: usize>(bytes: &[u8]) -> Result<T, CodecError> {
    let config = bincode::config::standard().with_limit::<LIMIT>();
    let (value, used) =
        bincode::serde::decode_from_slice(bytes, config).map_err(|e| CodecError::Decode(e.to_string()))?;
    if used != bytes.len() {
        return Err(CodecError::Trailing(bytes.len() - used));
    }
    Ok(value)
}
