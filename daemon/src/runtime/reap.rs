//! The one reaper: every child and every adopted orphan is collected here,
//! by `waitpid(-1, WNOHANG)` after each SIGCHLD (STYLE.md trap 4).

pub use crate::liveness::{group_alive, pid_alive};
use isinit_shared::protocol::ExitStatus;
use nix::errno::Errno;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

/// Collects every child that has exited, without blocking.
pub fn reap_all() -> Vec<(i32, ExitStatus)> {
    let mut reaped = Vec::new();
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) => reaped.push((pid.as_raw(), ExitStatus::Code(code))),
            Ok(WaitStatus::Signaled(pid, sig, _)) => reaped.push((pid.as_raw(), ExitStatus::Signal(sig as i32))),
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => break,
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(e) => {
                tracing::warn!("waitpid failed: {e}");
                break;
            }
        }
    }
    reaped
}

/// Makes this process the child subreaper: orphans of our children (double
/// forks, background jobs of an exited shell) are re-parented to us, so
/// they are reaped here and cannot escape accounting.
pub fn become_subreaper() -> std::io::Result<()> {
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes an integer argument.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0) };
    if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}
