//! `isinit reexec` (SPEC §10): the runtime hands its whole state to a new
//! image of the daemon binary through `execve`, keeping its pid, its
//! listening socket and its children.
//!
//! The sequence, each step undone if a later one fails so that the old
//! daemon carries on exactly as before:
//! 1. encode the state ([`super::handover`]) into a memfd;
//! 2. run the new binary as a child in check mode on that state: if it is
//!    missing, crashes, or cannot read it, stop here with its reason;
//! 3. end subscribers and log followers with a reason, so they reconnect;
//! 4. block the handled signals (the mask survives `execve`; the new image
//!    unblocks them once its handlers are installed), clear close-on-exec
//!    on exactly the listening socket, the memfd and the requesting
//!    connection, and `execve` the path the daemon was started from.

use super::Runtime;
use super::handover::{self, ENV_HANDOVER, Handover, set_cloexec};
use super::signals;
use crate::server::STREAM_SLOTS;
use crate::supervisor::Now;
use isinit_shared::daemon_lock::ENV_LOCK_FD;
use std::ffi::{CString, OsString};
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, watch};

/// How long the new binary may take to check the handed-over state.
const CHECK_LIMIT: Duration = Duration::from_secs(5);
/// How long subscribers get to receive their "reconnect" message.
const STREAMS_LIMIT: Duration = Duration::from_secs(2);

/// What the runtime needs to re-execute itself.
pub struct ReexecKit {
    /// The binary the daemon was started from, captured at start-up: an
    /// upgrade that replaces the file takes effect.
    pub exe: PathBuf,
    /// The daemon's arguments, passed again unchanged.
    pub argv: Vec<OsString>,
    /// The listening socket, inherited by the new image.
    pub listener_fd: RawFd,
    /// The lifetime lock on `SOCKET.lock`, inherited by the new image
    /// (`ENV_LOCK_FD`); `None` if this image holds none.
    pub lock_fd: Option<RawFd>,
    /// Set while re-executing: streams end with a reason.
    pub ending: watch::Sender<bool>,
    /// One permit per live stream, to wait until they have ended.
    pub streams: Arc<Semaphore>,
}

impl ReexecKit {
    /// The kit for this process: its binary and arguments as started.
    pub fn capture(
        listener_fd: RawFd,
        ending: watch::Sender<bool>,
        streams: Arc<Semaphore>,
    ) -> std::io::Result<ReexecKit> {
        Ok(ReexecKit {
            exe: std::env::current_exe()?,
            argv: std::env::args_os().collect(),
            listener_fd,
            lock_fd: None,
            ending,
            streams,
        })
    }
}

impl Runtime {
    /// Re-executes the daemon; returns only if that failed, with why.
    pub(super) async fn reexec(&mut self, conn: OwnedFd) -> String {
        let Some(kit) = self.reexec.as_ref() else { return "re-executing is not available".into() };
        if self.sup.is_halting() {
            return "daemon is shutting down".into();
        }
        let (exe, listener_fd, lock_fd) = (kit.exe.clone(), kit.listener_fd, kit.lock_fd);
        // Offsets as of now: what the actor reads after this is read again
        // by the new image (nothing is lost; at worst a line shows twice).
        let positions = match &self.output {
            Some(o) => o.positions().await,
            None => Vec::new(),
        };
        let handover = self.handover(listener_fd, conn.as_raw_fd(), positions);
        let bytes = match handover::encode(&handover) {
            Ok(b) => b,
            Err(e) => return format!("cannot encode the daemon's state: {e}"),
        };
        let mut memfd = match handover::to_memfd(&bytes) {
            Ok(f) => f,
            Err(e) => return format!("cannot create the handover memfd: {e}"),
        };
        if let Err(reason) = check(&exe, &mut memfd).await {
            tracing::error!("reexec refused: {reason}; carrying on");
            return reason;
        }
        if let Some(state) = &self.state_writer {
            state.barrier().await;
        }
        self.end_streams(true).await;
        tracing::info!("re-executing {} ({} bytes of state handed over)", exe.display(), bytes.len());
        let argv = self.reexec.as_ref().map(|k| k.argv.as_slice()).unwrap_or_default();
        let reason = exec(argv, &exe, Passed { listener: listener_fd, lock: lock_fd }, &memfd, &conn);
        tracing::error!("reexec failed: {reason}; carrying on");
        self.end_streams(false).await;
        reason
    }

    /// Tells streams to end (or lets new ones stay again), and waits a
    /// moment for those ending to deliver their last message.
    async fn end_streams(&self, ending: bool) {
        let Some(kit) = self.reexec.as_ref() else { return };
        kit.ending.send_replace(ending);
        if ending {
            let all = kit.streams.acquire_many(STREAM_SLOTS as u32);
            if let Ok(Ok(permits)) = tokio::time::timeout(STREAMS_LIMIT, all).await {
                drop(permits);
            }
        }
    }

    fn handover(&self, listener_fd: RawFd, reply_fd: RawFd, output: Vec<(String, u64)>) -> Handover {
        let now = Now::real();
        let config = self.sup.config();
        Handover {
            from_version: env!("CARGO_PKG_VERSION").to_string(),
            config_path: config.path.display().to_string(),
            config_text: handover::render_config(config),
            config_sha256: config.sha256.clone(),
            supervisor: self.sup.export(now),
            seq: self.seq,
            started_at_ms: self.info.borrow().started_at_ms,
            audit: self.audit.iter().cloned().collect(),
            notices: self.notices.iter().cloned().collect(),
            output,
            listener_fd,
            reply_fd: Some(reply_fd),
        }
    }
}

