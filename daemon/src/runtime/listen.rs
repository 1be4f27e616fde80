//! Held listening sockets (`:::listen:`, SPEC §17): the daemon binds an
//! entry's sockets before its first start and keeps them open across the
//! entry's restarts, respawns and `isinit reexec`, so a client that
//! connects while no process serves waits in the kernel's backlog instead
//! of being refused. A socket is closed when its entry leaves its group's
//! level, or its line leaves the file.
//!
//! The sockets reach the child by systemd's socket-activation protocol
//! (`sd_listen_fds(3)`): descriptors from 3 in file order, `LISTEN_FDS`,
//! `LISTEN_FDNAMES` and `LISTEN_PID` (`spawn.rs` says how each is set).
//!
//! Binding happens where the spawn opens the entry's output file, and is of
//! the same kind: a `bind` is not a wait on a disk or a peer (a UNIX
//! socket's is one inode made). A bind that fails makes the start fail with
//! the reason (`cannot listen on tcp:…: Address already in use`), shown by `status`
//! and the log, and the next start (a respawn after the usual pause, a
//! `retry`, a tell) tries again — a port another program holds for a while
//! does not need a reload once it is free.

use super::handover::{HandedSocket, set_cloexec};
use isinit_shared::config::{Inittab, ListenAddress};
use nix::sys::socket::{self as so, AddressFamily, Backlog, SockFlag, SockType, SockaddrIn, SockaddrIn6, UnixAddr};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// The sockets the daemon holds, by entry and address.
#[derive(Default)]
pub struct HeldSockets {
    held: BTreeMap<(String, ListenAddress), Held>,
}

/// One bound, listening socket.
struct Held {
    fd: OwnedFd,
    /// For a UNIX socket: its file and the file's identity when bound, so
    /// that closing it removes that file and never one put there since.
    file: Option<(PathBuf, u64, u64)>,
}

impl HeldSockets {
    /// Whether no socket is held (the common case: nothing to reconcile).
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// The sockets of `tag`'s next start, in file order, bound now if they
    /// are not yet; the reason the entry cannot start otherwise.
    pub fn ensure(&mut self, config: &Inittab, tag: &str) -> Result<(), String> {
        for l in config.listens_of(tag) {
            if let std::collections::btree_map::Entry::Vacant(slot) =
                self.held.entry((tag.to_string(), l.address.clone()))
            {
                let held = bind(&l.address).map_err(|e| format!("cannot listen on {}: {e}", l.address))?;
                tracing::info!("{tag}: listening on {} (held for the entry)", l.address);
                slot.insert(held);
            }
        }
        Ok(())
    }

    /// The descriptors [`HeldSockets::ensure`] made sure of, in file order.
    pub fn of<'a>(&'a self, config: &'a Inittab, tag: &'a str) -> Vec<BorrowedFd<'a>> {
        config
            .listens_of(tag)
            .filter_map(|l| self.held.get(&(tag.to_string(), l.address.clone())))
            .map(|h| h.fd.as_fd())
            .collect()
    }

    /// Closes every socket whose line left the file, or whose entry is not
    /// `wanted` (not in its group's level any more, or shutting down).
    pub fn release_unwanted(&mut self, config: &Inittab, wanted: impl Fn(&str) -> bool) {
        let gone: Vec<(String, ListenAddress)> = self
            .held
            .keys()
            .filter(|(tag, address)| !wanted(tag) || !config.listens_of(tag).any(|l| l.address == *address))
            .cloned()
            .collect();
        for key in gone {
            if let Some(held) = self.held.remove(&key) {
                tracing::info!("{}: no longer listening on {} (the entry left its level or the file)", key.0, key.1);
                // Removing a file is a file-system write: not on the
                // runtime's thread (SPEC §15).
                if let Some(file) = held.close() {
                    std::thread::spawn(move || remove_socket_file(&file));
                }
            }
        }
    }

    /// Closes every socket and removes the UNIX socket files, at the end of
    /// the daemon (the run loop is over: no one waits on this thread).
    pub fn close_all(&mut self) {
        for (_, held) in std::mem::take(&mut self.held) {
            if let Some(file) = held.close() {
                remove_socket_file(&file);
            }
        }
    }

    /// What the next image of a `reexec` inherits: each socket's entry,
    /// address and descriptor number.
    pub fn handover(&self) -> Vec<HandedSocket> {
        self.held
            .iter()
            .map(|((tag, address), h)| HandedSocket {
                tag: tag.clone(),
                address: address.to_string(),
                fd: h.fd.as_raw_fd(),
            })
            .collect()
    }

    /// The descriptors a `reexec` passes through `execve`.
    pub fn raw_fds(&self) -> Vec<RawFd> {
        self.held.values().map(|h| h.fd.as_raw_fd()).collect()
    }

    /// The sockets an old image handed over: each one taken back if its
    /// descriptor is open and its address readable (else it is closed,
    /// and bound again at the entry's next start).
    pub fn adopt(handed: Vec<HandedSocket>) -> HeldSockets {
        let mut sockets = HeldSockets::default();
        for h in handed {
            // SAFETY: F_GETFD only reads the descriptor's flags.
            if h.fd < 3 || unsafe { libc::fcntl(h.fd, libc::F_GETFD) } < 0 {
                tracing::warn!("{}: the socket of {} was not handed over (fd {} is not open)", h.tag, h.address, h.fd);
                continue;
            }
            // SAFETY: passed through execve for this image alone.
            let fd = unsafe { OwnedFd::from_raw_fd(h.fd) };
            let Ok(address) = ListenAddress::parse(&h.address) else {
                tracing::warn!("{}: closing a handed-over socket of unreadable address {}", h.tag, h.address);
                continue;
            };
            if let Err(e) = set_cloexec(&fd, true) {
                tracing::warn!("{}: cannot mark the socket of {address} close-on-exec: {e}", h.tag);
            }
            let file = match &address {
                ListenAddress::Unix(path) => identity(path).map(|(dev, ino)| (path.clone(), dev, ino)),
                ListenAddress::Tcp(_) => None,
            };
            sockets.held.insert((h.tag, address), Held { fd, file });
        }
        sockets
    }
}

