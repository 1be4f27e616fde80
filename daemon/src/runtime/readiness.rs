//! The readiness socket (SPEC §11): one datagram socket the daemon binds
//! beside its control socket and hands to `notify` entries — and only to
//! them — as `NOTIFY_SOCKET`. A task reads it, learns who sent each
//! datagram from the credentials the kernel attaches (`SO_PASSCRED`, so a
//! child cannot claim to be another), maps the sender to its process group,
//! and forwards what it said to the runtime, which asks the supervisor
//! whether it counts.
//!
//! The socket is mode 0666, so the reader runs on a thread of its own and
//! drops, before they reach the runtime, datagrams of senders that are
//! neither in a running `notify` entry's process group nor our children,
//! and bounds each sender's rate ([`gate`]).

mod gate;
mod reader;

use gate::{Gate, Leaders};
use isinit_core::Now;
use isinit_core::{NotifyMessage, Refusal, Sender, Supervisor};
use nix::sys::socket::{setsockopt, sockopt};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Messages that may wait for the runtime before the reader stops reading
/// (the kernel then holds, and finally refuses, further datagrams).
const QUEUE: usize = 256;
/// Refused messages logged per [`REFUSALS_WINDOW`]; the rest are counted,
/// so a child that floods the socket cannot flood the log.
const REFUSALS_LOGGED: u32 = 10;
const REFUSALS_WINDOW: Duration = Duration::from_secs(10);
/// The longest socket path the kernel takes (`sun_path` less its NUL).
const SUN_PATH_MAX: usize = 107;

/// Where the readiness socket of the daemon on `control` lives: the file
/// `CONTROL.notify`, or — when that path is too long for a socket — an
/// abstract socket named after the control socket. Derived from the
/// control socket alone so the spawner and the listener always agree.
pub fn address(control: &Path) -> String {
    let path = format!("{}.notify", control.display());
    if path.len() <= SUN_PATH_MAX {
        return path;
    }
    let digest = Sha256::digest(control.as_os_str().as_encoded_bytes());
    let short: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("@isinit-notify-{short}")
}

/// One datagram and who sent it.
#[derive(Debug)]
pub struct Notification {
    /// The sender, as the kernel vouched for it.
    pub sender: Sender,
    /// What it said.
    pub message: NotifyMessage,
}

/// The bound socket, its reader thread and the log of refusals. Dropping
/// it removes the socket file and stops the reader (within its idle
/// timeout, once it sees the channel closed).
pub struct Readiness {
    /// Datagrams for the runtime's loop.
    pub messages: mpsc::Receiver<Notification>,
    refusals: RefusalLog,
    file: Option<(PathBuf, u64)>,
    /// The process groups the reader lets through, shared with it.
    leaders: Arc<Leaders>,
    /// What was last published to `leaders`.
    published: HashSet<i32>,
}

impl Readiness {
    /// Binds the socket of the daemon on `control` and starts reading it.
    ///
    /// A socket file left at the path is replaced: the caller already owns
    /// the control socket, so no live daemon uses it.
    pub fn start(control: &Path) -> std::io::Result<Readiness> {
        let address = address(control);
        let context = |e: std::io::Error| std::io::Error::new(e.kind(), format!("readiness socket {address}: {e}"));
        let (std_socket, file) = match address.strip_prefix('@') {
            Some(name) => {
                use std::os::linux::net::SocketAddrExt;
                let addr = std::os::unix::net::SocketAddr::from_abstract_name(name).map_err(context)?;
                (std::os::unix::net::UnixDatagram::bind_addr(&addr).map_err(context)?, None)
            }
            None => {
                let path = PathBuf::from(&address);
                if let Ok(meta) = std::fs::symlink_metadata(&path) {
                    if !meta.file_type().is_socket() {
                        return Err(context(std::io::Error::other("exists and is not a socket; not replacing it")));
                    }
                    std::fs::remove_file(&path).map_err(context)?;
                }
                let socket = std::os::unix::net::UnixDatagram::bind(&path).map_err(context)?;
                // Anyone may send, as to systemd's own socket: a service
                // that dropped privileges must still reach it, and every
                // message is checked against the sender's process group.
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).map_err(context)?;
                let ino = std::fs::metadata(&path).map_err(context)?.ino();
                (socket, Some((path, ino)))
            }
        };
        std_socket.set_read_timeout(Some(reader::IDLE)).map_err(context)?;
        setsockopt(&std_socket, sockopt::PassCred, &true).map_err(|e| context(e.into()))?;
        let (tx, messages) = mpsc::channel(QUEUE);
        let leaders = Arc::new(Leaders::default());
        let gate = Gate::new(leaders.clone(), std::process::id().cast_signed());
        std::thread::Builder::new()
            .name("isinit-notify".into())
            .spawn(move || reader::run(std_socket, tx, gate))
            .map_err(context)?;
        tracing::debug!("readiness socket {address}");
        Ok(Readiness { messages, refusals: RefusalLog::default(), file, leaders, published: HashSet::new() })
    }

    /// Publishes to the reader the leaders of the running `notify` entries
    /// (called after every turn of the runtime's loop; the shared set is
    /// written only when they changed).
    pub fn track(&mut self, sup: &Supervisor) {
        let now: HashSet<i32> = sup.notify_leaders().collect();
        if now != self.published {
            self.published = now.clone();
            self.leaders.replace(now);
        }
    }

    /// Hands a datagram to the supervisor and logs what came of it; the
    /// entry and pid of a `MAINPID=` it carried, for the runtime to check
    /// and follow (`mainpid.rs`).
    pub fn deliver(&mut self, sup: &mut Supervisor, n: Notification) -> Option<(String, i32)> {
        match sup.notified(Now::real(), n.sender, &n.message) {
            Ok(accepted) => {
                if accepted.became_ready {
                    tracing::info!("{}: ready (READY=1)", accepted.tag);
                }
                n.message.main_pid.map(|pid| (accepted.tag, pid))
            }
            Err(refusal) => {
                self.refusals.log(&refusal);
                None
            }
        }
    }
}

impl Drop for Readiness {
    fn drop(&mut self) {
        if let Some((path, ino)) = &self.file
            && std::fs::metadata(path).is_ok_and(|m| m.ino() == *ino)
        {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Logs refusals, at most [`REFUSALS_LOGGED`] per window.
#[derive(Default)]
struct RefusalLog {
    window: Option<Instant>,
    logged: u32,
    suppressed: u64,
}

impl RefusalLog {
    fn log(&mut self, refusal: &Refusal) {
        let now = Instant::now();
        if self.window.is_none_or(|start| now.saturating_duration_since(start) >= REFUSALS_WINDOW) {
            if self.suppressed > 0 {
                tracing::warn!("{} more notify messages were ignored", self.suppressed);
            }
            *self = RefusalLog { window: Some(now), logged: 0, suppressed: 0 };
        }
        if self.logged < REFUSALS_LOGGED {
            self.logged += 1;
            tracing::warn!("{refusal}");
        } else {
            self.suppressed += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_sits_beside_the_control_socket_or_is_abstract() {
        assert_eq!(address(Path::new("/var/run/is/init.s")), "/var/run/is/init.s.notify");
        let long = PathBuf::from(format!("/tmp/{}/init.s", "d".repeat(100)));
        let a = address(&long);
        assert!(a.starts_with("@isinit-notify-") && a.len() < SUN_PATH_MAX, "{a}");
        assert_eq!(a, address(&long), "the same for spawner and listener");
        assert_ne!(a, address(&long.with_file_name("other.s")));
    }
}
