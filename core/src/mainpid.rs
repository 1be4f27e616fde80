//! `MAINPID=` (SPEC §17): a running entry names another process as its
//! main one — nginx's binary upgrade starts a new master that outlives the
//! old — and from then on that process is the entry's: its exit is the
//! entry's exit, the old leader's is not, and `status` shows its pid.
//!
//! Whether the named process descends from the entry is the runtime's to
//! check (it reads `/proc`); here the change of the record is plain data.

use super::Supervisor;
use super::process::Phase;

impl Supervisor {
    /// The pid followed as `tag`'s process and its process group, while it
    /// runs: what a `MAINPID=` must descend from.
    pub fn main_of(&self, tag: &str) -> Option<(i32, i32)> {
        let p = self.procs.get(tag).filter(|p| p.phase == Phase::Running)?;
        Some((p.pid?, p.run_group()?))
    }

    /// Follows `pid`, in process group `pgid`, as `tag`'s process from now
    /// on; false if the record does not run or already follows it. The
    /// previous process's exit is then not the entry's (it is no longer a
    /// leader the supervisor knows), `pid`'s is; the deadlines of the run
    /// (readiness, probe, watchdog) carry over.
    pub fn follow_main_pid(&mut self, tag: &str, pid: i32, pgid: i32) -> bool {
        let Some(p) = self.procs.get_mut(tag) else { return false };
        let Some(old) = p.pid.filter(|old| *old != pid && p.phase == Phase::Running) else { return false };
        p.pid = Some(pid);
        p.followed_group = Some(pgid);
        p.pgids.insert(pgid);
        p.start_ticks = None;
        if self.by_pid.get(&old).is_some_and(|t| t == tag) {
            self.by_pid.remove(&old);
        }
        self.by_pid.insert(pid, tag.to_string());
        self.timers.repid(tag, old, pid);
        self.dirty_procs.insert(tag.to_string());
        self.status_dirty = true;
        self.log(format!("{tag}: following MAINPID {pid} as its process (was pid {old})"));
        true
    }

    /// `(tag, process group)` of every record following a `MAINPID=`: what
    /// a `reexec` hands over beside the process table, which has the pid.
    pub fn followed(&self) -> Vec<(String, i32)> {
        self.procs
            .iter()
            .filter_map(|(tag, p)| Some((tag.clone(), p.followed_group.filter(|_| p.pid.is_some())?)))
            .collect()
    }

    /// Restores [`Supervisor::followed`] in a new image.
    pub fn set_followed(&mut self, tag: &str, pgid: i32) {
        if let Some(p) = self.procs.get_mut(tag).filter(|p| p.pid.is_some()) {
            p.followed_group = Some(pgid);
        }
    }

    /// The followed main processes: they may be no child of the daemon
    /// (their parent may outlive them and reap them), so the runtime
    /// watches each for its end.
    pub fn followed_pids(&self) -> Vec<i32> {
        self.procs.values().filter(|p| p.followed_group.is_some()).filter_map(|p| p.pid).collect()
    }
}
