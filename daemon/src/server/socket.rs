//! Creating the control socket safely: never unlink a socket a live daemon
//! serves (STYLE.md trap 10), replace a stale one, and create it 0660.
//!
//! Who serves a socket is decided by the lifetime lock on `SOCKET.lock`
//! ([`DaemonLock`]), not by how a connection to the socket fares. Issue
//! 16 item 9: the old judgement connected and took any failure other than
//! ECONNREFUSED for a foreign server, so a daemon restarted right after
//! `kill -9` refused to start whenever the dead daemon's listener was
//! still open somewhere for a moment (a child caught between its clone and
//! its exec holds a copy of every descriptor; a dying daemon in
//! uninterruptible sleep closes its files late): the connection was
//! queued and then reset, or the hello timed out. The kernel releases the
//! lock only when every holder is gone, so a free lock proves the socket
//! file stale, and a held one proves a live daemon (which is given a few
//! seconds to answer).

use isinit_client::daemon_lock::{self, DaemonLock};
use isinit_client::{Client, ClientError};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::net::UnixListener;

/// How long a starting daemon waits for the holder of the lock to answer
/// (it may be starting up, or busy) or to die, before it gives up.
const HOLDER_PATIENCE: Duration = Duration::from_secs(5);
/// How long one hello to the holder may take.
const HELLO_LIMIT: Duration = Duration::from_secs(1);
/// How long a daemon that got the lock lets a live server on the socket
/// answer: a daemon from before the lifetime lock (it held the lock only
/// while binding) may still serve it during an upgrade.
const UNLOCKED_HELLO_LIMIT: Duration = Duration::from_secs(1);
/// The pause between two looks at the lock.
const RETRY_PAUSE: Duration = Duration::from_millis(50);

/// Why the socket could not be bound.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// Another daemon answers on the socket.
    #[error("already running, pid {pid} (socket {})", socket.display())]
    AlreadyRunning {
        /// The pid the running daemon reported.
        pid: u32,
        /// The socket it answers on.
        socket: std::path::PathBuf,
    },
    /// A daemon of another protocol version serves the socket.
    #[error("already running, pid {pid}, but speaking protocol {protocol} (socket {})", socket.display())]
    OtherVersion {
        /// The pid the running daemon reported.
        pid: u32,
        /// Its protocol version.
        protocol: u32,
        /// The socket it answers on.
        socket: std::path::PathBuf,
    },
    /// A live process holds the socket's lock but did not answer as a
    /// daemon within [`HOLDER_PATIENCE`].
    #[error(
        "{} is owned by a live daemon ({}, holding {}) that did not answer within {} s ({last}); not replacing it",
        socket.display(),
        pid.map_or("pid unknown".to_string(), |p| format!("pid {p}")),
        daemon_lock::lock_path(socket).display(),
        HOLDER_PATIENCE.as_secs()
    )]
    Unanswered {
        /// The pid the holder wrote into the lock file.
        pid: Option<u32>,
        /// The socket.
        socket: std::path::PathBuf,
        /// What the last attempt to reach it ended with.
        last: String,
    },
    #[error("{} exists and is not a socket; not replacing it", .0.display())]
    /// A regular file (or anything else) sits at the path.
    NotASocket(std::path::PathBuf),
    /// Creating the directory or binding the socket failed.
    #[error("cannot create socket {}: {source}", path.display())]
    Io {
        /// The socket path.
        path: std::path::PathBuf,
        /// What failed.
        source: std::io::Error,
    },
}

/// The socket file this daemon created, remembered by inode so that
/// shutdown removes it only if it is still ours.
#[derive(Debug)]
pub struct SocketFile {
    path: std::path::PathBuf,
    ino: u64,
}

impl SocketFile {
    /// The socket file at `path` as it is now: for an image started by
    /// `reexec`, which inherited the listener bound to it.
    pub fn existing(path: &Path) -> SocketFile {
        let ino = std::fs::metadata(path).map(|m| m.ino()).unwrap_or(0);
        SocketFile { path: path.to_owned(), ino }
    }

