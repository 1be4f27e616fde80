//! `isinit reexec` (SPEC §10): the runtime hands its whole state to a new
//! image of the daemon binary through `execve`, keeping its pid, its
//! listening socket and its children.
//!
//! The sequence, each step undone if a later one fails so that the old
//! daemon carries on exactly as before:
//! 1. encode the state ([`super::handover`]) into a memfd;
//! 2. run the new binary as a child in check mode on that state: if it is
//!    missing, crashes, or cannot read it, stop here with its reason. The
//!    check is waited for (at most [`CHECK_LIMIT`]) off the run loop,
//!    which goes on reaping, respawning and answering; its exit status
//!    comes from the one reaper;
//! 3. end subscribers and log followers with a reason, so they reconnect
//!    (also off the run loop); then, back on it, encode the state as it is
//!    by now;
//! 4. block the handled signals (the mask survives `execve`; the new image
//!    unblocks them once its handlers are installed), clear close-on-exec
//!    on exactly the listening socket, the memfd and the requesting
//!    connection, and `execve` the path the daemon was started from.

use super::Runtime;
use super::command::{Command, Outcome};
use super::handover::{self, ENV_HANDOVER, HandedSettings, Handover, set_cloexec};
use super::signals;
use isinit_client::daemon_lock::ENV_LOCK_FD;
use isinit_core::Now;
use isinit_shared::protocol::{ErrorKind, ErrorReply, ExitStatus};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::ffi::{CString, OsString};
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc, oneshot, watch};

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
    /// How many permits `streams` has in all: holding every one means no
    /// stream is left.
    pub stream_slots: u32,
    /// The daemon's own log file as resolved at start, handed over.
    pub log: Option<PathBuf>,
    /// The run loop's queue: the task that waits for the check reports
    /// back through it.
    pub commands: mpsc::Sender<Command>,
    /// The check's process until it is reaped.
    pub check: Option<PendingCheck>,
    /// From the request until the answer (or the `execve`).
    pub in_progress: bool,
}

impl ReexecKit {
    /// The kit for this process: its binary and arguments as started.
    pub fn capture(
        listener_fd: RawFd,
        ending: watch::Sender<bool>,
        streams: Arc<Semaphore>,
        stream_slots: u32,
        log: Option<PathBuf>,
        commands: mpsc::Sender<Command>,
    ) -> std::io::Result<ReexecKit> {
        Ok(ReexecKit {
            exe: std::env::current_exe()?,
            argv: std::env::args_os().collect(),
            listener_fd,
            lock_fd: None,
            ending,
            streams,
            stream_slots,
            log,
            commands,
            check: None,
            in_progress: false,
        })
    }
}

impl Runtime {
    /// Starts a `reexec`: runs the new binary's check on the state as of
    /// now and returns to the run loop at once. The check is waited for in
    /// a task of its own, so that children are reaped and respawned and
    /// requests answered meanwhile (issue 16, item 7); the task comes back
    /// with [`Command::ReexecChecked`], handled by `finish_reexec`.
    pub(super) fn begin_reexec(&mut self, conn: OwnedFd, reply: oneshot::Sender<Outcome>) {
        let refuse = |reply: oneshot::Sender<Outcome>, reason: &str| {
            let _ = reply.send(Err(ErrorReply::new(ErrorKind::Rejected, reason)));
        };
        let halting = self.sup.is_halting();
        let Some(kit) = self.reexec.as_ref() else { return refuse(reply, "re-executing is not available") };
        if halting {
            return refuse(reply, "daemon is shutting down");
        }
        if kit.in_progress || kit.check.is_some() {
            return refuse(reply, "a reexec is already in progress");
        }
        let (exe, listener_fd, commands) = (kit.exe.clone(), kit.listener_fd, kit.commands.clone());
        let (ending, streams, slots) = (kit.ending.clone(), kit.streams.clone(), kit.stream_slots);
        // The check reads a handover of the same shape as the one `execve`
        // will carry; that one is taken afresh once the check has passed.
        let handover = self.handover(listener_fd, conn.as_raw_fd(), Vec::new());
        let started = handover::encode(&handover)
            .map_err(|e| format!("cannot encode the daemon's state: {e}"))
            .and_then(|bytes| handover::to_memfd(&bytes).map_err(|e| format!("cannot create the handover memfd: {e}")))
            .and_then(|memfd| start_check(&exe, &memfd));
        let (pid, stderr) = match started {
            Ok(started) => started,
            Err(reason) => {
                tracing::error!("reexec refused: {reason}; carrying on");
                return refuse(reply, &reason);
            }
        };
        // Its end is waited for: learnt from its pidfd, not from a walk
        // that a merged SIGCHLD may put off (`reap.rs`).
        self.exits.watch_children([pid]);
        let (status_tx, status_rx) = oneshot::channel();
        if let Some(kit) = self.reexec.as_mut() {
            kit.check = Some(PendingCheck { pid, status: Some(status_tx) });
            kit.in_progress = true;
        }
        tokio::spawn(async move {
            let checked = wait_check(&exe, pid, status_rx, stderr).await;
            if checked.is_ok() {
                end_streams(&ending, &streams, slots).await;
            }
            if let Err(mpsc::error::SendError(Command::ReexecChecked { reply, .. })) =
                commands.send(Command::ReexecChecked { conn, reply, checked }).await
            {
                // The run loop is gone: the daemon is exiting.
                ending.send_replace(false);
                refuse(reply, "daemon is shutting down");
            }
        });
    }

