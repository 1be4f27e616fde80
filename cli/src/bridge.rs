//! `isinit bridge`: joins stdin/stdout to the local daemon's socket, so
//! `ssh HOST isinit bridge` is a connection to that host's daemon.
//!
//! Frames pass unchanged both ways — the bridge neither parses nor buffers
//! messages — so every request kind, subscriptions and `logs -f` work
//! through it. The daemon sees the bridge's own peer credentials, so the
//! remote login's uid decides what is allowed.
//!
//! Plain blocking I/O on two threads: a bridge has exactly two byte streams
//! and nothing else to do, and blocking reads on stdin cannot be cancelled
//! by an async runtime anyway.

use super::Failure;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::Path;

/// Bytes moved per read; frames of any size pass through in pieces.
const CHUNK: usize = 64 * 1024;

/// Copies bytes both ways until either side closes.
///
/// The client closing its end (stdin at EOF) half-closes the socket; the
/// daemon then ends the connection (it treats EOF as the client leaving,
/// also mid-stream), which ends the copy to stdout. The daemon closing
/// first ends the copy to stdout at once, and the bridge returns without
/// waiting for stdin.
pub fn run(socket: &Path) -> Result<(), Failure> {
    let stream = UnixStream::connect(socket).map_err(|e| match e.kind() {
        io::ErrorKind::PermissionDenied => {
            Failure::new(format!("permission denied: cannot connect to {}", socket.display()))
        }
        _ => Failure::new(format!("daemon not running (cannot connect to {}: {e})", socket.display())),
    })?;
    let mut to_daemon = stream.try_clone().map_err(|e| Failure::new(format!("cannot duplicate the socket: {e}")))?;
    // Detached: when the daemon side closes, main returns and the process
    // ends with this thread still blocked on stdin.
    std::thread::spawn(move || {
        let _ = copy(&mut io::stdin().lock(), &mut to_daemon);
        let _ = to_daemon.shutdown(Shutdown::Write);
    });
    let mut from_daemon = stream;
    copy(&mut from_daemon, &mut io::stdout().lock()).map_err(|e| Failure::new(format!("bridge: {e}")))
}

/// Copies until EOF, flushing after every read so a frame never waits in a
/// buffer for the next one.
fn copy(from: &mut impl Read, to: &mut impl Write) -> io::Result<()> {
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buf[..n])?;
        to.flush()?;
    }
}