    /// Removes the socket file unless another daemon has since replaced it.
    pub fn remove(&self) {
        if std::fs::metadata(&self.path).is_ok_and(|m| m.ino() == self.ino) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// What a daemon owns once it has claimed its socket.
pub type Claimed = (DaemonLock, UnixListener, SocketFile);

/// Claims the control socket: takes its lifetime lock, then replaces
/// whatever socket file is left and binds. If a live daemon holds the
/// lock, says who it is; if it does not answer within
/// [`HOLDER_PATIENCE`] (and does not die meanwhile), names the holder.
///
/// Two daemons started at the same moment cannot both bind: the lock
/// admits one; the other finds it held and the first answering.
pub async fn bind(path: &Path) -> Result<Claimed, BindError> {
    let io = |source| BindError::Io { path: path.to_owned(), source };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let deadline = Instant::now() + HOLDER_PATIENCE;
    let mut said = false;
    loop {
        let last = match DaemonLock::try_acquire(path).map_err(io)? {
            Some(lock) => {
                if let Err(e) = lock.record_pid() {
                    tracing::warn!("cannot write our pid into {}: {e}", daemon_lock::lock_path(path).display());
                }
                if let Some(pid) = unlocked_daemon(path).await {
                    return Err(BindError::AlreadyRunning { pid, socket: path.to_owned() });
                }
                let (listener, file) = bind_owned(path)?;
                return Ok((lock, listener, file));
            }
            None => match tokio::time::timeout(HELLO_LIMIT, Client::connect(path)).await {
                Ok(Ok(client)) => {
                    return Err(BindError::AlreadyRunning { pid: client.daemon.pid, socket: path.to_owned() });
                }
                Ok(Err(ClientError::VersionMismatch { daemon, .. })) => {
                    let pid = daemon_lock::holder_pid(path).unwrap_or(0);
                    return Err(BindError::OtherVersion { pid, protocol: daemon, socket: path.to_owned() });
                }
                Ok(Err(e)) => e.to_string(),
                Err(_) => format!("no hello within {} s", HELLO_LIMIT.as_secs_f64()),
            },
        };
        if !said {
            said = true;
            let holder = daemon_lock::holder_pid(path).map_or("pid unknown".to_string(), |p| format!("pid {p}"));
            tracing::info!(
                "socket {} is locked by a live daemon ({holder}) that does not answer yet ({last}); waiting up to {} s for it to answer or exit",
                path.display(),
                HOLDER_PATIENCE.as_secs()
            );
        }
        if Instant::now() >= deadline {
            let pid = daemon_lock::holder_pid(path);
            return Err(BindError::Unanswered { pid, socket: path.to_owned(), last });
        }
        tokio::time::sleep(RETRY_PAUSE).await;
    }
}

/// The pid of a daemon that serves `path` without holding its lock (one
/// started before the lifetime lock existed), if one answers at once.
/// Anything else (refused, reset, silent) is no daemon: the free lock
/// already proves it.
async fn unlocked_daemon(path: &Path) -> Option<u32> {
    if !std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
        return None;
    }
    match tokio::time::timeout(UNLOCKED_HELLO_LIMIT, Client::connect(path)).await {
        Ok(Ok(client)) => Some(client.daemon.pid),
        _ => None,
    }
}

/// Binds with the lock held: a socket file at the path is stale by proof
/// (no live daemon holds the lock) and is removed; anything else there
/// is not ours to remove.
fn bind_owned(path: &Path) -> Result<(UnixListener, SocketFile), BindError> {
    let io = |source| BindError::Io { path: path.to_owned(), source };
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(BindError::NotASocket(path.to_owned()));
        }
        tracing::info!("replacing stale socket {} (no daemon holds its lock)", path.display());
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
            _ => {}
        }
    }
    let listener = UnixListener::bind(path).map_err(io)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(io)?;
    let ino = std::fs::metadata(path).map_err(io)?.ino();
    Ok((listener, SocketFile { path: path.to_owned(), ino }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_socket_whose_listener_nobody_serves_is_replaced_when_the_lock_is_free() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let orphan = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let (lock, _listener, file) = bind(&path).await.expect("the socket is stale by proof");
        assert!(daemon_lock::is_held(&path).unwrap(), "the lock is held while the daemon lives");
        assert_ne!(file.ino, 0);
        assert_eq!(daemon_lock::holder_pid(&path), Some(std::process::id()));
        drop((lock, orphan));
        assert!(!daemon_lock::is_held(&path).unwrap(), "released with the lock");
    }

    #[tokio::test]
    async fn a_file_that_is_not_a_socket_is_refused_and_the_lock_released() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        std::fs::write(&path, "data").unwrap();
        assert!(matches!(bind(&path).await, Err(BindError::NotASocket(_))));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "data");
        assert!(!daemon_lock::is_held(&path).unwrap());
    }
}