    /// Whether `pid` was the check's process, reaped by the run loop's
    /// reaper (the one reaper, STYLE.md trap 4); its status then goes to
    /// the task waiting for it, and the supervisor never sees it.
    pub(super) fn check_reaped(&mut self, pid: i32, status: ExitStatus) -> bool {
        let Some(kit) = self.reexec.as_mut() else { return false };
        if kit.check.as_ref().is_none_or(|c| c.pid != pid) {
            return false;
        }
        if let Some(tx) = kit.check.take().and_then(|c| c.status) {
            let _ = tx.send(status);
        }
        true
    }

    /// Ends a `reexec` whose check is over: re-executes with the state as
    /// of now if it passed and the daemon is not shutting down meanwhile;
    /// otherwise answers why not and carries on.
    pub(super) async fn finish_reexec(
        &mut self,
        conn: OwnedFd,
        reply: oneshot::Sender<Outcome>,
        checked: Result<(), String>,
    ) {
        let reason = match checked {
            Err(reason) => reason,
            Ok(()) if self.sup.is_halting() => "daemon is shutting down".to_string(),
            Ok(()) => self.reexec(conn).await,
        };
        if let Some(kit) = self.reexec.as_mut() {
            kit.in_progress = false;
            kit.ending.send_replace(false);
        }
        tracing::error!("reexec refused: {reason}; carrying on");
        let _ = reply.send(Err(ErrorReply::new(ErrorKind::Rejected, reason)));
    }

    /// Re-executes the daemon; returns only if that failed, with why.
    async fn reexec(&mut self, conn: OwnedFd) -> String {
        let Some(kit) = self.reexec.as_ref() else { return "re-executing is not available".into() };
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
        let memfd = match handover::to_memfd(&bytes) {
            Ok(f) => f,
            Err(e) => return format!("cannot create the handover memfd: {e}"),
        };
        if let Some(state) = &self.state_writer {
            state.barrier().await;
        }
        tracing::info!("re-executing {} ({} bytes of state handed over)", exe.display(), bytes.len());
        // The new image knows nothing of running `exec:` checks: none may
        // outlive the tasks that would have timed them out.
        self.probes.kill_checks();
        let argv = self.reexec.as_ref().map(|k| k.argv.as_slice()).unwrap_or_default();
        let held = self.listen.raw_fds();
        exec(argv, &exe, Passed { listener: listener_fd, lock: lock_fd, held }, &memfd, &conn)
    }

    /// What the new image of a reexec found wrong at its start (an
    /// invalid file on disk): in the log and the notices of `status`.
    pub fn notice_on_takeover(&mut self, message: String) {
        self.notice(message);
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
            settings: Some(HandedSettings {
                socket: self.settings.socket.clone(),
                initstat: self.settings.initstat.clone(),
                state: self.settings.state.clone(),
                logdir: self.settings.logdir.clone(),
                log: self.reexec.as_ref().and_then(|k| k.log.clone()),
                cgroup: self.settings.cgroup.as_ref().map(|r| (r.path.clone(), r.own)),
            }),
            owners: self.sup.owners(),
            held: self.listen.handover(),
            followed: self.sup.followed(),
        }
    }
}

