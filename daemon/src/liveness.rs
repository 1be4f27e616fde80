//! Whether a process, or a process group, is still there: signal-0 probes
//! and `/proc`, asked by the runtime's reaper and stop logic and by the
//! cgroup tracker (for an entry without a cgroup). A module of its own so
//! that neither of those reaches into the other.

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

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
    let stat = procfs::process::Process::new(pid).ok()?.stat().ok()?;
    Some((stat.state, stat.pgrp))
}

/// Whether any process of group `pgid` is not a zombie (a `/proc` scan,
/// only done for groups whose leader is gone).
fn has_running_member(pgid: i32) -> bool {
    let Ok(all) = procfs::process::all_processes() else { return true };
    all.filter_map(|p| p.ok()?.stat().ok()).any(|stat| stat.pgrp == pgid && stat.state != 'Z')
}

/// Whether a single process still exists (signal 0 probe).
pub fn pid_alive(pid: i32) -> bool {
    !matches!(nix::sys::signal::kill(Pid::from_raw(pid), None::<Signal>), Err(Errno::ESRCH))
}
