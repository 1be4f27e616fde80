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
/// the console when no `--hosts` is given (see [`crate::fleet::select`]).
pub const ENV_HOSTS: &str = "ISINIT_HOSTS";

/// An ssh destination that ssh can only read as a destination.
///
/// A host name comes from `-H`, a hosts file or `ISINIT_HOSTS`, and ends up
/// as an argument of ssh. One that starts with `-` would be read by ssh as
/// an option — `-oProxyCommand=…` runs any command as the caller — so the
/// only constructor refuses it, and every route to a remote host takes a
/// `Dest`: no caller can pass an unchecked name. (The command line also
/// puts `--` before DEST, see [`SshRoute::argv`].)
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Dest(String);

/// Why a host name is not a [`Dest`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadDest {
    /// It starts with `-`: ssh would take it for an option.
    #[error("invalid host '{0}': a host name cannot start with '-' (ssh would read it as an option)")]
    Option(String),
    /// Nothing but white space.
    #[error("invalid host: an empty host name")]
    Empty,
}

impl Dest {
    /// The destination `text`, trimmed; refused when empty or when it
    /// starts with `-`.
    pub fn new(text: &str) -> Result<Dest, BadDest> {
        let text = text.trim();
        if text.is_empty() {
            Err(BadDest::Empty)
        } else if text.starts_with('-') {
            Err(BadDest::Option(text.to_string()))
        } else {
            Ok(Dest(text.to_string()))
        }
    }

    /// The destination as given (trimmed).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Dest {
    type Err = BadDest;

    /// As [`Dest::new`]; lets clap refuse a bad `-H` as a usage error.
    fn from_str(text: &str) -> Result<Dest, BadDest> {
        Dest::new(text)
    }
}

impl fmt::Display for Dest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::ops::Deref for Dest {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
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
    /// Passed to ssh verbatim, after `--`: an alias, `user@host`,
    /// `ssh://user@host:port`.
    pub dest: Dest,
    /// The ssh program and its options, before DEST.
    pub ssh: Vec<String>,
    /// The `isinit` binary on the remote host.
    pub remote_bin: String,
}

impl SshRoute {
    /// A route to `dest` with [`ENV_SSH`] and [`ENV_REMOTE_BIN`] (or their
    /// defaults).
    pub fn from_env(dest: &Dest) -> SshRoute {
        let var = |name: &str, default: &str| {
            std::env::var(name).ok().filter(|v| !v.trim().is_empty()).unwrap_or_else(|| default.to_string())
        };
        SshRoute {
            dest: dest.clone(),
            ssh: var(ENV_SSH, DEFAULT_SSH).split_whitespace().map(str::to_string).collect(),
            remote_bin: var(ENV_REMOTE_BIN, DEFAULT_REMOTE_BIN),
        }
    }

    /// The whole command line: `SSH… -- DEST REMOTE_BIN bridge`. The `--`
    /// ends ssh's options, so DEST is a destination whatever it looks like
    /// (a second guard besides [`Dest::new`]).
    pub fn argv(&self) -> Vec<String> {
        let mut argv = self.ssh.clone();
        argv.push("--".to_string());
        argv.push(self.dest.to_string());
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

/// How long [`Stream::close`] waits for ssh to be gone after killing it.
pub const CLOSE_WAIT: Duration = Duration::from_secs(1);

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

    /// Ends the stream and, for ssh, waits (at most [`CLOSE_WAIT`]) until
    /// the ssh process is gone: a caller that counts sessions (the fan-out
    /// window) may then start the next one without two alive at once.
    /// Dropping a stream kills ssh too, but does not wait.
    pub async fn close(self) {
        if let Inner::Command(mut remote) = self.inner {
            let _ = remote._child.start_kill();
            let _ = tokio::time::timeout(CLOSE_WAIT, remote._child.wait()).await;
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
        // Its own process group: Ctrl-C at the terminal reaches isinit
        // alone, which ends its sessions itself (a rollout finishes its
        // wave first) instead of every ssh dying under it.
        .process_group(0)
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

#[cfg(test)]
mod tests {
    use super::*;

    const INJECTION: &str = r#"-oProxyCommand=sh -c "id > /tmp/pwned""#;

    #[test]
    fn a_host_starting_with_a_dash_is_refused() {
        assert_eq!(Dest::new(INJECTION), Err(BadDest::Option(INJECTION.to_string())));
        assert_eq!(Dest::new("  -v"), Err(BadDest::Option("-v".to_string())));
        assert_eq!(Dest::new(" "), Err(BadDest::Empty));
        let message = BadDest::Option(INJECTION.to_string()).to_string();
        assert!(message.contains("ProxyCommand") && message.contains("'-'"), "{message}");
    }

    #[test]
    fn ordinary_destinations_are_kept_verbatim() {
        for ok in ["web1", "ops@db-1", "ssh://ops@db1:2222", "10.0.0.1", "h-1"] {
            assert_eq!(Dest::new(ok).map(|d| d.to_string()), Ok(ok.to_string()));
        }
        assert_eq!(Dest::new("  web2 ").map(|d| d.to_string()), Ok("web2".to_string()));
    }

    #[test]
    fn double_dash_separates_ssh_options_from_dest() {
        let route = SshRoute {
            dest: Dest::new("web1").unwrap(),
            ssh: vec!["ssh".into(), "-o".into(), "BatchMode=yes".into()],
            remote_bin: "isinit".into(),
        };
        assert_eq!(route.argv(), ["ssh", "-o", "BatchMode=yes", "--", "web1", "isinit", "bridge"]);
    }
}
