//! The daemon's signal handlers, installed once, first thing (issue 6,
//! defect 3f): before any leftover is stopped or adopted, so a SIGTERM in
//! that time is handled, not fatal. Across `reexec` the old image blocks
//! the signals it handles before `execve` (the mask survives it) and the
//! new one unblocks them once its handlers are in place: a signal in
//! between stays pending instead of killing or being lost.

use tokio::signal::unix::{Signal, SignalKind, signal};

/// The signals [`Signals`] handles, blocked across an `execve`.
const HANDLED: [libc::c_int; 4] = [libc::SIGCHLD, libc::SIGHUP, libc::SIGTERM, libc::SIGINT];

/// One stream per signal the runtime acts on.
pub struct Signals {
    /// A child exited: reap.
    pub child: Signal,
    /// Reload.
    pub hangup: Signal,
    /// Shut down.
    pub terminate: Signal,
    /// Shut down (Ctrl-C).
    pub interrupt: Signal,
}

impl Signals {
    /// Installs the handlers, then unblocks the signals (a no-op unless
    /// this image was exec'd by `reexec`, which blocked them).
    pub fn install() -> std::io::Result<Signals> {
        let signals = Signals {
            child: signal(SignalKind::child())?,
            hangup: signal(SignalKind::hangup())?,
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        };
        set_blocked(false)?;
        Ok(signals)
    }
}

/// Blocks (or unblocks) the handled signals for this thread, which is the
/// one that calls `execve`.
pub fn set_blocked(blocked: bool) -> std::io::Result<()> {
    // SAFETY: the set is plain data initialised by sigemptyset before use;
    // pthread_sigmask only reads it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in HANDLED {
            libc::sigaddset(&mut set, sig);
        }
        let how = if blocked { libc::SIG_BLOCK } else { libc::SIG_UNBLOCK };
        match libc::pthread_sigmask(how, &set, std::ptr::null_mut()) {
            0 => Ok(()),
            rc => Err(std::io::Error::from_raw_os_error(rc)),
        }
    }
}
