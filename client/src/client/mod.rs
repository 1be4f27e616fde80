//! The async client used by the console and the command line's streams
//! and fleet commands; [`blocking`] serves the one-shot commands.

pub mod blocking;

use crate::frame::encode_frame;
use crate::frame::{FrameError, read_message, read_sized_message, write_message};
use crate::transport::{Endpoint, OpenError, Stream};
use isinit_shared::protocol::chunk::{JoinError, Joiner};
use isinit_shared::protocol::{DaemonInfo, ErrorReply, PROTOCOL_VERSION, Request, Response};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncWriteExt, BufReader};

/// How long a client waits for the daemon by default (STYLE.md trap 14): a
/// stopped (SIGSTOP) or wedged daemon still accepts connections, because the
/// kernel completes them, so without a deadline a client would hang forever.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why talking to the daemon failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing answers on the socket.
    #[error("daemon not running (cannot connect to {}: {source})", socket.display())]
    NotRunning {
        /// The socket tried.
        socket: PathBuf,
        /// Why connecting failed.
        source: std::io::Error,
    },
    /// The socket exists but this user may not open it (SPEC §7: mode 0660).
    #[error("permission denied: cannot connect to {}", socket.display())]
    PermissionDenied {
        /// The socket tried.
        socket: PathBuf,
    },
    /// The daemon speaks another protocol version.
    #[error(
        "protocol version mismatch: daemon speaks {daemon}, this client {client}; use binaries from the same release"
    )]
    VersionMismatch {
        /// The daemon's protocol version.
        daemon: u32,
        /// Ours.
        client: u32,
    },
    /// The daemon refused the request.
    #[error("{}", .0.message)]
    Daemon(ErrorReply),
    /// The daemon closed the connection or sent something unreadable.
    #[error("lost connection to the daemon: {0}")]
    Frame(#[from] FrameError),
    /// The daemon answered with a message that makes no sense here.
    #[error("unexpected reply from the daemon: {0}")]
    Unexpected(String),
    /// The ssh command could not be started, or ended before the daemon
    /// answered; the reason is what it said on stderr.
    #[error("{reason}")]
    Unreachable {
        /// The ssh destination.
        dest: String,
        /// ssh's or the remote bridge's last words.
        reason: String,
    },
    /// A snapshot came in more chunks or bytes than a client buffers.
    #[error("{0}")]
    Oversized(#[from] JoinError),
    /// The daemon did not answer in time (stopped, overloaded or wedged).
    #[error("daemon at {} did not answer within {}", socket.display(), seconds(*after))]
    Timeout {
        /// The socket tried.
        socket: PathBuf,
        /// The deadline that passed.
        after: Duration,
    },
}

/// `10 s`, `0.5 s`: a duration as an operator typed it.
fn seconds(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

/// Runs `exchange` with a deadline; on expiry the error names the socket.
///
/// Every request-reply exchange goes through here; a stream (`logs -f`, a
/// subscription) bounds only its connect, hello and first reply with it.
async fn within<T>(
    socket: &Path,
    after: Duration,
    exchange: impl Future<Output = Result<T, ClientError>>,
) -> Result<T, ClientError> {
    match tokio::time::timeout(after, exchange).await {
        Ok(result) => result,
        Err(_) => Err(ClientError::Timeout { socket: socket.to_owned(), after }),
    }
}

/// What a timeout names: the socket, or the ssh destination.
fn endpoint_path(endpoint: &Endpoint) -> PathBuf {
    match endpoint {
        Endpoint::Socket(socket) => socket.clone(),
        Endpoint::Ssh(route) => PathBuf::from(route.dest.as_str()),
    }
}

async fn open(endpoint: &Endpoint) -> Result<BufReader<Stream>, ClientError> {
    let stream = Stream::open(endpoint).await.map_err(|e| match (e, endpoint) {
        (OpenError::Socket(source), Endpoint::Socket(socket)) => cannot_connect(socket, source),
        (OpenError::Socket(e) | OpenError::Spawn(e), _) => {
            ClientError::Unreachable { dest: endpoint.to_string(), reason: format!("cannot run ssh: {e}") }
        }
    })?;
    Ok(BufReader::new(stream))
}

/// Why connecting to `socket` failed, as the operator should read it.
fn cannot_connect(socket: &Path, source: std::io::Error) -> ClientError {
    match source.kind() {
        std::io::ErrorKind::PermissionDenied => ClientError::PermissionDenied { socket: socket.to_owned() },
        _ => ClientError::NotRunning { socket: socket.to_owned(), source },
    }
}

/// The daemon's answer to our hello: who it is, or why it will not talk.
fn hello_answer(first: Response) -> Result<DaemonInfo, ClientError> {
    match first {
        Response::Hello { daemon, .. } => Ok(daemon),
        Response::VersionMismatch { daemon, client } => Err(ClientError::VersionMismatch { daemon, client }),
        Response::Error(e) => Err(ClientError::Daemon(e)),
        other => Err(ClientError::Unexpected(format!("{other:?}"))),
    }
}

/// Reads the daemon's answer to our hello. Over ssh, a connection that
/// ends before the hello is explained by what ssh said on stderr.
async fn read_hello(stream: &mut BufReader<Stream>, endpoint: &Endpoint) -> Result<DaemonInfo, ClientError> {
    match read_message(stream).await {
        Ok(first) => hello_answer(first),
        Err(e) => Err(explain(stream, endpoint, e).await),
    }
}

/// A connection that broke before the hello was answered: over ssh, ssh's
/// own words say why (`Connection refused`), not the broken pipe.
async fn explain(stream: &mut BufReader<Stream>, endpoint: &Endpoint, e: FrameError) -> ClientError {
    match (stream.get_mut().failure_reason().await, endpoint) {
        (Some(reason), Endpoint::Ssh(route)) => ClientError::Unreachable { dest: route.dest.to_string(), reason },
        _ => ClientError::Frame(e),
    }
}

/// Writes the opening frames, explaining a failure as [`explain`] does.
async fn write_opening(stream: &mut BufReader<Stream>, endpoint: &Endpoint, frames: &[u8]) -> Result<(), ClientError> {
    let written = async {
        stream.write_all(frames).await?;
        stream.flush().await
    };
    match written.await {
        Ok(()) => Ok(()),
        Err(e) => Err(explain(stream, endpoint, FrameError::Io(e)).await),
    }
}

/// The hello and `request` as one write: one round trip instead of two.
fn opening(request: &Request) -> Result<Vec<u8>, ClientError> {
    let mut frames = encode_frame(&Request::Hello { protocol: PROTOCOL_VERSION })?;
    frames.extend(encode_frame(request)?);
    Ok(frames)
}

/// Feeds one message (and its frame's length) to `joiner`: a whole reply,
/// or `None` while a chunked snapshot is still arriving.
fn joined(joiner: &mut Joiner, (message, len): (Response, usize)) -> Result<Option<Response>, ClientError> {
    match message {
        Response::SnapshotChunk { part, more } => {
            Ok(joiner.push(*part, more, len)?.map(|whole| Response::Snapshot(Box::new(whole))))
        }
        other => Ok(Some(other)),
    }
}

/// A reply, or the daemon's refusal as [`ClientError::Daemon`].
fn error_reply_as_error(reply: Response) -> Result<Response, ClientError> {
    match reply {
        Response::Error(e) => Err(ClientError::Daemon(e)),
        reply => Ok(reply),
    }
}

/// One connection to the daemon, past the hello.
pub struct Client {
    stream: BufReader<Stream>,
    /// Who answered the hello.
    pub daemon: DaemonInfo,
}

impl Client {
    /// Ends the connection; over ssh, once the ssh process is gone
    /// ([`Stream::close`]). Dropping a client ends it too, without waiting.
    pub async fn close(self) {
        self.stream.into_inner().close().await;
    }

    /// Connects and exchanges hellos, within [`DEFAULT_TIMEOUT`].
    pub async fn connect(socket: &Path) -> Result<Client, ClientError> {
        Client::connect_within(socket, DEFAULT_TIMEOUT).await
    }

    /// Connects and exchanges hellos, within `after`.
    pub async fn connect_within(socket: &Path, after: Duration) -> Result<Client, ClientError> {
        Client::connect_to_within(&Endpoint::Socket(socket.to_owned()), after).await
    }

    /// Connects to a local socket or through ssh and exchanges hellos,
    /// within [`DEFAULT_TIMEOUT`].
    pub async fn connect_to(endpoint: &Endpoint) -> Result<Client, ClientError> {
        Client::connect_to_within(endpoint, DEFAULT_TIMEOUT).await
    }

    /// Connects to a local socket or through ssh and exchanges hellos,
    /// within `after`.
    pub async fn connect_to_within(endpoint: &Endpoint, after: Duration) -> Result<Client, ClientError> {
        within(&endpoint_path(endpoint), after, async {
            let mut stream = open(endpoint).await?;
            let hello = encode_frame(&Request::Hello { protocol: PROTOCOL_VERSION })?;
            write_opening(&mut stream, endpoint, &hello).await?;
            let daemon = read_hello(&mut stream, endpoint).await?;
            Ok(Client { stream, daemon })
        })
        .await
    }

    /// Connects and sends the hello and `request` in one write, then reads
    /// both replies: one round trip instead of two, for one-shot commands
    /// like `isinit tell`. An error reply becomes [`ClientError::Daemon`].
    /// The whole exchange has `after` to finish.
    pub async fn connect_and_request(
        socket: &Path,
        request: &Request,
        after: Duration,
    ) -> Result<(Client, Response), ClientError> {
        Client::connect_and_request_to(&Endpoint::Socket(socket.to_owned()), request, after).await
    }

    /// [`Client::connect_and_request`] to a local socket or through ssh:
    /// over ssh, the one round trip saved is a network one.
    pub async fn connect_and_request_to(
        endpoint: &Endpoint,
        request: &Request,
        after: Duration,
    ) -> Result<(Client, Response), ClientError> {
        within(&endpoint_path(endpoint), after, Client::exchange(endpoint, request)).await
    }

    /// [`Client::connect_and_request_to`] with two deadlines, for a fleet:
    /// the hello and `request` still go in one write, but the hello's
    /// answer must come within `connect` (reaching the host: ssh, the
    /// bridge, the daemon) and the reply within `after`. The error says
    /// which: `(false, e)` when the daemon was never reached.
    pub async fn connect_and_request_split(
        endpoint: &Endpoint,
        request: &Request,
        connect: Duration,
        after: Duration,
    ) -> Result<(Client, Response), (bool, ClientError)> {
        let reach = async {
            let mut stream = open(endpoint).await?;
            write_opening(&mut stream, endpoint, &opening(request)?).await?;
            let daemon = read_hello(&mut stream, endpoint).await?;
            Ok(Client { stream, daemon })
        };
        let path = endpoint_path(endpoint);
        let mut client = within(&path, connect, reach).await.map_err(|e| (false, e))?;
        let reply = within(&path, after, async { error_reply_as_error(client.recv().await?) }).await;
        Ok((client, reply.map_err(|e| (true, e))?))
    }

    async fn exchange(endpoint: &Endpoint, request: &Request) -> Result<(Client, Response), ClientError> {
        let mut stream = open(endpoint).await?;
        write_opening(&mut stream, endpoint, &opening(request)?).await?;
        let daemon = read_hello(&mut stream, endpoint).await?;
        let mut client = Client { stream, daemon };
        let reply = error_reply_as_error(client.recv().await?)?;
        Ok((client, reply))
    }

    /// Sends a request without waiting for the reply (for streams).
    pub async fn send(&mut self, request: &Request) -> Result<(), ClientError> {
        Ok(write_message(&mut self.stream, request).await?)
    }

    /// Reads the next message from the daemon.
    ///
    /// A snapshot the daemon had to send in chunks arrives here whole, as
    /// one [`Response::Snapshot`].
    pub async fn recv(&mut self) -> Result<Response, ClientError> {
        let mut joiner = Joiner::default();
        loop {
            if let Some(whole) = joined(&mut joiner, read_sized_message(&mut self.stream).await?)? {
                return Ok(whole);
            }
        }
    }

    /// Sends a request and returns its reply; an error reply becomes
    /// [`ClientError::Daemon`].
    pub async fn request(&mut self, request: &Request) -> Result<Response, ClientError> {
        self.send(request).await?;
        error_reply_as_error(self.recv().await?)
    }
}

impl From<ClientError> for isinit_shared::Failure {
    /// A daemon's refusal keeps its details (an invalid isinittab's
    /// `PATH:LINE` lines); anything else is its one-line reason.
    fn from(e: ClientError) -> isinit_shared::Failure {
        match e {
            ClientError::Daemon(reply) => isinit_shared::Failure { reason: reply.message, details: reply.details },
            other => isinit_shared::Failure::new(other.to_string()),
        }
    }
}

/// Sleeps until `at`; forever without one (a `select!` arm for a deadline
/// that may not be set).
pub async fn sleep_until<T: Into<tokio::time::Instant>>(at: Option<T>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// Runs `work` on a current-thread runtime: the daemon is one `select!`
/// loop, and a client command makes one request or follows one stream,
/// so neither needs worker threads.
pub fn block_on<T>(work: impl Future<Output = Result<T, isinit_shared::Failure>>) -> Result<T, isinit_shared::Failure> {
    match tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build() {
        Ok(runtime) => runtime.block_on(work),
        Err(e) => Err(isinit_shared::Failure::new(format!("cannot start async runtime: {e}"))),
    }
}