impl Held {
    /// Closes the socket; the file to remove, for a UNIX one.
    fn close(self) -> Option<(PathBuf, u64, u64)> {
        drop(self.fd);
        self.file
    }
}

/// A new socket bound to `address` and listening, close-on-exec, blocking
/// (as systemd passes them), with the longest backlog the host allows:
/// that queue is where connections wait while no process serves.
fn bind(address: &ListenAddress) -> std::io::Result<Held> {
    let flags = SockFlag::SOCK_CLOEXEC;
    let (fd, file) = match address {
        ListenAddress::Tcp(SocketAddr::V4(a)) => {
            let fd = so::socket(AddressFamily::Inet, SockType::Stream, flags, None)?;
            so::setsockopt(&fd, so::sockopt::ReuseAddr, &true)?;
            so::bind(fd.as_raw_fd(), &SockaddrIn::from(*a))?;
            (fd, None)
        }
        ListenAddress::Tcp(SocketAddr::V6(a)) => {
            let fd = so::socket(AddressFamily::Inet6, SockType::Stream, flags, None)?;
            so::setsockopt(&fd, so::sockopt::ReuseAddr, &true)?;
            so::bind(fd.as_raw_fd(), &SockaddrIn6::from(*a))?;
            (fd, None)
        }
        ListenAddress::Unix(path) => {
            clear_stale(path)?;
            let fd = so::socket(AddressFamily::Unix, SockType::Stream, flags, None)?;
            so::bind(fd.as_raw_fd(), &UnixAddr::new(path.as_path())?)?;
            let file = identity(path).map(|(dev, ino)| (path.clone(), dev, ino));
            (fd, file)
        }
    };
    so::listen(&fd, Backlog::MAXALLOWABLE)?;
    Ok(Held { fd, file })
}

/// Removes a UNIX socket file a previous holder left behind — only a
/// socket, and only one nobody listens on any more (STYLE.md trap 10: a
/// live server's socket is never taken away).
fn clear_stale(path: &Path) -> std::io::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.file_type().is_socket() {
        return Err(std::io::Error::new(std::io::ErrorKind::AlreadyExists, "the path exists and is not a socket"));
    }
    let probe =
        so::socket(AddressFamily::Unix, SockType::Stream, SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK, None)?;
    match so::connect(probe.as_raw_fd(), &UnixAddr::new(path)?) {
        Err(nix::errno::Errno::ECONNREFUSED) => {
            tracing::info!("removing the stale socket file {}", path.display());
            std::fs::remove_file(path)
        }
        // Accepted, or queued behind a full backlog: someone serves it.
        Ok(()) | Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EINPROGRESS) => {
            Err(std::io::Error::new(std::io::ErrorKind::AddrInUse, "another process is listening on this socket file"))
        }
        Err(e) => Err(e.into()),
    }
}

