//! Waiting for a process that is not our child to end, without polling:
//! a pidfd becomes readable when its process exits (Linux ≥ 5.3).

use std::os::fd::{FromRawFd, OwnedFd};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// A pidfd for `pid`, opened now: it keeps referring to that process even
/// if the pid is reused after it ends.
pub fn pidfd(pid: u32) -> std::io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the descriptor was just created and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Returns once the process of `fd` (a [`pidfd`]) has exited.
pub async fn wait_pidfd(fd: OwnedFd) {
    // SAFETY: the AsyncFd owns the descriptor until it is dropped here.
    let Ok(afd) = (unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }) else { return };
    let _ = afd.readable().await;
}

/// Returns once process `pid` has exited (at once if it already has, or if
/// the kernel has no pidfds, in which case the caller's other evidence —
/// a closed connection, a signal-0 probe — is the best available).
pub async fn wait_gone(pid: u32) {
    if let Ok(fd) = pidfd(pid) {
        wait_pidfd(fd).await;
    }
}
