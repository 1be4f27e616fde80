//! The datagram socket to the service manager and the address it sends to.

use std::ffi::OsStr;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

/// Why `$NOTIFY_SOCKET` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AddressError {
    /// Neither an absolute path nor `@name` (systemd's two forms).
    #[error("not an absolute socket path nor an abstract `@name`")]
    Unsupported,
    /// The socket could not be created or the address is too long.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// An unbound datagram socket and the address of the service manager's
/// socket, kept for the daemon's life so each message is one `sendto`.
#[derive(Debug)]
pub struct NotifySocket {
    socket: UnixDatagram,
    target: SocketAddr,
}

impl NotifySocket {
    /// Parses a `$NOTIFY_SOCKET` value (`/run/systemd/notify` or an
    /// abstract `@name`) and opens a socket for it.
    ///
    /// The socket is non-blocking: if the manager's queue were ever full,
    /// the message is lost and logged rather than the daemon stalling while
    /// it should be reaping and respawning.
    pub fn open(value: &OsStr) -> Result<NotifySocket, AddressError> {
        let target = address(value)?;
        let socket = UnixDatagram::unbound()?;
        socket.set_nonblocking(true)?;
        Ok(NotifySocket { socket, target })
    }

    /// Sends one message as one datagram.
    pub fn send(&self, message: &str) -> std::io::Result<()> {
        self.socket.send_to_addr(message.as_bytes(), &self.target).map(|_| ())
    }
}

/// The address a `$NOTIFY_SOCKET` value names.
fn address(value: &OsStr) -> Result<SocketAddr, AddressError> {
    let bytes = value.as_bytes();
    match bytes.first() {
        Some(b'/') => Ok(SocketAddr::from_pathname(value)?),
        Some(b'@') => Ok(SocketAddr::from_abstract_name(&bytes[1..])?),
        _ => Err(AddressError::Unsupported),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;

    #[test]
    fn a_path_and_an_abstract_name_are_accepted() {
        let path = address(OsStr::new("/run/systemd/notify")).unwrap();
        assert_eq!(path.as_pathname(), Some(std::path::Path::new("/run/systemd/notify")));
        let abs = address(OsStr::new("@isinit/notify")).unwrap();
        assert_eq!(abs.as_abstract_name(), Some(&b"isinit/notify"[..]));
    }

    #[test]
    fn other_forms_are_refused() {
        for bad in ["", "relative/notify", "vsock:2:1234"] {
            assert!(matches!(address(OsStr::new(bad)), Err(AddressError::Unsupported)), "{bad:?}");
        }
        let too_long = OsString::from_vec([b"/".as_slice(), &[b'x'; 200]].concat());
        assert!(matches!(address(&too_long), Err(AddressError::Io(_))));
    }

    #[test]
    fn messages_arrive_as_datagrams_at_an_abstract_address() {
        let name = format!("isinit-notify-test-{}", std::process::id());
        let listener = UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap()).unwrap();
        let sender = NotifySocket::open(OsStr::new(&format!("@{name}"))).unwrap();
        sender.send("READY=1\nSTATUS=hello").unwrap();
        let mut buf = [0u8; 64];
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\nSTATUS=hello");
    }
}