/// Runs `exe handover-check` with the handover on stdin; its reason if it
/// does not exit 0 within [`CHECK_LIMIT`].
async fn check(exe: &std::path::Path, memfd: &mut std::fs::File) -> Result<(), String> {
    let stdin = memfd.try_clone().map_err(|e| format!("cannot share the handover: {e}"))?;
    let mut stderr_file = handover::to_memfd(b"").map_err(|e| format!("cannot capture the check's output: {e}"))?;
    let stderr = stderr_file.try_clone().map_err(|e| format!("cannot capture the check's output: {e}"))?;
    let mut child = std::process::Command::new(exe)
        .arg("handover-check")
        .stdin(Stdio::from(stdin))
        .stdout(Stdio::null())
        .stderr(Stdio::from(stderr))
        .spawn()
        .map_err(|e| format!("cannot run the new binary {}: {e}", exe.display()))?;
    // Waited for here, inside the runtime's task (whose SIGCHLD reaper
    // therefore cannot run meanwhile), so that its exit status is collected
    // by this wait. Other tasks (connections) go on while it runs.
    let finished = match crate::pidwait::pidfd(child.id()) {
        Ok(fd) => tokio::time::timeout(CHECK_LIMIT, crate::pidwait::wait_pidfd(fd)).await.is_ok(),
        Err(_) => true,
    };
    if !finished {
        let _ = child.kill();
    }
    let status = child.wait().map_err(|e| format!("cannot wait for the new binary: {e}"))?;
    let _ = memfd.seek(SeekFrom::Start(0));
    let mut said = String::new();
    let _ = stderr_file.seek(SeekFrom::Start(0));
    let _ = (&mut stderr_file).take(4096).read_to_string(&mut said);
    let said = said.trim().replace('\n', "; ");
    match (finished, status.success()) {
        (true, true) => Ok(()),
        (false, _) => Err(format!("the new binary {} did not check the state within {CHECK_LIMIT:?}", exe.display())),
        (true, false) => Err(format!(
            "the new binary {} cannot take over ({status}){}",
            exe.display(),
            if said.is_empty() { String::new() } else { format!(": {said}") }
        )),
    }
}

/// The `execve` itself; returns only on failure, with why, after undoing
/// the signal mask and close-on-exec changes.
fn exec(argv: &[OsString], exe: &std::path::Path, fds: Passed, memfd: &std::fs::File, conn: &OwnedFd) -> String {
    let cstr =
        |b: &[u8]| CString::new(b).map_err(|_| "a NUL byte in the daemon's arguments or environment".to_string());
    let prepared = (|| -> Result<(CString, Vec<CString>, Vec<CString>), String> {
        let path = cstr(exe.as_os_str().as_bytes())?;
        let args = argv.iter().map(|a| cstr(a.as_bytes())).collect::<Result<Vec<_>, _>>()?;
        let mut env: Vec<CString> = std::env::vars_os()
            .filter(|(k, _)| k != ENV_HANDOVER && k != ENV_LOCK_FD)
            .filter_map(|(k, v)| {
                let mut pair = k.as_bytes().to_vec();
                pair.push(b'=');
                pair.extend_from_slice(v.as_bytes());
                CString::new(pair).ok()
            })
            .collect();
        env.push(cstr(format!("{ENV_HANDOVER}={}", memfd.as_raw_fd()).as_bytes())?);
        if let Some(lock) = fds.lock {
            env.push(cstr(format!("{ENV_LOCK_FD}={lock}").as_bytes())?);
        }
        Ok((path, args, env))
    })();
    let (path, args, env) = match prepared {
        Ok(p) => p,
        Err(e) => return e,
    };
    let mut argp: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argp.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = env.iter().map(|e| e.as_ptr()).collect();
    envp.push(std::ptr::null());
    let listener = ListenerFd(fds.listener);
    let lock = fds.lock.map(ListenerFd);
    let mut passed: Vec<&dyn AsRawFd> = vec![&listener, memfd, conn];
    // The lock is kept by the new image only: it is close-on-exec again
    // before anything is spawned, and children close every descriptor.
    passed.extend(lock.as_ref().map(|l| l as &dyn AsRawFd));
    if let Err(e) = signals::set_blocked(true) {
        return format!("cannot block signals: {e}");
    }
    for fd in &passed {
        let _ = set_cloexec(*fd, false);
    }
    // SAFETY: path, argp and envp are NUL-terminated and outlive the call.
    unsafe { libc::execve(path.as_ptr(), argp.as_ptr(), envp.as_ptr()) };
    let e = std::io::Error::last_os_error();
    for fd in passed {
        let _ = set_cloexec(fd, true);
    }
    let _ = signals::set_blocked(false);
    format!("cannot execute {}: {e}", exe.display())
}

/// The descriptors the new image inherits besides the memfd and the
/// requesting connection.
struct Passed {
    listener: RawFd,
    lock: Option<RawFd>,
}

/// A descriptor borrowed by number (the listener of the server task, the
/// lock held by `daemon::run`).
struct ListenerFd(RawFd);

impl AsRawFd for ListenerFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}
