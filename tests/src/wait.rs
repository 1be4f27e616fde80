//! Waiting for state with a deadline.
//!
//! Polling is fine in tests (the daemon itself must be event-driven); fixed
//! sleeps are not, because they are either too short on a loaded CI box or
//! waste time everywhere else. Every wait here has a deadline and, when it
//! expires, panics with what it was waiting for and what it last saw.

use std::time::{Duration, Instant};

/// The default deadline: generous, because the CI machine is a loaded
/// two-core box running several daemons at once.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// How often a condition is re-checked.
pub const POLL: Duration = Duration::from_millis(20);

/// Polls `probe` until it returns `Ok`, or panics after `timeout`.
///
/// `probe` returns `Err(observed)` while the condition does not hold; the
/// last `observed` is in the panic message, so a failure says *why*.
pub fn wait_for<T>(timeout: Duration, what: &str, mut probe: impl FnMut() -> Result<T, String>) -> T {
    let start = Instant::now();
    loop {
        match probe() {
            Ok(value) => return value,
            Err(observed) => {
                if start.elapsed() >= timeout {
                    panic!("timed out after {timeout:?} waiting for {what}\nlast observed: {observed}");
                }
            }
        }
        std::thread::sleep(POLL);
    }
}

/// Polls `cond` until it is true, or panics after `timeout`.
pub fn wait_until(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    wait_for(timeout, what, || if cond() { Ok(()) } else { Err("condition still false".to_string()) })
}

/// Whether `cond` stays true for the whole of `period`, checked every poll.
///
/// Used to show that something does *not* happen (a process is not
/// restarted, a file does not grow); the period only bounds how long the
/// test looks, it does not order events.
pub fn holds_for(period: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < period {
        if !cond() {
            return false;
        }
        std::thread::sleep(POLL);
    }
    cond()
}
