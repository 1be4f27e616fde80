//! The one reaper: every child and every adopted orphan is collected here,
//! by `waitpid(-1, WNOHANG)` after each SIGCHLD (STYLE.md trap 4).

use isinit_shared::protocol::ExitStatus;
use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
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

/// Whether the process group still has a member (signal 0 probe).
///
/// Zombies count as members for `kill`. Ours are reaped at once, but the
/// group of a process adopted from a killed daemon ends as zombies of
/// *another* parent (init), reaped whenever that one gets to it: when the
/// leader is gone or a zombie, only a member still running counts.
pub fn group_alive(pgid: i32) -> bool {
    if matches!(killpg(Pid::from_raw(pgid), None::<Signal>), Err(Errno::ESRCH)) {
        return false;
    }
    match proc_state(pgid) {
        Some((state, _)) if state != 'Z' => true,
        _ => has_running_member(pgid),
    }
}

/// The state letter and process group of `/proc/PID/stat`.
fn proc_state(pid: i32) -> Option<(char, i32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = fields.next()?.chars().next()?;
    let pgid = fields.nth(1)?.parse().ok()?;
    Some((state, pgid))
}

/// Whether any process of group `pgid` is not a zombie (a `/proc` scan,
/// only done for groups whose leader is gone).
fn has_running_member(pgid: i32) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else { return true };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(proc_state)
        .any(|(state, group)| group == pgid && state != 'Z')
}

/// Whether a single process still exists (signal 0 probe).
pub fn pid_alive(pid: i32) -> bool {
    !matches!(nix::sys::signal::kill(Pid::from_raw(pid), None::<Signal>), Err(Errno::ESRCH))
}

/// Makes this process the child subreaper: orphans of our children (double
/// forks, background jobs of an exited shell) are re-parented to us, so
/// they are reaped here and cannot escape accounting.
pub fn become_subreaper() -> std::io::Result<()> {
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes an integer argument.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0) };
    if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}
