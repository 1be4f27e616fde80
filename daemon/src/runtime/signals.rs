//! The daemon's signal handlers (tokio's, and for SIGCHLD one of ours that
//! says who sent it: [`ChildSignals`]), installed once, first thing (issue 6,
//! defect 3f): before any leftover is stopped or adopted, so a SIGTERM in
//! that time is handled, not fatal. Across `reexec` the old image blocks
//! the signals it handles before `execve` (the mask survives it) and the
//! new one unblocks them once its handlers are in place: a signal in
//! between stays pending instead of killing or being lost.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use tokio::io::unix::AsyncFd;
use tokio::signal::unix::{Signal, SignalKind, signal};

/// The signals [`Signals`] handles, blocked across an `execve`.
const HANDLED: [libc::c_int; 4] = [libc::SIGCHLD, libc::SIGHUP, libc::SIGTERM, libc::SIGINT];

/// One stream per signal the runtime acts on.
pub struct Signals {
    /// A child exited: reap.
    pub child: ChildSignals,
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
            child: ChildSignals::install()?,
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

/// SIGCHLD, with the pid of each child that sent one: a handler of ours
/// (tokio's says only that a signal came) writes `si_pid` into a pipe the
/// run loop reads. The reaper uses it to tell an end it already learnt
/// from a pidfd from one it must look for (`reap.rs`).
pub struct ChildSignals {
    pipe: AsyncFd<OwnedFd>,
}

/// The write end of [`ChildSignals`]' pipe, for the handler.
static SENDERS_PIPE: AtomicI32 = AtomicI32::new(-1);
/// Set by the handler when the pipe was full: pids were lost.
static SENDERS_LOST: AtomicBool = AtomicBool::new(false);

/// The pids that sent SIGCHLD since the last [`ChildSignals::recv`].
#[derive(Debug, Default)]
pub struct Senders {
    /// In the order their signals were handled.
    pub pids: Vec<i32>,
    /// Some pids were not kept (the pipe was full): any child may have
    /// ended.
    pub lost: bool,
}

extern "C" fn on_sigchld(_: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: only async-signal-safe calls: errno is saved and restored
    // around one write(2) of a plain value to a non-blocking pipe.
    unsafe {
        let errno = *libc::__errno_location();
        let pid: libc::pid_t = if info.is_null() { 0 } else { (*info).si_pid() };
        let fd = SENDERS_PIPE.load(Ordering::Relaxed);
        let size = std::mem::size_of::<libc::pid_t>();
        if fd < 0 || libc::write(fd, (&raw const pid).cast(), size) != size as isize {
            SENDERS_LOST.store(true, Ordering::Relaxed);
        }
        *libc::__errno_location() = errno;
    }
}

impl ChildSignals {
    /// Makes the pipe and installs the handler (once per image).
    fn install() -> std::io::Result<ChildSignals> {
        let mut fds = [0; 2];
        // SAFETY: pipe2 fills two descriptors we then own; the write end
        // is kept for the handler for the life of the image (close-on-exec).
        let (read, write) = unsafe {
            if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]))
        };
        // 64 KiB (16,384 pids) by default; 1 MiB (262,144 pids, the most
        // `fs.pipe-max-size` allows by default) where the kernel agrees.
        // SAFETY: F_SETPIPE_SZ on our pipe; failure leaves the default.
        unsafe { libc::fcntl(write.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20) };
        SENDERS_PIPE.store(std::os::fd::IntoRawFd::into_raw_fd(write), Ordering::Relaxed);
        // SAFETY: a handler that is async-signal-safe (above); the action
        // is plain data initialised before use.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_sigchld as *const () as libc::sighandler_t;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART | libc::SA_NOCLDSTOP;
            libc::sigemptyset(&mut action.sa_mask);
            if libc::sigaction(libc::SIGCHLD, &action, std::ptr::null_mut()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        // SAFETY: the AsyncFd owns the read end until it is dropped.
        let pipe = unsafe { AsyncFd::register_with_interest(read, tokio::io::Interest::READABLE) }
            .map_err(std::io::Error::from)?;
        Ok(ChildSignals { pipe })
    }

    /// The senders of the SIGCHLDs since the last call, once there is one.
    /// The kernel merges a SIGCHLD sent while another is pending into it:
    /// a child's end may come with no pid of its own here.
    pub async fn recv(&mut self) -> Senders {
        loop {
            let Ok(mut ready) = self.pipe.readable().await else {
                // Cannot happen for a pipe we own; say "look at everything".
                return Senders { pids: Vec::new(), lost: true };
            };
            // Cleared before the pipe is drained: a pid written after the
            // last read makes it readable again.
            ready.clear_ready();
            let mut senders = Senders::default();
            let mut buf = [0u8; 4096];
            loop {
                // SAFETY: read(2) into our buffer.
                let n = unsafe { libc::read(self.pipe.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
                if n <= 0 {
                    break;
                }
                let got = &buf[..n as usize];
                senders.pids.extend(got.chunks_exact(4).map(|c| i32::from_ne_bytes([c[0], c[1], c[2], c[3]])));
            }
            senders.lost = SENDERS_LOST.swap(false, Ordering::Relaxed);
            if !senders.pids.is_empty() || senders.lost {
                return senders;
            }
        }
    }
}
