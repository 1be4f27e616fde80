//! `:::watchdog:TAG SECS`: the sd_notify watchdog of one entry (SPEC §17),
//! validated here like every other directive.

use super::probe::{MAX_SECS, MIN_SECS};
use std::time::Duration;

/// One `:::watchdog:` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watchdog {
    /// The entry watched (a tag of the file).
    pub tag: String,
    /// How long the entry may stay silent once it has sent its first
    /// `WATCHDOG=1` (or `READY=1`); the child may change it with
    /// `WATCHDOG_USEC=`.
    pub interval: Duration,
    /// 1-based line number, for messages and duplicates.
    pub line: usize,
}

/// Parses the value part of `:::watchdog:` (`TAG SECS`).
pub(crate) fn parse(line: usize, text: &str) -> Result<Watchdog, String> {
    const SHAPE: &str = "directive `watchdog` expects TAG SECS";
    let mut words = text.split_whitespace();
    let (Some(tag), Some(secs), None) = (words.next(), words.next(), words.next()) else {
        return Err(SHAPE.into());
    };
    let bad =
        || format!("watchdog interval `{secs}` is invalid: expected seconds from {MIN_SECS} to {MAX_SECS} (e.g. 0.5)");
    if !secs.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(bad());
    }
    let value: f64 = secs.parse().map_err(|_| bad())?;
    if !(MIN_SECS..=MAX_SECS).contains(&value) {
        return Err(bad());
    }
    Ok(Watchdog { tag: tag.to_string(), interval: Duration::from_secs_f64(value), line })
}
