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
    /// Shut down (Ctrl-C), unless the daemon was started with SIGINT
    /// ignored.
    pub interrupt: Interrupt,
}

/// SIGINT, or nothing when the daemon inherited it ignored.
///
/// A process started by `nohup`, or as a background job of a shell
/// without job control (`isinit daemon &` in a script), gets SIGINT set to
/// ignored on purpose: a Ctrl-C typed at that terminal is meant for the
/// foreground job, not for it. An operator who started the daemon so does
/// not expect that Ctrl-C to stop every service, so the daemon keeps the
/// signal ignored (as `sh` does for its own background jobs) instead of
/// installing its handler over it. SIGTERM and `isinit shutdown` still
/// stop it. The ignored disposition survives `reexec`, so the new image
/// decides the same way.
pub struct Interrupt(Option<Signal>);

impl Interrupt {
    /// The next SIGINT; never, when SIGINT is ignored.
    pub async fn recv(&mut self) -> Option<()> {
        match &mut self.0 {
            Some(signal) => signal.recv().await,
            None => std::future::pending().await,
        }
    }
}

impl Signals {
    /// Installs the handlers, then unblocks the signals (a no-op unless
    /// this image was exec'd by `reexec`, which blocked them).
    pub fn install() -> std::io::Result<Signals> {
        let signals = Signals {
            child: signal(SignalKind::child())?,
            hangup: signal(SignalKind::hangup())?,
            terminate: signal(SignalKind::terminate())?,
            interrupt: Interrupt(match ignored(libc::SIGINT)? {
                true => None,
                false => Some(signal(SignalKind::interrupt())?),
            }),
        };
        set_blocked(false)?;
        Ok(signals)
    }
}

/// Whether `sig` is ignored now (inherited so through `execve`).
fn ignored(sig: libc::c_int) -> std::io::Result<bool> {
    // SAFETY: a query only (no new action); `old` is plain data.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(sig, std::ptr::null(), &mut old) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(old.sa_sigaction == libc::SIG_IGN)
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
