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
    // Every read below goes through one open directory of the process, so
    // a pid freed and taken again meanwhile fails them instead of mixing
    // two processes; the start time is compared once more at the end all
    // the same.
    let process = procfs::process::Process::new(pid).ok()?;
    let stat = process.stat().ok()?;
    // Unreadable (a daemon not running as root, a child that changed
    // user): no marks, but a cgroup member all the same.
    let environ = environ_bytes(&process).unwrap_or_default();
    let status = process.status().ok()?;
    let uids = (status.ruid, status.euid);
    (process.stat().ok()?.starttime == stat.starttime).then_some(Seen {
        pgid: stat.pgrp,
        start_ticks: stat.starttime,
        uids,
        environ,
    })
}

/// A process's environment as `/proc/PID/environ` has it: `NAME=VALUE`
/// entries, each ended by a NUL — what the marks are matched against.
fn environ_bytes(process: &procfs::process::Process) -> Option<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    let mut bytes = Vec::new();
    for (name, value) in process.environ().ok()? {
        bytes.extend_from_slice(name.as_bytes());
        bytes.push(b'=');
        bytes.extend_from_slice(value.as_bytes());
        bytes.push(0);
    }
    Some(bytes)
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
    let Ok(all) = procfs::process::all_processes() else { return Vec::new() };
    all.filter_map(|p| p.ok())
        .filter(|p| p.pid != own)
        .filter_map(|process| {
            let pid = process.pid;
            // Most processes are no child of a daemon: the environment
            // alone tells, before the rest is read.
            let environ = environ_bytes(&process)?;
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
    Some(procfs::process::Process::new(pid).ok()?.stat().ok()?.starttime)
}

/// Wall-clock milliseconds of a start time in clock ticks since boot.
fn started_ms(ticks: u64) -> Option<u64> {
    let btime = procfs::boot_time_secs().ok()?;
    let hz = procfs::ticks_per_second();
    if hz == 0 {
        return None;
    }
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
    fn only_a_process_with_both_uids_the_daemons_is_ours() {
        // A set-user-ID program another user started is not the daemon's.
        assert!(!runs_as((65534, 0), 0));
        assert!(!runs_as((0, 65534), 0));
        assert!(runs_as((0, 0), 0));
    }

    #[test]
    fn the_environment_reads_as_nul_ended_entries() {
        let me = procfs::process::Process::myself().expect("this process");
        let bytes = environ_bytes(&me).expect("readable");
        assert!(bytes.ends_with(&[0]));
        assert!(bytes.split(|b| *b == 0).any(|v| v.starts_with(b"PATH=")), "PATH is in the test's environment");
    }

    #[test]
    fn a_live_process_is_seen_with_its_own_start_time_and_uid() {
        let pid = std::process::id() as i32;
        let seen = see(pid).expect("this process");
        assert_eq!(Some(seen.start_ticks), start_ticks(pid));
        assert_eq!(seen.uids, (nix::unistd::getuid().as_raw(), children_uid()));
    }
}
