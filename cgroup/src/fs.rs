//! Reading and writing the interface files of one cgroup.
//!
//! Every function here is a handful of small reads or writes on a virtual
//! file system that answers from memory; the runtime calls them inline.

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::path::Path;

/// The pids in `dir` (none if it is gone).
pub fn procs(dir: &Path) -> Vec<i32> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .map(|text| text.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default()
}

/// Whether any process is left in `dir` or below it (`cgroup.events`
/// `populated`); a cgroup that is gone holds nothing.
pub fn populated(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("cgroup.events")).is_ok_and(|text| parse_populated(&text))
}

fn parse_populated(events: &str) -> bool {
    events.lines().any(|l| l.split_whitespace().eq(["populated", "1"]))
}

/// Sends `sig` to every process of `dir`, whatever its session or process
/// group. SIGKILL goes through `cgroup.kill` where the kernel has it
/// (5.14): the kernel then also catches a process forked meanwhile.
pub fn signal(dir: &Path, sig: Signal) {
    if sig == Signal::SIGKILL && std::fs::write(dir.join("cgroup.kill"), b"1").is_ok() {
        return;
    }
    for pid in procs(dir) {
        let _ = kill(Pid::from_raw(pid), sig);
    }
}

/// CPU time and memory of one cgroup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Processes in it now.
    pub processes: u32,
    /// CPU time of every process that ever ran in it (`cpu.stat`
    /// `usage_usec`, kept by the kernel without any controller).
    pub cpu_usec: u64,
    /// `memory.current`: only where the memory controller is enabled.
    pub memory_bytes: Option<u64>,
}

/// Reads the usage of `dir`; `None` if it is gone.
pub fn read_usage(dir: &Path) -> Option<Usage> {
    let stat = std::fs::read_to_string(dir.join("cpu.stat")).ok()?;
    let cpu_usec =
        stat.lines().find_map(|l| l.strip_prefix("usage_usec ")).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
    let memory_bytes = std::fs::read_to_string(dir.join("memory.current")).ok().and_then(|v| v.trim().parse().ok());
    let processes = u32::try_from(procs(dir).len()).unwrap_or(u32::MAX);
    Some(Usage { processes, cpu_usec, memory_bytes })
}

/// How many processes of `dir` and below the OOM killer has killed
/// (`memory.events` `oom_kill`); `None` without the memory controller.
pub fn oom_kills(dir: &Path) -> Option<u64> {
    parse_oom_kills(&std::fs::read_to_string(dir.join("memory.events")).ok()?)
}

fn parse_oom_kills(events: &str) -> Option<u64> {
    events.lines().find_map(|l| l.strip_prefix("oom_kill ")).and_then(|v| v.trim().parse().ok())
}

/// Creates `dir` if missing (its parent must exist), and passes down to its
/// children every controller it has, so that usage and limits are there to
/// read where the host delegated them. Controllers are a best effort: a
/// host that gives none still gets placement and stopping by cgroup.
pub fn make(dir: &Path) -> std::io::Result<()> {
    match std::fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(e),
    }
    Ok(())
}

/// Enables in `dir`'s children every controller `dir` has (best effort).
pub fn delegate_controllers(dir: &Path) {
    let Ok(available) = std::fs::read_to_string(dir.join("cgroup.controllers")) else { return };
    for c in available.split_whitespace() {
        let _ = std::fs::write(dir.join("cgroup.subtree_control"), format!("+{c}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn populated_is_read_from_its_own_line() {
        assert!(parse_populated("populated 1\nfrozen 0\n"));
        assert!(!parse_populated("populated 0\nfrozen 1\n"));
        assert!(!parse_populated(""));
    }

    #[test]
    fn oom_kills_are_read_from_their_own_line() {
        let events = "low 0\nhigh 0\nmax 4\noom 2\noom_kill 2\noom_group_kill 0\n";
        assert_eq!(parse_oom_kills(events), Some(2));
        assert_eq!(parse_oom_kills("low 0\n"), None);
    }

    #[test]
    fn a_missing_cgroup_is_empty() {
        let gone = Path::new("/nonexistent/cgroup");
        assert!(!populated(gone));
        assert!(procs(gone).is_empty());
        assert_eq!(read_usage(gone), None);
        assert_eq!(oom_kills(gone), None);
    }
}
