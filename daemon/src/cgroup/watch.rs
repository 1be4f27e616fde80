//! Learning that a cgroup emptied: inotify on its `cgroup.events`.
//!
//! The kernel signals a modification of `cgroup.events` whenever
//! `populated` changes, so the runtime hears of an entry whose last
//! process ended — even one that was not our child (adopted after a
//! restart, or re-parented elsewhere) — without polling.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::sync::mpsc;

/// The inotify instance watching every entry cgroup's `cgroup.events`.
#[derive(Clone)]
pub struct Watch {
    inotify: Arc<AsyncFd<OwnedFd>>,
}

impl Watch {
    /// Starts watching; every batch of changes sends one `()` on the
    /// returned channel. Needs a tokio runtime.
    pub fn start() -> std::io::Result<(Watch, mpsc::UnboundedReceiver<()>)> {
        // SAFETY: inotify_init1 returns a new descriptor we then own.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: fresh, owned by nobody else; the AsyncFd owns it from here.
        let inotify =
            Arc::new(unsafe { AsyncFd::register_with_interest(OwnedFd::from_raw_fd(fd), Interest::READABLE)? });
        let (tx, rx) = mpsc::unbounded_channel();
        let reader = inotify.clone();
        tokio::spawn(async move {
            loop {
                let Ok(mut guard) = reader.readable().await else { return };
                let mut any = false;
                // Drain every queued event; one wake-up per batch is enough.
                let mut buf = [0u8; 4096];
                loop {
                    // SAFETY: reads into a buffer of the length given.
                    let n = unsafe { libc::read(guard.get_inner().as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
                    if n <= 0 {
                        break; // EAGAIN: drained
                    }
                    any = true;
                }
                guard.clear_ready();
                if any && tx.send(()).is_err() {
                    return;
                }
            }
        });
        Ok((Watch { inotify }, rx))
    }

    /// Watches the cgroup `dir`. A watch ends by itself when the cgroup is
    /// removed, so there is nothing to undo.
    pub fn add(&self, dir: &Path) -> std::io::Result<()> {
        let path = std::ffi::CString::new(dir.join("cgroup.events").as_os_str().as_bytes())
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
        // SAFETY: a NUL-terminated path and our own inotify descriptor.
        let wd = unsafe { libc::inotify_add_watch(self.inotify.get_ref().as_raw_fd(), path.as_ptr(), libc::IN_MODIFY) };
        if wd < 0 { Err(std::io::Error::last_os_error()) } else { Ok(()) }
    }
}
