//! `MAINPID=` from a child that speaks sd_notify (SPEC §17): checked
//! against the entry's processes, then followed.
//!
//! The datagram itself already passed the trust gate (its sender is in the
//! process group of a running notify or watched entry). What it names must
//! also be the entry's: a process in the run's process group, or one whose
//! parents lead back to the run's process (`/proc/PID/stat`). Anything
//! else — another entry's process, the daemon, a stranger — is refused
//! with a log line, so a child can never make the daemon follow (and later
//! signal) a process that is not its own.

use super::Runtime;
use super::leftovers::start_ticks;

/// How many parents are walked up looking for the run's process.
const MAX_DEPTH: usize = 64;

impl Runtime {
    /// `tag`'s run said `MAINPID=pid`.
    pub(super) fn main_pid_reported(&mut self, tag: &str, pid: i32) {
        let Some((current, group)) = self.sup.main_of(tag) else { return };
        if pid == current {
            return;
        }
        let pgid = match belongs(pid, current, group) {
            Ok(pgid) => pgid,
            Err(why) => {
                tracing::warn!("{tag}: MAINPID={pid} ignored: {why}");
                return;
            }
        };
        if !self.sup.follow_main_pid(tag, pid, pgid) {
            return;
        }
        tracing::info!("{tag}: MAINPID={pid}: following it as the entry's process (was pid {current})");
        if let Some(ticks) = start_ticks(pid) {
            self.sup.note_start_ticks(tag, pid, ticks);
        }
        // Its stop signals go through the entry's cgroup, like the run's.
        if let Some(tracker) = self.cgroups.as_mut()
            && let Some(dir) = tracker.cgroup_of(group).map(std::path::Path::to_path_buf)
            && pgid != group
        {
            let entry = self.sup.config().entry(tag).map(|e| e.group.clone()).unwrap_or_default();
            tracker.track(pgid, dir, &entry, tag);
        }
        // Its parent may outlive it and reap it: watch its end by pidfd
        // (if it is our child, the reaper gets its status first).
        self.watch_adopted(pid);
        self.save_state();
    }
}

/// `pid`'s process group if it is the run's (`run`, in process group
/// `group`) or a descendant of it; why not otherwise.
fn belongs(pid: i32, run: i32, group: i32) -> Result<i32, String> {
    let stat = |pid: i32| procfs::process::Process::new(pid).and_then(|p| p.stat()).ok();
    let Some(named) = stat(pid) else { return Err("no such process".into()) };
    if named.pgrp == group {
        return Ok(named.pgrp);
    }
    let mut parent = named.ppid;
    for _ in 0..MAX_DEPTH {
        if parent == run {
            return Ok(named.pgrp);
        }
        if parent <= 1 || parent == std::process::id().cast_signed() {
            break;
        }
        match stat(parent) {
            Some(s) => parent = s.ppid,
            None => break,
        }
    }
    Err(format!("it is neither in the entry's process group {group} nor a descendant of its process {run}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_descendant_or_a_member_of_the_group_belongs_and_others_do_not() {
        let me = std::process::id().cast_signed();
        let my_group = nix::unistd::getpgrp().as_raw();
        assert_eq!(belongs(me, 1, my_group), Ok(my_group), "a member of the run's group");
        let mut child = std::process::Command::new("sleep").arg("5").spawn().expect("spawn sleep");
        let pid = child.id().cast_signed();
        assert_eq!(belongs(pid, me, -1), Ok(my_group), "a child of the run's process");
        assert!(belongs(pid, 99_999_999, -1).is_err(), "someone else's");
        assert!(belongs(1, me, -1).is_err(), "init is nobody's descendant");
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(belongs(pid, me, -1), Err("no such process".into()));
    }
}
