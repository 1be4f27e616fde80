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
    /// When it started in clock ticks since boot, exactly as field 22 of
    /// `/proc/PID/stat` gives it: with the pid, the name of one process
    /// for as long as the machine runs, to compare with the state file's.
    pub start_ticks: u64,
    /// Whether it runs as the user the daemon runs its children as (real
    /// and effective uid). Always so for one found by its environment
    /// (another user's is never one, see [`find`]); one found in an entry
    /// cgroup may have changed user, and is then stopped but not adopted.
    pub own_uid: bool,
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
            start_ticks: self.start_ticks,
            own_uid: self.own_uid,
            cgroup: self.cgroup.clone(),
        }
    }
}

/// What `/proc` shows of one process, read as one: the start time is read
/// before and after the rest, so everything belongs to the same process
/// even if the pid was freed and taken again meanwhile.
struct Seen {
    pgid: i32,
    start_ticks: u64,
    /// Its real and effective uid.
    uids: (u32, u32),
    environ: Vec<u8>,
}

fn see(pid: i32) -> Option<Seen> {
    let (pgid, start_ticks) = stat_of(pid)?;
    // Unreadable (a daemon not running as root, a child that changed
    // user): no marks, but a cgroup member all the same.
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    let uids = uids_of(pid)?;
    (stat_of(pid)?.1 == start_ticks).then_some(Seen { pgid, start_ticks, uids, environ })
}

/// The uid the daemon runs its children as: its own effective uid (an
/// entry has no user of its own; `spawn` starts every child with the
/// daemon's credentials).
pub fn children_uid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// Whether real and effective uid are both `uid`: a child of ours has
/// both; a set-user-ID program another user started has only one.
fn runs_as(uids: (u32, u32), uid: u32) -> bool {
    uids == (uid, uid)
}

