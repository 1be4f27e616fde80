//! Creating the control socket safely: never unlink a socket a live daemon
//! answers on (STYLE.md trap 10), replace a stale one, and create it 0660.

use isinit_client::{Client, ClientError};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;
use tokio::net::UnixListener;

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
    #[error("{} is in use by something that does not answer as an isinit daemon; not replacing it", .0.display())]
    /// Something answers on the socket, but not as an isinit daemon of
    /// our protocol version.
    InUse(std::path::PathBuf),
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

/// Binds the control socket, refusing if another daemon answers on it.
///
/// The check for a live daemon, the removal of a stale socket and the bind
/// happen under an exclusive `flock` on `SOCKET.lock` (issue 6, defect
/// 3e): two daemons started at the same moment cannot both judge the
/// socket stale; the second waits, then finds the first answering.
pub async fn bind(path: &Path) -> Result<(UnixListener, SocketFile), BindError> {
    let io = |source| BindError::Io { path: path.to_owned(), source };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let _lock = lock(path).map_err(io)?;
    bind_locked(path).await
}

/// An exclusive lock on the file beside the socket, held until dropped.
fn lock(socket: &Path) -> std::io::Result<std::fs::File> {
    use std::os::fd::AsRawFd;
    let mut name = socket.as_os_str().to_owned();
    name.push(".lock");
    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(name)?;
    loop {
        // SAFETY: flock on a descriptor we own. Blocking is fine here: the
        // daemon does nothing else before its socket is bound, and the
        // holder keeps it at most for one bounded connect attempt.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
            return Ok(file);
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

async fn bind_locked(path: &Path) -> Result<(UnixListener, SocketFile), BindError> {
    let io = |source| BindError::Io { path: path.to_owned(), source };
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(BindError::NotASocket(path.to_owned()));
        }
        match tokio::time::timeout(Duration::from_secs(2), Client::connect(path)).await {
            Ok(Ok(client)) => {
                return Err(BindError::AlreadyRunning { pid: client.daemon.pid, socket: path.to_owned() });
            }
            Ok(Err(ClientError::NotRunning { .. })) => {
                tracing::info!("replacing stale socket {}", path.display());
                std::fs::remove_file(path).map_err(io)?;
            }
            Ok(Err(ClientError::VersionMismatch { .. })) | Err(_) | Ok(Err(_)) => {
                return Err(BindError::InUse(path.to_owned()));
            }
        }
    }
    let listener = UnixListener::bind(path).map_err(io)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(io)?;
    let ino = std::fs::metadata(path).map_err(io)?.ino();
    Ok((listener, SocketFile { path: path.to_owned(), ino }))
}
