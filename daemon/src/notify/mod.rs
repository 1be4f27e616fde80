//! Readiness for a service manager: the sd_notify protocol, spoken to the
//! `$NOTIFY_SOCKET` systemd gives a `Type=notify` service.
//!
//! systemd starts the next unit, and `systemctl start isinit` returns, only
//! once the daemon says `READY=1`; a daemon that said so before its control
//! socket answered would make every `isinit tell` in an `ExecStartPost=` or a
//! dependent unit race its start-up. So:
//! - `READY=1` goes out from `crate::report`, a task that first asks the control
//!   socket for a status like any client and only then declares readiness;
//!   it then keeps `STATUS=` current (one line: groups by state, processes
//!   alive), sent only when a group changes state and the line changed.
//! - `RELOADING=1` (with `MONOTONIC_USEC=`) and `READY=1` bracket a reload
//!   ([`Reloading`]), so `systemctl reload` waits for it.
//! - `STOPPING=1` goes out when shutdown begins ([`stopping`]).
//!
//! Without `$NOTIFY_SOCKET` every function here does nothing. The variable
//! stays in the daemon's own environment (a re-executed daemon needs it) but
//! is withheld from children ([`ENV`] is filtered in `runtime::spawn`): a
//! child that talked to systemd would be taken for the daemon.

mod socket;

pub use socket::{AddressError, NotifySocket};

use std::sync::OnceLock;

/// The environment variable systemd sets for a `Type=notify` service.
pub const ENV: &str = "NOTIFY_SOCKET";

/// The daemon's one notification socket: there is one `$NOTIFY_SOCKET` per
/// process, so it is process-wide, opened on first use.
static SOCKET: OnceLock<Option<NotifySocket>> = OnceLock::new();

fn socket() -> Option<&'static NotifySocket> {
    SOCKET
        .get_or_init(|| {
            let value = std::env::var_os(ENV)?;
            match NotifySocket::open(&value) {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::warn!("{ENV}={}: {e}; not notifying the service manager", value.to_string_lossy());
                    None
                }
            }
        })
        .as_ref()
}

/// Whether a service manager listens (`$NOTIFY_SOCKET` is set and usable).
pub fn enabled() -> bool {
    socket().is_some()
}

/// Sends one message (`KEY=VALUE` lines); a failure is logged, never fatal:
/// the daemon supervises its processes whether or not systemd hears it.
fn send(message: &str) {
    if let Some(s) = socket()
        && let Err(e) = s.send(message)
    {
        tracing::warn!("cannot notify the service manager ({}): {e}", message.replace('\n', " "));
    }
}

/// `READY=1`: start-up (or a reload) is complete and the socket answers.
pub fn ready(status: Option<&str>) {
    match status {
        Some(line) => send(&format!("READY=1\nSTATUS={}", one_line(line))),
        None => send("READY=1"),
    }
}

/// `STATUS=`: the one-line summary `systemctl status` shows.
pub fn status(line: &str) {
    send(&format!("STATUS={}", one_line(line)));
}

/// `STOPPING=1`: shutdown has begun; systemd now waits for the exit.
pub fn stopping() {
    send("STOPPING=1");
}

/// `RELOADING=1` for as long as it lives, `READY=1` when dropped: hold one
/// across a reload, whatever way the reload ends (an invalid file still
/// leaves the daemon ready, with the old file).
#[must_use = "READY=1 is sent when the guard is dropped"]
pub struct Reloading(());

impl Reloading {
    /// Sends `RELOADING=1` with `MONOTONIC_USEC=`, which systemd requires
    /// to tell this reload from an earlier one.
    pub fn begin() -> Reloading {
        if enabled() {
            send(&format!("RELOADING=1\nMONOTONIC_USEC={}", monotonic_usec()));
        }
        Reloading(())
    }
}

impl Drop for Reloading {
    fn drop(&mut self) {
        ready(None);
    }
}

/// `CLOCK_MONOTONIC` in microseconds, the clock systemd compares with.
fn monotonic_usec() -> u64 {
    match nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC) {
        Ok(ts) => {
            let secs = u64::try_from(ts.tv_sec()).unwrap_or(0);
            let micros = u64::try_from(ts.tv_nsec() / 1000).unwrap_or(0);
            secs.saturating_mul(1_000_000).saturating_add(micros)
        }
        Err(_) => 0,
    }
}

/// A message value must not contain a newline: it would start a new key.
fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_usec_is_the_monotonic_clock() {
        let a = monotonic_usec();
        let b = monotonic_usec();
        assert!(a > 0 && b >= a);
    }

    #[test]
    fn a_status_value_stays_on_one_line() {
        assert_eq!(one_line("a\nb\r\nc"), "a b  c");
    }
}
