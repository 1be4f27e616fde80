//! How a client reaches a daemon: its UNIX socket on this host, or the
//! stdin/stdout of `ssh DEST isinit bridge` for a daemon on another one.
//!
//! Operators already reach their hosts with OpenSSH — their keys, their
//! `~/.ssh/config`, ControlMaster — so a remote daemon is reached through
//! it rather than through a new listening port with new credentials. The
//! remote `isinit bridge` joins the ssh channel to the daemon's socket, and
//! the daemon sees the bridge's peer credentials: the remote login's uid
//! decides what is allowed. Frames are the same either way, so everything
//! above this module ([`crate::Client`]) is unaware of the difference.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::Stdio;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, BufReader, ReadBuf};
use tokio::net::UnixStream;
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Environment variable: the ssh command, split on whitespace.
pub const ENV_SSH: &str = "ISINIT_SSH";
/// Environment variable: the `isinit` binary on the remote hosts.
pub const ENV_REMOTE_BIN: &str = "ISINIT_REMOTE_BIN";
/// [`ENV_SSH`] when unset: never prompt, a console or a script cannot answer.
pub const DEFAULT_SSH: &str = "ssh -o BatchMode=yes";
/// [`ENV_REMOTE_BIN`] when unset: `isinit` from the remote login's PATH.
pub const DEFAULT_REMOTE_BIN: &str = "isinit";
/// How much of the remote command's stderr is kept to explain a failure.
const STDERR_KEPT: usize = 4096;
/// How long to wait for ssh's last words once its stdout has closed.
const STDERR_GRACE: Duration = Duration::from_secs(2);

/// Environment variable naming a hosts file, used by the command line and
/// the console when no `-H` or `--hosts` is given.
pub const ENV_HOSTS: &str = "ISINIT_HOSTS";

/// The DESTs of a hosts file: one a line, `#` starts a comment, blank lines
/// skipped. Shared so that `isinit` and `isinit-tui` read the same file the
/// same way.
pub fn parse_hosts(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// `-H` values first, then the lines of `file` (or, with neither, of the
/// file `ISINIT_HOSTS` names), duplicates dropped: a host listed twice
/// would otherwise be told twice.
pub fn resolve_hosts(flags: &[String], file: Option<&std::path::Path>) -> io::Result<Vec<String>> {
    let mut hosts: Vec<String> = flags.iter().map(|h| h.trim().to_string()).filter(|h| !h.is_empty()).collect();
    let file = match (file, hosts.is_empty()) {
        (Some(file), _) => Some(file.to_owned()),
        (None, true) => std::env::var_os(ENV_HOSTS).filter(|v| !v.is_empty()).map(PathBuf::from),
        (None, false) => None,
    };
    if let Some(file) = file {
        let text = std::fs::read_to_string(&file)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot read hosts file {}: {e}", file.display())))?;
        hosts.extend(parse_hosts(&text));
    }
    let mut unique = Vec::with_capacity(hosts.len());
    for h in hosts {
        if !unique.contains(&h) {
            unique.push(h);
        }
    }
    Ok(unique)
}

/// Where a daemon is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// The control socket of a daemon on this host.
    Socket(PathBuf),
    /// A daemon on another host, through `ssh DEST isinit bridge`.
    Ssh(SshRoute),
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Socket(path) => write!(f, "{}", path.display()),
            Endpoint::Ssh(route) => write!(f, "{}", route.dest),
        }
    }
}

/// The command that reaches one remote host's daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshRoute {
    /// Passed to ssh verbatim: an alias, `user@host`, `ssh://user@host:port`.
    pub dest: String,
    /// The ssh program and its options, before DEST.
    pub ssh: Vec<String>,
    /// The `isinit` binary on the remote host.
    pub remote_bin: String,
}

impl SshRoute {
    /// A route to `dest` with [`ENV_SSH`] and [`ENV_REMOTE_BIN`] (or their
    /// defaults).
    pub fn from_env(dest: &str) -> SshRoute {
        let var = |name: &str, default: &str| {
            std::env::var(name).ok().filter(|v| !v.trim().is_empty()).unwrap_or_else(|| default.to_string())
        };
        SshRoute {
            dest: dest.to_string(),
            ssh: var(ENV_SSH, DEFAULT_SSH).split_whitespace().map(str::to_string).collect(),
            remote_bin: var(ENV_REMOTE_BIN, DEFAULT_REMOTE_BIN),
        }
    }

