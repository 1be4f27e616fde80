//! Message ⇄ bytes. The only module that knows the wire encoding is
//! bincode 2 (serde flavour), so swapping it touches this file alone.

use super::MAX_FRAME_LEN;
use serde::{Serialize, de::DeserializeOwned};

/// The most a message of one frame may claim while being decoded.
///
/// bincode counts the limit in *in-memory* bytes, not wire bytes: a string
/// length or a `u64` costs 8 however short its varint (one byte at best). A
/// limit of one frame therefore refused legal messages whose encoding fits a
/// frame (a large status snapshot, SPEC §7). Eight times the frame cap is
/// the worst in-memory-to-wire ratio of any field the protocol carries (no
/// 128-bit integers), so every message that fits a frame decodes, and a
/// hostile length inside a frame still cannot make the decoder allocate more
/// than this.
const DECODE_LIMIT: usize = 8 * MAX_FRAME_LEN;

/// bincode's standard configuration (little-endian, variable-length
/// integers), with a decode limit so that a hostile length *inside* a frame
/// (a string claiming 2^60 bytes) cannot make the decoder allocate more than
/// [`DECODE_LIMIT`].
fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<DECODE_LIMIT>()
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
}

/// Encodes one message into a frame body.
pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, CodecError> {
    bincode::serde::encode_to_vec(msg, config()).map_err(|e| CodecError::Encode(e.to_string()))
}

/// Decodes one frame body into a message; the body must hold exactly one.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, CodecError> {
    let (msg, used) =
        bincode::serde::decode_from_slice(body, config()).map_err(|e| CodecError::Decode(e.to_string()))?;
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
