//! Processes a previous daemon on the same socket left running.
//!
//! Children outlive a daemon that is killed (their output goes to files, so
//! nothing ties them to it). A new daemon on the same socket would start
//! their entries again when told, running every service twice. Every child
//! therefore carries `ISINIT_SOCKET=<socket>` in its environment (which
//! also points an `isinit` run from inside it at its own daemon) beside
//! `ISINIT_TAG`; at start, once the socket is ours, the daemon finds
//! processes with both marks and stops them the graceful way (SPEC §5)
//! before it takes any request.

use isinit_core::Timing;
use isinit_shared::settings::ENV_SOCKET;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

/// A process of a previous daemon still running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    /// Its pid.
    pub pid: i32,
    /// Its process group, which is what gets signalled.
    pub pgid: i32,
    /// The entry it was started for (`ISINIT_TAG`), for the log.
    pub tag: String,
    /// Its `ISINIT_ENTRY` mark: which entry it is, to adopt it.
    pub mark: Option<String>,
    /// When it started (wall clock, ms), from `/proc/PID/stat`.
    pub started_at_ms: u64,
    /// The entry cgroup it was found in (SPEC §14), if any: stop signals
    /// then reach everything in it, whatever its process group.
    pub cgroup: Option<std::path::PathBuf>,
}

impl Leftover {
    /// The supervisor's view of it, for adoption.
    pub fn orphan(&self) -> isinit_core::Orphan {
        isinit_core::Orphan {
            pid: self.pid,
            pgid: self.pgid,
            mark: self.mark.clone(),
            started_at_ms: self.started_at_ms,
        }
    }
}

/// Every process whose environment marks it as started for `socket`.
pub fn find(socket: &Path) -> Vec<Leftover> {
    let mut marker = format!("{ENV_SOCKET}=").into_bytes();
    marker.extend_from_slice(socket.as_os_str().as_encoded_bytes());
    let own = std::process::id() as i32;
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| *pid != own)
        .filter_map(|pid| {
            // Unreadable (another user's, or gone): not ours.
            let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
            let vars: Vec<&[u8]> = environ.split(|b| *b == 0).collect();
            if !vars.contains(&marker.as_slice()) {
                return None;
            }
            // Both marks: an operator's shell with ISINIT_SOCKET exported
            // (to talk to the daemon) has no ISINIT_TAG and is left alone.
            let tag = vars.iter().find_map(|v| v.strip_prefix(b"ISINIT_TAG="))?;
            let tag = String::from_utf8_lossy(tag).into_owned();
            let (pgid, started_at_ms) = stat_of(pid)?;
            Some(Leftover { pid, pgid, tag, mark: mark_of(&vars), started_at_ms, cgroup: None })
        })
        .collect()
}

/// The `ISINIT_ENTRY` mark among environment variables.
fn mark_of(vars: &[&[u8]]) -> Option<String> {
    vars.iter().find_map(|v| v.strip_prefix(b"ISINIT_ENTRY=")).map(|m| String::from_utf8_lossy(m).into_owned())
}

/// Adds the processes found in entry cgroups under ROOT (`found`: pid,
/// cgroup, tag) to those found by their environment: membership of a
/// cgroup is the surer sign — a process may clear its environment, never
/// leave its cgroup. One found both ways keeps its cgroup.
pub fn merge_cgroup_members(mut by_env: Vec<Leftover>, found: Vec<crate::cgroup::Found>) -> Vec<Leftover> {
    for f in found {
        if let Some(l) = by_env.iter_mut().find(|l| l.pid == f.pid) {
            l.cgroup = Some(f.dir);
            continue;
        }
        let environ = std::fs::read(format!("/proc/{}/environ", f.pid)).unwrap_or_default();
        let vars: Vec<&[u8]> = environ.split(|b| *b == 0).collect();
        let Some((pgid, started_at_ms)) = stat_of(f.pid) else { continue }; // gone meanwhile
        by_env.push(Leftover {
            pid: f.pid,
            pgid,
            tag: f.tag,
            mark: mark_of(&vars),
            started_at_ms,
            cgroup: Some(f.dir),
        });
    }
    by_env
}

/// Fields 5 (process group) and 22 (start time, in clock ticks since
/// boot) of `/proc/PID/stat`, read after the parenthesised command name
/// (which may itself contain spaces and parentheses); the start time
/// turned into wall-clock milliseconds with the boot time of `/proc/stat`.
fn stat_of(pid: i32) -> Option<(i32, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    let pgid = fields.get(2)?.parse().ok()?;
    let ticks: u64 = fields.get(19)?.parse().ok()?;
    Some((pgid, started_ms(ticks).unwrap_or_else(isinit_shared::time::now_ms)))
}

/// Wall-clock milliseconds of a start time in clock ticks since boot.
fn started_ms(ticks: u64) -> Option<u64> {
    let proc_stat = std::fs::read_to_string("/proc/stat").ok()?;
    let btime: u64 = proc_stat.lines().find_map(|l| l.strip_prefix("btime "))?.trim().parse().ok()?;
    // SAFETY: sysconf takes a constant and returns a number.
    let hz = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).ok().filter(|hz| *hz > 0)?;
    btime.checked_mul(1000)?.checked_add(ticks.checked_mul(1000)? / hz)
}

/// Stops the leftovers' process groups: SIGINT, SIGTERM after
/// `term_after`, SIGKILL after `kill_after`, waiting on pidfds in between.
/// Returns how many were still alive at the end (zero but for processes in
/// uninterruptible sleep).
pub async fn stop(leftovers: &[Leftover], timing: Timing) -> usize {
    // A process in a cgroup is signalled through it only, never twice.
    let pgids: BTreeSet<i32> = leftovers.iter().filter(|l| l.cgroup.is_none()).map(|l| l.pgid).collect();
    let steps = [
        (Signal::SIGINT, timing.term_after),
        (Signal::SIGTERM, timing.kill_after),
        (Signal::SIGKILL, Duration::from_secs(5)),
    ];
    let cgroups: BTreeSet<&Path> = leftovers.iter().filter_map(|l| l.cgroup.as_deref()).collect();
    for (signal, patience) in steps {
        for pgid in &pgids {
            let _ = killpg(Pid::from_raw(*pgid), signal);
        }
        for dir in &cgroups {
            crate::cgroup::signal(dir, signal);
        }
        let all_gone = each(leftovers.iter().map(|l| isinit_client::pidwait::wait_gone(l.pid as u32)));
        if tokio::time::timeout(patience, all_gone).await.is_ok() {
            return 0;
        }
    }
    leftovers.iter().filter(|l| crate::runtime::reap::pid_alive(l.pid)).count()
}

/// Awaits every future, one after the other: they all wait for the same
/// deadline-bounded thing, so the order does not matter.
async fn each(futures: impl Iterator<Item = impl Future<Output = ()>>) {
    for f in futures {
        f.await;
    }
}
