//! Wall-clock timestamps as they cross the socket.
//!
//! The protocol carries milliseconds since the Unix epoch rather than
//! `SystemTime` so that the encoding is stable, language-neutral in the
//! JSON output, and cheap to compare in the console.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch; what every `*_ms` protocol field holds.
pub type UnixMillis = u64;

/// The current wall-clock time as [`UnixMillis`].
pub fn now_ms() -> UnixMillis {
    to_ms(SystemTime::now())
}

/// Converts a `SystemTime` to [`UnixMillis`], clamping times before 1970 to 0.
pub fn to_ms(t: SystemTime) -> UnixMillis {
    t.duration_since(UNIX_EPOCH).map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)).unwrap_or(0)
}

/// Renders a duration the way operators read uptimes: `45s`, `12m03s`,
/// `3h07m`, `5d02h`.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86400, (s % 86400) / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations() {
        assert_eq!(human_duration(Duration::from_secs(0)), "0s");
        assert_eq!(human_duration(Duration::from_secs(59)), "59s");
        assert_eq!(human_duration(Duration::from_secs(61)), "1m01s");
        assert_eq!(human_duration(Duration::from_secs(3 * 3600 + 7 * 60)), "3h07m");
        assert_eq!(human_duration(Duration::from_secs(5 * 86400 + 2 * 3600)), "5d02h");
    }
}
