//! The readiness socket's reader: a thread of its own, so that datagrams
//! the [`Gate`] drops — a flood from any local user — cost the runtime's
//! thread nothing. What passes goes to the runtime through a channel.

use super::Notification;
use super::gate::{Gate, Verdict};
use isinit_core::{NotifyMessage, Refusal, Sender};
use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
use nix::unistd::{Pid, getpgid};
use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// sd_notify messages are small; systemd reads at most this much too.
/// Anything longer is refused whole rather than read in part.
const DATAGRAM_MAX: usize = 4096;
/// How often a reader with nothing to read looks whether the runtime is
/// gone, and writes the count of what it dropped: once per [`WINDOW`],
/// so that an idle daemon does not wake four times a second for it
/// (issue 22: idle CPU). The runtime is gone only when the daemon exits.
pub const IDLE: Duration = WINDOW;
/// Drops logged one by one per [`WINDOW`]; the rest are counted and logged
/// in one line when the window ends, so a flood cannot flood the log.
const LOGGED: u32 = 10;
const WINDOW: Duration = Duration::from_secs(10);

/// Reads `socket` (blocking, with a read timeout) until the runtime drops
/// its end of `tx`.
pub fn run(socket: UnixDatagram, tx: mpsc::Sender<Notification>, mut gate: Gate) {
    let mut buf = vec![0u8; DATAGRAM_MAX];
    let mut log = DropLog::default();
    loop {
        let received = receive(socket.as_raw_fd(), &mut buf);
        let now = Instant::now();
        log.roll(now);
        let (len, pid) = match received {
            Ok(Received::Datagram { len, pid }) => (len, pid),
            Ok(Received::Dropped(why)) => {
                log.drop(now, why);
                continue;
            }
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => {
                if tx.is_closed() {
                    return;
                }
                continue;
            }
            Err(e) => {
                log.drop(now, Dropped::Error(e));
                continue;
            }
        };
        let Some(pgid) = (pid > 0).then(|| getpgid(Some(Pid::from_raw(pid))).ok().map(Pid::as_raw)).flatten() else {
            log.drop(now, Dropped::Refused(Refusal::SenderGone { pid }));
            continue;
        };
        match gate.judge(pgid, now) {
            Verdict::Stranger => log.drop(now, Dropped::Refused(Refusal::Stranger { pid, pgid })),
            Verdict::OverRate => log.drop(now, Dropped::OverRate { pid }),
            Verdict::Forward => {
                let message = NotifyMessage::parse(&buf[..len]);
                let n = Notification { sender: Sender { pid, pgid: Some(pgid) }, message };
                if tx.blocking_send(n).is_err() {
                    return;
                }
            }
        }
    }
}

/// What one `recvmsg` brought.
enum Received {
    Datagram { len: usize, pid: i32 },
    Dropped(Dropped),
}

/// Why a datagram was dropped in the reader.
enum Dropped {
    Refused(Refusal),
    OverRate { pid: i32 },
    TooLong,
    NoCredentials,
    Error(nix::errno::Errno),
}

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dropped::Refused(refusal) => write!(f, "{refusal}"),
            Dropped::OverRate { pid } => write!(f, "notify message from pid {pid} dropped: it sends too fast"),
            Dropped::TooLong => write!(f, "readiness socket: a datagram over {DATAGRAM_MAX} bytes was dropped"),
            Dropped::NoCredentials => write!(f, "readiness socket: a datagram without credentials was dropped"),
            Dropped::Error(e) => write!(f, "readiness socket: {e}"),
        }
    }
}

/// One `recvmsg`. File descriptors a sender attached are closed at once.
fn receive(fd: RawFd, buf: &mut [u8]) -> nix::Result<Received> {
    let mut iov = [IoSliceMut::new(buf)];
    // Room for the credentials and the most descriptors one message may
    // carry (SCM_MAX_FD), so the control data is never cut.
    let mut cmsg = nix::cmsg_space!(libc::ucred, [RawFd; 253]);
    let msg = recvmsg::<()>(fd, &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC)?;
    let mut pid = None;
    for c in msg.cmsgs()? {
        match c {
            ControlMessageOwned::ScmCredentials(cred) => pid = Some(cred.pid()),
            ControlMessageOwned::ScmRights(fds) => {
                for fd in fds {
                    // SAFETY: the kernel just installed this descriptor
                    // for us and nothing else refers to it.
                    unsafe { libc::close(fd) };
                }
            }
            _ => {}
        }
    }
    if msg.flags.contains(MsgFlags::MSG_TRUNC) {
        return Ok(Received::Dropped(Dropped::TooLong));
    }
    Ok(match pid {
        Some(pid) => Received::Datagram { len: msg.bytes, pid },
        None => Received::Dropped(Dropped::NoCredentials),
    })
}

/// Logs drops: the first [`LOGGED`] of a window one by one, the rest as
/// one count when the window ends.
#[derive(Default)]
struct DropLog {
    window: Option<Instant>,
    logged: u32,
    suppressed: u64,
}

impl DropLog {
    fn drop(&mut self, now: Instant, why: Dropped) {
        if self.window.is_none() {
            self.window = Some(now);
        }
        if self.logged < LOGGED {
            self.logged += 1;
            tracing::warn!("{why}");
        } else {
            self.suppressed += 1;
        }
    }

    /// Ends the window once it is over: one line for what was not logged.
    fn roll(&mut self, now: Instant) {
        let Some(start) = self.window else { return };
        if now.saturating_duration_since(start) < WINDOW {
            return;
        }
        if self.suppressed > 0 {
            tracing::warn!(
                "readiness socket: {} more datagrams dropped in {} s (not from a notify entry, or too fast)",
                self.suppressed,
                WINDOW.as_secs()
            );
        }
        *self = DropLog::default();
    }
}