/// The device and inode of the file at `path`, if there is one.
fn identity(path: &Path) -> Option<(u64, u64)> {
    std::fs::symlink_metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Removes a closed UNIX socket's file if it is still the one bound.
fn remove_socket_file((path, dev, ino): &(PathBuf, u64, u64)) {
    if identity(path) == Some((*dev, *ino))
        && let Err(e) = std::fs::remove_file(path)
    {
        tracing::warn!("cannot remove the socket file {}: {e}", path.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn tab(text: &str) -> Inittab {
        Inittab::from_bytes(Path::new("/t"), text.as_bytes()).expect("a valid file")
    }

    /// A free TCP port on 127.0.0.1 (bound and released).
    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(1)
    }

    #[test]
    fn bound_once_kept_and_released_with_its_entry() {
        let port = free_port();
        let dir = tempfile::tempdir().expect("a temporary directory");
        let sock = dir.path().join("s.sock");
        let config =
            tab(&format!("g:a:1:respawn:x\n:::listen:a tcp:127.0.0.1:{port}\n:::listen:a unix:{}\n", sock.display()));
        let mut held = HeldSockets::default();
        held.ensure(&config, "a").expect("bound");
        let first: Vec<RawFd> = held.of(&config, "a").iter().map(|f| f.as_raw_fd()).collect();
        held.ensure(&config, "a").expect("still bound");
        let again: Vec<RawFd> = held.of(&config, "a").iter().map(|f| f.as_raw_fd()).collect();
        assert_eq!((first.len(), &first), (2, &again), "bound once, in file order");
        // A connection made now waits in the backlog; nothing accepts yet.
        let mut client = std::net::TcpStream::connect(("127.0.0.1", port)).expect("queued, not refused");
        let listener =
            std::net::TcpListener::from(held.held.values().next().expect("one").fd.try_clone().expect("dup"));
        let (mut served, _) = listener.accept().expect("the queued connection");
        served.write_all(b"hi").expect("write");
        let mut got = [0u8; 2];
        client.read_exact(&mut got).expect("read");
        assert_eq!(&got, b"hi");
        drop((listener, served, client));
        assert!(std::os::unix::net::UnixStream::connect(&sock).is_ok(), "the unix socket listens");

        held.release_unwanted(&config, |_| true);
        assert_eq!(held.of(&config, "a").len(), 2, "still wanted: kept");
        let without_tcp = tab(&format!("g:a:1:respawn:x\n:::listen:a unix:{}\n", sock.display()));
        held.release_unwanted(&without_tcp, |_| true);
        assert_eq!(held.of(&config, "a").len(), 1, "a line that left the file: closed");
        // Refused once the last copy is closed: a child of another test of
        // this process, between its clone and its exec, may hold one for a
        // moment.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            assert!(std::time::Instant::now() < deadline, "still accepting 5 s after it was released");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        held.release_unwanted(&config, |_| false);
        assert!(held.is_empty(), "an entry no longer wanted: closed");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while sock.exists() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(!sock.exists(), "the socket file is removed");
    }

    #[test]
    fn a_busy_port_is_a_clear_error_and_a_stale_file_is_replaced() {
        let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = busy.local_addr().expect("addr").port();
        let config = tab(&format!("g:a:1:respawn:x\n:::listen:a tcp:127.0.0.1:{port}\n"));
        let err = HeldSockets::default().ensure(&config, "a").expect_err("in use");
        assert!(err.starts_with(&format!("cannot listen on tcp:127.0.0.1:{port}: ")), "{err}");
        assert!(err.contains("in use"), "{err}");

        let dir = tempfile::tempdir().expect("a temporary directory");
        let sock = dir.path().join("s.sock");
        let config = tab(&format!("g:a:1:respawn:x\n:::listen:a unix:{}\n", sock.display()));
        drop(std::os::unix::net::UnixListener::bind(&sock).expect("a stale socket"));
        let mut held = HeldSockets::default();
        held.ensure(&config, "a").expect("the stale file is replaced");
        let live = HeldSockets::default().ensure(&config, "a").expect_err("a live socket is kept");
        assert!(live.contains("another process is listening"), "{live}");
        held.close_all();
        assert!(!sock.exists());

        std::fs::write(&sock, b"data").expect("a plain file");
        let err = HeldSockets::default().ensure(&config, "a").expect_err("not a socket");
        assert!(err.contains("not a socket"), "{err}");
        assert!(sock.exists(), "a file that is not a socket is never removed");
    }
}
