//! Time as the console shows it.
//!
//! Two clocks matter. Uptimes are differences between the daemon's own
//! timestamps, so they are measured against [`DaemonClock`], the daemon's
//! `now_ms` at the last snapshot plus the local monotonic time since — a
//! skewed local clock cannot make a process look younger or older than it
//! is. Times of day (exits, audit records, "daemon gone since") are shown in
//! a [`TimeZone`] the caller picks, so tests can pin it to UTC.

use isinit_shared::time::UnixMillis;
use std::time::Instant;

/// How wall-clock timestamps are turned into `HH:MM:SS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeZone {
    /// The operator's local time zone, as the C library knows it (`TZ`,
    /// `/etc/localtime`), looked up per timestamp so DST changes are right.
    #[default]
    Local,
    /// UTC: for clusters spanning zones, and for deterministic tests.
    Utc,
}

impl TimeZone {
    /// `HH:MM:SS` of a timestamp in this zone.
    pub fn hms(self, at_ms: UnixMillis) -> String {
        let secs = i64::try_from(at_ms / 1000).unwrap_or(i64::MAX);
        let local = secs.saturating_add(self.offset_secs(secs));
        let day = local.rem_euclid(86_400);
        format!("{:02}:{:02}:{:02}", day / 3600, day % 3600 / 60, day % 60)
    }

    /// Seconds east of UTC at the given instant.
    fn offset_secs(self, secs: i64) -> i64 {
        match self {
            TimeZone::Utc => 0,
            TimeZone::Local => local_offset_secs(secs),
        }
    }
}

/// The local zone's UTC offset at `secs`, 0 if the C library cannot say.
fn local_offset_secs(secs: i64) -> i64 {
    // `time_t` is 64-bit wherever this runs in production; on a 32-bit
    // system a post-2038 time would only be shown with the wrong offset.
    let t = secs as libc::time_t;
    // SAFETY: `localtime_r` only reads `t` and writes the `tm` we own; it is
    // the re-entrant variant, safe to call from any thread.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return 0;
        }
        #[allow(clippy::useless_conversion)] // `c_long` is 32 bits on some targets
        i64::from(tm.tm_gmtoff)
    }
}

/// The daemon's clock as seen from here: its `now_ms` at the last snapshot,
/// advanced by local monotonic time.
#[derive(Debug, Clone, Copy, Default)]
pub struct DaemonClock {
    anchor: Option<(UnixMillis, Instant)>,
}

impl DaemonClock {
    /// Re-anchors on a fresh snapshot's `daemon.now_ms`.
    pub fn anchor(&mut self, daemon_now_ms: UnixMillis) {
        self.anchor = Some((daemon_now_ms, Instant::now()));
    }

    /// The daemon's current time, best estimate; the local wall clock until
    /// the first snapshot arrives.
    pub fn now_ms(&self) -> UnixMillis {
        match self.anchor {
            Some((ms, at)) => ms.saturating_add(u64::try_from(at.elapsed().as_millis()).unwrap_or(u64::MAX)),
            None => isinit_shared::time::now_ms(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_time_of_day() {
        // 2023-11-14T22:13:20Z
        assert_eq!(TimeZone::Utc.hms(1_700_000_000_000), "22:13:20");
        assert_eq!(TimeZone::Utc.hms(0), "00:00:00");
        assert_eq!(TimeZone::Utc.hms(86_399_999), "23:59:59");
    }

    #[test]
    fn local_time_is_well_formed() {
        let s = TimeZone::Local.hms(1_700_000_000_000);
        assert_eq!(s.len(), 8);
        assert_eq!(&s[2..3], ":");
    }

    #[test]
    fn daemon_clock_advances_from_its_anchor() {
        let mut c = DaemonClock::default();
        c.anchor(1000);
        assert!(c.now_ms() >= 1000);
        assert!(c.now_ms() < 60_000);
    }
}