    /// The whole command line: `SSH… DEST REMOTE_BIN bridge`.
    pub fn argv(&self) -> Vec<String> {
        let mut argv = self.ssh.clone();
        argv.push(self.dest.clone());
        argv.push(self.remote_bin.clone());
        argv.push("bridge".to_string());
        argv
    }
}

/// A byte stream to a daemon, whichever way it is reached.
pub struct Stream {
    inner: Inner,
}

enum Inner {
    Unix(UnixStream),
    // Boxed: a child and its three pipes are large, and most streams are
    // UNIX sockets.
    Command(Box<Remote>),
}

/// A running `ssh … bridge` and the pipes to it. Dropping it kills ssh
/// (and tokio reaps it), so an abandoned connection leaves nothing behind.
struct Remote {
    _child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
    /// The tail of ssh's stderr, filled by `stderr_task`.
    stderr: watch::Receiver<String>,
    stderr_task: Option<JoinHandle<()>>,
}

/// Why a stream could not be opened.
#[derive(Debug)]
pub enum OpenError {
    /// Connecting to the socket failed.
    Socket(io::Error),
    /// The ssh command could not be started at all.
    Spawn(io::Error),
}

impl Stream {
    /// Connects to a socket or starts the ssh command.
    pub async fn open(endpoint: &Endpoint) -> Result<Stream, OpenError> {
        match endpoint {
            Endpoint::Socket(path) => {
                UnixStream::connect(path).await.map(|s| Stream { inner: Inner::Unix(s) }).map_err(OpenError::Socket)
            }
            Endpoint::Ssh(route) => {
                spawn(route).map(|r| Stream { inner: Inner::Command(Box::new(r)) }).map_err(OpenError::Spawn)
            }
        }
    }

    /// What the remote command said on stderr before failing, once it has
    /// closed stdout: the reason an operator needs (`Connection refused`,
    /// `Permission denied (publickey)`, `daemon not running`). `None` for a
    /// socket or a silent command.
    pub async fn failure_reason(&mut self) -> Option<String> {
        let Inner::Command(remote) = &mut self.inner else {
            return None;
        };
        if let Some(task) = remote.stderr_task.take() {
            let _ = tokio::time::timeout(STDERR_GRACE, task).await;
        }
        let text = remote.stderr.borrow().clone();
        let reason = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ");
        (!reason.is_empty()).then_some(reason)
    }
}

fn spawn(route: &SshRoute) -> io::Result<Remote> {
    let argv = route.argv();
    let (program, args) = argv.split_first().ok_or_else(|| io::Error::other(format!("{ENV_SSH} is empty")))?;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let (Some(stdin), Some(stdout), Some(stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(io::Error::other("ssh started without its pipes"));
    };
    let (tx, rx) = watch::channel(String::new());
    let stderr_task = tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            tx.send_modify(|tail| {
                tail.push_str(&line);
                tail.push('\n');
                if tail.len() > STDERR_KEPT {
                    let cut = tail.len() - STDERR_KEPT;
                    let cut = (cut..tail.len()).find(|i| tail.is_char_boundary(*i)).unwrap_or(tail.len());
                    tail.drain(..cut);
                }
            });
        }
    });
    Ok(Remote { _child: child, stdin, stdout, stderr: rx, stderr_task: Some(stderr_task) })
}

impl AsyncRead for Stream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match &mut self.inner {
            Inner::Unix(s) => Pin::new(s).poll_read(cx, buf),
            Inner::Command(r) => Pin::new(&mut r.stdout).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match &mut self.inner {
            Inner::Unix(s) => Pin::new(s).poll_write(cx, buf),
            Inner::Command(r) => Pin::new(&mut r.stdin).poll_write(cx, buf),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.inner {
            Inner::Unix(s) => Pin::new(s).poll_flush(cx),
            Inner::Command(r) => Pin::new(&mut r.stdin).poll_flush(cx),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.inner {
            Inner::Unix(s) => Pin::new(s).poll_shutdown(cx),
            Inner::Command(r) => Pin::new(&mut r.stdin).poll_shutdown(cx),
        }
    }
}
