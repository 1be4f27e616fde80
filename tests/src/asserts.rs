//! Assertions about processes, as a user would check them: does this pid
//! still exist, is anything left in that process group.

use crate::procfs;
use crate::wait::{DEADLINE, wait_for};
use nix::errno::Errno;
use nix::sys::signal::{kill, killpg};
use nix::unistd::Pid;

/// Whether `pid` exists (a zombie that has not been reaped still does).
pub fn pid_exists(pid: i32) -> bool {
    !matches!(kill(Pid::from_raw(pid), None), Err(Errno::ESRCH))
}

/// Whether `pid` exists and is running (not a zombie).
pub fn pid_alive(pid: i32) -> bool {
    pid_exists(pid) && procfs::stat(pid).is_some_and(|s| s.state != 'Z')
}

/// Whether the process group `pgid` has any member, zombies included.
pub fn group_exists(pgid: i32) -> bool {
    !matches!(killpg(Pid::from_raw(pgid), None), Err(Errno::ESRCH))
}

/// Panics unless `pid` is alive.
#[track_caller]
pub fn assert_alive(pid: i32, what: &str) {
    assert!(pid_alive(pid), "{what} (pid {pid}) should be alive; /proc says {:?}", procfs::stat(pid));
}

/// Waits until `pid` is gone entirely (exited and reaped).
#[track_caller]
pub fn wait_gone(pid: i32, what: &str) {
    wait_for(DEADLINE, &format!("{what} (pid {pid}) to be gone"), || match procfs::stat(pid) {
        _ if !pid_exists(pid) => Ok(()),
        Some(s) => Err(s.to_string()),
        None => Err("exists, but /proc/PID/stat unreadable".to_string()),
    })
}

/// Waits until process group `pgid` has no member left, not even a zombie.
#[track_caller]
pub fn wait_group_empty(pgid: i32, what: &str) {
    wait_for(DEADLINE, &format!("process group {pgid} of {what} to be empty"), || {
        if !group_exists(pgid) {
            return Ok(());
        }
        let members: Vec<String> = procfs::group_members(pgid).iter().map(ToString::to_string).collect();
        Err(format!("members: {members:?}"))
    })
}