/// The check's process: its pid (reaped only by the run loop's reaper,
/// kept here until then) and where its status goes.
pub struct PendingCheck {
    pid: i32,
    status: Option<oneshot::Sender<ExitStatus>>,
}

/// Tells streams to end, and waits a moment for them to deliver their
/// last message.
async fn end_streams(ending: &watch::Sender<bool>, streams: &Semaphore, slots: u32) {
    ending.send_replace(true);
    let all = streams.acquire_many(slots);
    if let Ok(Ok(permits)) = tokio::time::timeout(STREAMS_LIMIT, all).await {
        drop(permits);
    }
}

/// Starts `exe handover-check` with the handover on stdin; its pid and the
/// memfd its stderr goes to. Not waited for here: see [`wait_check`].
fn start_check(exe: &std::path::Path, memfd: &std::fs::File) -> Result<(i32, std::fs::File), String> {
    let stdin = memfd.try_clone().map_err(|e| format!("cannot share the handover: {e}"))?;
    let stderr_file = handover::to_memfd(b"").map_err(|e| format!("cannot capture the check's output: {e}"))?;
    let stderr = stderr_file.try_clone().map_err(|e| format!("cannot capture the check's output: {e}"))?;
    let child = std::process::Command::new(exe)
        .arg("handover-check")
        .stdin(Stdio::from(stdin))
        .stdout(Stdio::null())
        .stderr(Stdio::from(stderr))
        .spawn()
        .map_err(|e| format!("cannot run the new binary {}: {e}", exe.display()))?;
    // Dropping a std Child neither waits nor kills: the reaper collects it.
    i32::try_from(child.id()).map(|pid| (pid, stderr_file)).map_err(|e| format!("cannot run the new binary: {e}"))
}

/// Waits at most [`CHECK_LIMIT`] for the check's status (sent by the
/// reaper), killing it past that; its reason if it did not exit 0.
async fn wait_check(
    exe: &std::path::Path,
    pid: i32,
    status: oneshot::Receiver<ExitStatus>,
    mut stderr_file: std::fs::File,
) -> Result<(), String> {
    let status = match tokio::time::timeout(CHECK_LIMIT, status).await {
        Ok(Ok(status)) => status,
        Ok(Err(_)) => return Err("the runtime stopped waiting for the new binary".into()),
        Err(_) => {
            // Not reaped yet (its status would have come first on this
            // one thread), so the pid is still this child's.
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            return Err(format!("the new binary {} did not check the state within {CHECK_LIMIT:?}", exe.display()));
        }
    };
    let mut said = String::new();
    let _ = stderr_file.seek(SeekFrom::Start(0));
    let _ = (&mut stderr_file).take(4096).read_to_string(&mut said);
    let said = said.trim().replace('\n', "; ");
    let how = match status {
        ExitStatus::Code(0) => return Ok(()),
        ExitStatus::Code(code) => format!("exit status: {code}"),
        ExitStatus::Signal(sig) => format!("killed by signal {sig}"),
        other => format!("{other:?}"),
    };
    Err(format!(
        "the new binary {} cannot take over ({how}){}",
        exe.display(),
        if said.is_empty() { String::new() } else { format!(": {said}") }
    ))
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
    let held: Vec<ListenerFd> = fds.held.iter().copied().map(ListenerFd).collect();
    let mut passed: Vec<&dyn AsRawFd> = vec![&listener, memfd, conn];
    // The held listening sockets (SPEC §17) stay open across the exec: the
    // backlog keeps what clients queue meanwhile.
    passed.extend(held.iter().map(|h| h as &dyn AsRawFd));
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
    /// The held listening sockets (`runtime::listen`).
    held: Vec<RawFd>,
}

/// A descriptor borrowed by number (the listener of the server task, the
/// lock held by `daemon::run`).
struct ListenerFd(RawFd);

impl AsRawFd for ListenerFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}
