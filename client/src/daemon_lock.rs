//! Who owns a control socket: an exclusive `flock` on `SOCKET.lock`, held
//! by the daemon that serves the socket for as long as it lives (across
//! `reexec` too, the descriptor being inherited by the new image).
//!
//! The kernel drops the lock the moment its holder dies, so the lock, not
//! an answer on the socket, is the proof that no daemon runs on a socket:
//!
//! - a daemon starting up that gets the lock knows that the socket file
//!   is stale, whatever a connection to it would do (a `kill -9` leaves a
//!   socket file behind; a child that inherited nothing cannot answer);
//! - the OCF agent that finds no daemon answering takes the lock before it
//!   acts on the group's processes itself, so no daemon can start and
//!   restore the group while it does; a daemon that holds the lock is alive
//!   (perhaps still starting), and the agent waits for its answer instead.
//!
//! The lock file is never removed: removing it would let two processes lock
//! two different files of the same name.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Environment variable through which `reexec` tells the new image the
/// descriptor number of the inherited lock (removed again at once, so
/// that no child sees it).
pub const ENV_LOCK_FD: &str = "ISINIT_LOCK_FD";

/// The lock file of the daemon on `socket`: `SOCKET.lock`.
pub fn lock_path(socket: &Path) -> PathBuf {
    let mut name = socket.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// The held lock of one socket; dropping it (or the death of every process
/// that has its descriptor) releases it.
#[derive(Debug)]
pub struct DaemonLock {
    file: File,
}

impl DaemonLock {
    /// Takes the lock of `socket` if no one holds it: `Ok(None)` when
    /// another process (a live daemon) does. Creates the lock file (0600,
    /// not following a symlink planted in its place) if it is missing; the
    /// socket's directory must exist.
    pub fn try_acquire(socket: &Path) -> io::Result<Option<DaemonLock>> {
        Self::try_lock(open(socket, true)?)
    }

    fn try_lock(file: File) -> io::Result<Option<DaemonLock>> {
        loop {
            // SAFETY: flock on a descriptor this function owns.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                return Ok(Some(DaemonLock { file }));
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EWOULDBLOCK) => return Ok(None),
                Some(libc::EINTR) => continue,
                _ => return Err(e),
            }
        }
    }

    /// The lock an image started by `reexec` inherited as descriptor `fd`
    /// (the lock belongs to the open file, so it is still held).
    pub fn inherited(fd: OwnedFd) -> DaemonLock {
        DaemonLock { file: File::from(fd) }
    }

    /// Writes this process's pid into the lock file, for a daemon that
    /// finds the lock held and its holder silent to name it ([`holder_pid`]).
    pub fn record_pid(&self) -> io::Result<()> {
        let text = format!("{}\n", std::process::id());
        self.file.set_len(0)?;
        self.file.write_all_at(text.as_bytes(), 0)
    }

    /// Marks the descriptor to be kept (`inherit`) or closed across
    /// `execve`: kept only for the `reexec` of the daemon itself, never
    /// for a child, or the child would hold the lock after the daemon died.
    pub fn set_inherit(&self, inherit: bool) -> io::Result<()> {
        let fd = self.file.as_raw_fd();
        // SAFETY: fcntl on a descriptor we own.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        if flags < 0 {
            return Err(io::Error::last_os_error());
        }
        let flags = if inherit { flags & !libc::FD_CLOEXEC } else { flags | libc::FD_CLOEXEC };
        // SAFETY: as above.
        if unsafe { libc::fcntl(fd, libc::F_SETFD, flags) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

fn open(socket: &Path, create: bool) -> io::Result<File> {
    OpenOptions::new()
        .create(create)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(lock_path(socket))
}

impl AsFd for DaemonLock {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

/// Whether a live process holds the lock of `socket` (a daemon serves it,
/// or is starting up). `false` when the lock file does not exist.
pub fn is_held(socket: &Path) -> io::Result<bool> {
    match open(socket, false).and_then(DaemonLock::try_lock) {
        Ok(lock) => Ok(lock.is_none()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// The pid the holder of the lock of `socket` wrote into it, if any (a
/// daemon writes its pid when it takes the lock; `reexec` keeps the pid).
pub fn holder_pid(socket: &Path) -> Option<u32> {
    std::fs::read_to_string(lock_path(socket)).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("s");
        assert!(!is_held(&socket).unwrap());
        let first = DaemonLock::try_acquire(&socket).unwrap().expect("free");
        assert!(DaemonLock::try_acquire(&socket).unwrap().is_none(), "a second holder");
        assert!(is_held(&socket).unwrap());
        drop(first);
        assert!(DaemonLock::try_acquire(&socket).unwrap().is_some(), "not released");
    }

    #[test]
    fn the_holder_names_itself_in_the_lock_file() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("s");
        std::fs::write(lock_path(&socket), "123456789 left by a longer pid\n").unwrap();
        let lock = DaemonLock::try_acquire(&socket).unwrap().expect("free");
        lock.record_pid().unwrap();
        assert_eq!(holder_pid(&socket), Some(std::process::id()));
    }

    #[test]
    fn a_symlink_in_place_of_the_lock_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("s");
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), lock_path(&socket)).unwrap();
        assert!(DaemonLock::try_acquire(&socket).is_err());
        assert!(!dir.path().join("elsewhere").exists());
    }
}
