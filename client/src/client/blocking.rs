//! The blocking client of the command line's one-shot commands (`isinit
//! tell`, `status`, `reload` …): one request to the local socket, one
//! reply, done.
//!
//! Such a command is a short-lived process whose wall time is mostly its
//! own start-up, so it does without an async runtime: no epoll instance,
//! no waker, no timer wheel, only `connect`, `write` and `read` on a
//! blocking socket whose send and receive timeouts carry the deadline.
//! What it says on failure is what [`super::Client`] says.

use super::{ClientError, cannot_connect, error_reply_as_error, hello_answer, joined, opening};
use crate::frame::{FrameError, encode_frame, read_sized_message_blocking};
use isinit_shared::protocol::chunk::Joiner;
use isinit_shared::protocol::{DaemonInfo, Request, Response};
use nix::errno::Errno;
use nix::sys::socket::{AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr};
use std::io::{self, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a read polls before it sleeps. A daemon answers a request in
/// about half a millisecond; a reader asleep by then has to be woken, and
/// on a virtual machine waking a halted vCPU costs 0.1–3 ms, more than the
/// whole exchange. Polling with a yield between polls costs nothing when
/// the daemon shares this CPU (the yield lets it run), and when it runs on
/// the other one this CPU stays awake and the reply needs no wake-up. A
/// slow answer is waited for asleep.
const SPIN: Duration = Duration::from_millis(1);

/// One connection to the local daemon, past the hello.
pub struct Connection {
    /// The socket, read through a buffer: a reply's frames arrive in one
    /// read, not one read per header and body.
    stream: BufReader<Timed>,
    /// Who answered the hello.
    pub daemon: DaemonInfo,
}

impl Connection {
    /// Connects, sends the hello and `request` in one write and reads both
    /// replies, all within `after`. An error reply becomes
    /// [`ClientError::Daemon`].
    pub fn open_and_request(
        socket: &Path,
        request: &Request,
        after: Duration,
    ) -> Result<(Connection, Response), ClientError> {
        let stream = Timed { stream: connect(socket)?, deadline: Deadline::after(socket, after) };
        let mut stream = BufReader::new(stream);
        stream.get_mut().write(&opening(request)?)?;
        let daemon = hello_answer(read(&mut stream)?)?;
        let reply = error_reply_as_error(read(&mut stream)?)?;
        Ok((Connection { stream, daemon }, reply))
    }

    /// Sends another request on this connection and reads its reply, within
    /// `after`.
    pub fn request(&mut self, request: &Request, after: Duration) -> Result<Response, ClientError> {
        let timed = self.stream.get_mut();
        timed.deadline = Deadline::after(&timed.deadline.socket, after);
        timed.write(&encode_frame(request)?)?;
        error_reply_as_error(read(&mut self.stream)?)
    }
}

/// Opens the socket without waiting: a daemon whose listen queue is full
/// (stopped, wedged) refuses at once, as the async client sees it.
fn connect(socket: &Path) -> Result<UnixStream, ClientError> {
    let open = || -> io::Result<UnixStream> {
        let flags = SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK;
        let fd = nix::sys::socket::socket(AddressFamily::Unix, SockType::Stream, flags, None)?;
        nix::sys::socket::connect(fd.as_raw_fd(), &UnixAddr::new(socket)?)?;
        let stream = UnixStream::from(fd);
        stream.set_nonblocking(false)?;
        Ok(stream)
    };
    open().map_err(|e| cannot_connect(socket, e))
}

/// The next whole reply: a chunked snapshot arrives here joined.
fn read(stream: &mut BufReader<Timed>) -> Result<Response, ClientError> {
    let mut joiner = Joiner::default();
    loop {
        let message = read_sized_message_blocking(stream).map_err(|e| stream.get_ref().deadline.explain(e))?;
        if let Some(whole) = joined(&mut joiner, message)? {
            return Ok(whole);
        }
    }
}

/// When the exchange must be over, and the socket it names if it is not.
struct Deadline {
    at: Instant,
    socket: PathBuf,
    after: Duration,
}

impl Deadline {
    fn after(socket: &Path, after: Duration) -> Deadline {
        Deadline { at: Instant::now() + after, socket: socket.to_owned(), after }
    }

    /// Time left, or the timeout error once none is.
    fn left(&self) -> io::Result<Duration> {
        match self.at.checked_duration_since(Instant::now()) {
            Some(left) if !left.is_zero() => Ok(left),
            _ => Err(io::ErrorKind::TimedOut.into()),
        }
    }

    /// `e` as the caller should see it: a socket timeout is the deadline.
    fn explain(&self, e: FrameError) -> ClientError {
        match e {
            FrameError::Io(io) if matches!(io.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                ClientError::Timeout { socket: self.socket.clone(), after: self.after }
            }
            other => ClientError::Frame(other),
        }
    }
}

/// The socket under a deadline: every read and write gets the time left.
struct Timed {
    stream: UnixStream,
    deadline: Deadline,
}

impl Timed {
    fn write(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        let mut written = || -> io::Result<()> {
            self.stream.set_write_timeout(Some(self.deadline.left()?))?;
            self.stream.write_all(bytes)
        };
        written().map_err(|e| self.deadline.explain(FrameError::Io(e)))
    }
}

impl Read for Timed {
    /// Polls for the reply for up to [`SPIN`], yielding the CPU between
    /// polls, before it sleeps in a blocking read: see [`SPIN`].
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let spin_until = Instant::now() + SPIN;
        loop {
            match nix::sys::socket::recv(self.stream.as_raw_fd(), buf, MsgFlags::MSG_DONTWAIT) {
                Ok(n) => return Ok(n),
                Err(Errno::EAGAIN) if Instant::now() < spin_until.min(self.deadline.at) => std::thread::yield_now(),
                Err(Errno::EAGAIN | Errno::EINTR) => break,
                Err(e) => return Err(e.into()),
            }
        }
        self.stream.set_read_timeout(Some(self.deadline.left()?))?;
        self.stream.read(buf)
    }
}