/// Every process whose environment marks it as started for `socket` and
/// that runs as the daemon's children do. The marks are no proof: anyone
/// who can read the isinittab can compute them and start a process that
/// carries them. Another user's process that does is logged and left
/// alone, neither adopted nor stopped: the daemon never signals a process
/// it cannot have started (SPEC §15).
pub fn find(socket: &Path) -> Vec<Leftover> {
    let mut marker = format!("{ENV_SOCKET}=").into_bytes();
    marker.extend_from_slice(socket.as_os_str().as_encoded_bytes());
    let own = std::process::id() as i32;
    let uid = children_uid();
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| *pid != own)
        .filter_map(|pid| {
            // Most processes are no child of a daemon: the environment
            // alone tells, before the rest is read.
            let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
            if !environ.split(|b| *b == 0).any(|v| v == marker.as_slice()) {
                return None;
            }
            let seen = see(pid)?;
            let vars: Vec<&[u8]> = seen.environ.split(|b| *b == 0).collect();
            if !vars.contains(&marker.as_slice()) {
                return None;
            }
            // Both marks: an operator's shell with ISINIT_SOCKET exported
            // (to talk to the daemon) has no ISINIT_TAG and is left alone.
            let tag = vars.iter().find_map(|v| v.strip_prefix(b"ISINIT_TAG="))?;
            let tag = String::from_utf8_lossy(tag).into_owned();
            if !runs_as(seen.uids, uid) {
                tracing::warn!(
                    "pid {pid} carries the marks of {tag} on {} but runs as uid {} (the daemon's children run as \
                     uid {uid}): not ours, neither adopted nor stopped",
                    socket.display(),
                    seen.uids.0
                );
                return None;
            }
            Some(Leftover {
                pid,
                pgid: seen.pgid,
                tag,
                mark: mark_of(&vars),
                started_at_ms: started_ms(seen.start_ticks).unwrap_or_else(isinit_shared::time::now_ms),
                start_ticks: seen.start_ticks,
                own_uid: true,
                cgroup: None,
            })
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
/// leave its cgroup, and only the daemon (or root) puts one in. One found
/// both ways keeps its cgroup. One of another user (a child that changed
/// user) is stopped with its cgroup like the rest, never adopted.
pub fn merge_cgroup_members(mut by_env: Vec<Leftover>, found: Vec<crate::cgroup::Found>) -> Vec<Leftover> {
    let uid = children_uid();
    for f in found {
        if let Some(l) = by_env.iter_mut().find(|l| l.pid == f.pid) {
            l.cgroup = Some(f.dir);
            continue;
        }
        let Some(seen) = see(f.pid) else { continue }; // gone meanwhile
        let vars: Vec<&[u8]> = seen.environ.split(|b| *b == 0).collect();
        by_env.push(Leftover {
            pid: f.pid,
            pgid: seen.pgid,
            tag: f.tag,
            mark: mark_of(&vars),
            started_at_ms: started_ms(seen.start_ticks).unwrap_or_else(isinit_shared::time::now_ms),
            start_ticks: seen.start_ticks,
            own_uid: runs_as(seen.uids, uid),
            cgroup: Some(f.dir),
        });
    }
    by_env
}

/// The start time of `pid` in clock ticks since boot, exactly as field 22
/// of `/proc/PID/stat` gives it: what the state file records of a child
/// the daemon started. Read while the child is not yet reaped, it is that
/// child's (a pid is not given again before its zombie is reaped).
pub fn start_ticks(pid: i32) -> Option<u64> {
    stat_of(pid).map(|(_, ticks)| ticks)
}

/// Fields 5 (process group) and 22 (start time, in clock ticks since
/// boot) of `/proc/PID/stat`, read after the parenthesised command name
/// (which may itself contain spaces and parentheses).
fn stat_of(pid: i32) -> Option<(i32, u64)> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

fn parse_stat(stat: &str) -> Option<(i32, u64)> {
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    let pgid = fields.get(2)?.parse().ok()?;
    let ticks: u64 = fields.get(19)?.parse().ok()?;
    Some((pgid, ticks))
}

/// The real and effective uid of `pid`, from the `Uid:` line of
/// `/proc/PID/status` (not the owner of `/proc/PID`, which a process can
/// turn into root's by making itself not dumpable).
fn uids_of(pid: i32) -> Option<(u32, u32)> {
    parse_uids(&std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
}

fn parse_uids(status: &str) -> Option<(u32, u32)> {
    let mut ids = status.lines().find_map(|l| l.strip_prefix("Uid:"))?.split_whitespace();
    Some((ids.next()?.parse().ok()?, ids.next()?.parse().ok()?))
}

/// Wall-clock milliseconds of a start time in clock ticks since boot, with
/// the boot time of `/proc/stat`.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_read_after_the_command_name() {
        // A command name with spaces and parentheses of its own.
        let stat = "4242 (a) b (c)) S 1 4240 4240 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654321 1000 200";
        assert_eq!(parse_stat(stat), Some((4240, 987_654_321)));
        assert_eq!(parse_stat("4242 (x) S 1"), None);
        assert_eq!(parse_stat("no parenthesis"), None);
    }

    #[test]
    fn the_uids_are_the_real_and_effective_ones_of_the_uid_line() {
        let status = "Name:\tsleep\nUmask:\t0022\nState:\tS (sleeping)\nUid:\t65534\t0\t0\t0\nGid:\t0\t0\t0\t0\n";
        assert_eq!(parse_uids(status), Some((65534, 0)));
        assert_eq!(parse_uids("Name:\tx\n"), None);
        // A set-user-ID program another user started is not the daemon's.
        assert!(!runs_as((65534, 0), 0));
        assert!(!runs_as((0, 65534), 0));
        assert!(runs_as((0, 0), 0));
    }

    #[test]
    fn a_live_process_is_seen_with_its_own_start_time_and_uid() {
        let pid = std::process::id() as i32;
        let seen = see(pid).expect("this process");
        assert_eq!(Some(seen.start_ticks), start_ticks(pid));
        assert_eq!(seen.uids, (nix::unistd::getuid().as_raw(), children_uid()));
    }
}
