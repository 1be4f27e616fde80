//! Message ⇄ bytes. The only module that knows the wire encoding is
//! bincode 2 (serde flavour), so swapping it touches this file alone.

use super::MAX_FRAME_LEN;
use serde::{Serialize, de::DeserializeOwned};

/// bincode's standard configuration (little-endian, variable-length
/// integers), with a decode limit so that a hostile length *inside* a frame
/// (a `Vec` claiming 2^60 items) cannot make the decoder allocate more than
/// a frame's worth.
fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<MAX_FRAME_LEN>()
}

/// A message that could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("cannot encode message: {0}")]
    Encode(String),
    #[error("malformed message: {0}")]
    Decode(String),
    #[error("malformed message: {0} trailing bytes")]
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
