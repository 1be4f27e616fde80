//! The one reaper: every child and every adopted orphan is collected here
//! (STYLE.md trap 4), in one of two ways.
//!
//! - **By pidfd**, the processes the daemon starts for entries and its
//!   probes' checks: `clone3` with `CLONE_PIDFD` gives a pidfd of each,
//!   the pidfds are in one epoll set that the run loop polls
//!   ([`ChildExits`]), and each child is collected by `waitid(P_PIDFD)`,
//!   which looks at that one process.
//! - **By `waitpid(-1, WNOHANG)`** ([`reap_all`], "the walk"), the rest:
//!   orphans re-parented to the daemon as subreaper, a `reexec`'s check,
//!   and starts made while pidfds would take more than their share of the
//!   descriptor limit ([`ChildExits::room`]).
//!
//! Why two: `waitpid(-1)` makes the kernel walk every child of the daemon
//! (`wait_consider_task` per child, on every call, and a SIGCHLD took two
//! calls), so with 10,000 entries it was two thirds of a respawn's CPU
//! (issue 22). Every child still sends SIGCHLD (an `execve` sets the exit
//! signal back to SIGCHLD whatever `clone3` was given), but the signal
//! handler passes on who sent it (`signals::ChildSignals`): a SIGCHLD from
//! a child just collected by pidfd needs no walk. One from anyone else
//! (or with the sender lost) walks at once. The kernel merges a SIGCHLD
//! sent while another is pending, so an orphan's end may hide behind an
//! explained one: after explained SIGCHLDs, one walk follows within
//! [`WALK_AFTER`] (one per period, however many came). An entry's end thus
//! costs the same with ten entries or ten thousand; an orphan's is
//! collected at once, or at worst that much later.

pub use crate::liveness::{group_alive, pid_alive};
use isinit_shared::protocol::ExitStatus;
use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid, waitpid};
use nix::unistd::Pid;
use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use tokio::io::unix::AsyncFd;

/// The walk: collects every child that has ended and is not a "clone"
/// child (none of the daemon's are), without blocking.
pub fn reap_all() -> Vec<(i32, ExitStatus)> {
    let mut reaped = Vec::new();
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(status) => match exit_of(status) {
                Some(exit) => reaped.push(exit),
                None if status == WaitStatus::StillAlive => break,
                None => continue,
            },
            Err(Errno::ECHILD) => break,
            Err(Errno::EINTR) => continue,
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

/// The daemon's children, from `/proc/self/task/*/children` (after an
/// `execve` they are all the one thread's).
pub fn own_children() -> Vec<i32> {
    let Ok(tasks) = procfs::process::Process::myself().and_then(|me| me.tasks()) else { return Vec::new() };
    let children = tasks.flatten().filter_map(|task| task.children().ok()).flatten();
    children.filter_map(|pid| i32::try_from(pid).ok()).collect()
}

/// The pid and status of a child's end; `None` for anything else.
fn exit_of(status: WaitStatus) -> Option<(i32, ExitStatus)> {
    match status {
        WaitStatus::Exited(pid, code) => Some((pid.as_raw(), ExitStatus::Code(code))),
        WaitStatus::Signaled(pid, sig, _) => Some((pid.as_raw(), ExitStatus::Signal(sig as i32))),
        _ => None,
    }
}

/// An epoll set, for tokio to wait on.
struct EpollSet(Epoll);

impl AsRawFd for EpollSet {
    fn as_raw_fd(&self) -> RawFd {
        self.0.0.as_raw_fd()
    }
}

/// How long SIGCHLDs that pidfds explained may leave the walk undone.
pub const WALK_AFTER: std::time::Duration = std::time::Duration::from_secs(10);

/// Most pids of collected children kept until their SIGCHLD is read.
const COLLECTED_KEPT: usize = 4096;

/// Descriptors kept free of pidfds besides the starts in flight (a
/// quarter of the limit, `spawn::spawners`): the daemon's own files, its
/// clients and held sockets.
const RESERVED_DESCRIPTORS: u64 = 256;

/// The most descriptors kept below the pidfds ([`ChildExits::floor`]).
const FLOOR_MAX: u64 = 4096;

/// The children collected by pidfd: one descriptor each, in one epoll set
/// that the run loop waits on (it is itself readable when one of them is).
#[derive(Default)]
pub struct ChildExits {
    /// `None` until [`start`](Self::start), or where epoll is refused:
    /// then every child is collected by the walk, as before.
    epoll: Option<AsyncFd<EpollSet>>,
    pidfds: HashMap<i32, OwnedFd>,
    /// Most pidfds held at once: three quarters of the descriptor limit
    /// less [`RESERVED_DESCRIPTORS`] (14,744 of 20,000, 512 of 1,024, none
    /// below about 350).
    budget: usize,
    /// Pidfds are numbered from here up: a start copies only the
    /// descriptors below what it passes on (`cgroup::clone`), so the
    /// pidfds of ten thousand children cost it nothing. At most
    /// [`FLOOR_MAX`]: the kernel sizes the table to the highest number.
    floor: RawFd,
    /// Children collected through their pidfds whose SIGCHLD has not been
    /// read yet ([`explains`](Self::explains)).
    collected: std::collections::HashSet<i32>,
    /// An entry's process was started without a pidfd (the budget was
    /// spent): its end must not wait for a put-off walk, so from then on
    /// every SIGCHLD walks.
    spent: bool,
}

impl ChildExits {
    /// Makes the epoll set and works out the budget. Needs the tokio
    /// runtime.
    pub fn start(&mut self) {
        let limit = crate::host_limits::nofile().map_or(1024, |(soft, _)| soft);
        let budget = (limit / 4 * 3).saturating_sub(RESERVED_DESCRIPTORS);
        self.budget = usize::try_from(budget).unwrap_or(usize::MAX);
        self.floor = RawFd::try_from((limit - budget).min(FLOOR_MAX)).unwrap_or(RawFd::MAX);
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).map_err(std::io::Error::from).and_then(|epoll| {
            // SAFETY: the AsyncFd owns the epoll set until it is dropped.
            unsafe { AsyncFd::register_with_interest(EpollSet(epoll), tokio::io::Interest::READABLE) }
                .map_err(std::io::Error::from)
        });
        match epoll {
            Ok(epoll) => self.epoll = Some(epoll),
            Err(e) => {
                tracing::warn!("cannot make an epoll set for pidfds ({e}): children are collected by walking them")
            }
        }
    }

    /// How many more children may be started with a pidfd.
    pub fn room(&self) -> usize {
        match self.epoll {
            Some(_) => self.budget.saturating_sub(self.pidfds.len()),
            None => 0,
        }
    }

    /// A child just started: its end is learnt from its `pidfd`, or —
    /// started without one — from a walk after every SIGCHLD.
    pub fn started(&mut self, pid: i32, pidfd: Option<OwnedFd>) {
        match pidfd {
            Some(pidfd) => self.watch(pid, pidfd),
            None => self.started_without(),
        }
    }

    /// A process was started without a pidfd: from now on every SIGCHLD
    /// walks, so that its end never waits for a put-off walk.
    fn started_without(&mut self) {
        if !self.spent {
            tracing::info!(
                "starting processes without a pidfd ({} held, the most this descriptor limit allows): \
                 from now on every SIGCHLD walks the children",
                self.pidfds.len()
            );
        }
        self.spent = true;
    }

    /// Collects `pid` when its `pidfd` turns readable.
    fn watch(&mut self, pid: i32, pidfd: OwnedFd) {
        // SAFETY: F_DUPFD_CLOEXEC returns a new descriptor that we own.
        let parked = unsafe { libc::fcntl(pidfd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, self.floor) };
        // SAFETY: a fresh descriptor; on failure the pidfd stays low.
        let pidfd = if parked >= 0 { unsafe { OwnedFd::from_raw_fd(parked) } } else { pidfd };
        let added = match &self.epoll {
            Some(epoll) => epoll.get_ref().0.add(pidfd.as_fd(), EpollEvent::new(EpollFlags::EPOLLIN, pid as u64)),
            None => Err(Errno::EBADF),
        };
        if let Err(e) = added {
            // Short of kernel memory only. The walk collects it (its
            // SIGCHLD is not explained), and from now on every child.
            tracing::error!("cannot watch pid {pid}'s pidfd ({e}): children are collected by walking them");
            self.budget = 0;
            self.started_without();
            return;
        }
        // Replaces (closes) a pidfd of an earlier process of that pid that
        // was collected by the walk: a pidfd names one process.
        self.pidfds.insert(pid, pidfd);
    }

    /// After a `reexec`: watches the daemon's children that the old image
    /// started (they may have no exit signal), by pidfds opened anew.
    pub fn watch_children(&mut self, pids: impl IntoIterator<Item = i32>) {
        for pid in pids {
            match u32::try_from(pid).map_err(std::io::Error::other).and_then(isinit_client::pidwait::pidfd) {
                Ok(fd) => self.watch(pid, fd),
                // Gone and collected already, or not ours.
                Err(e) => tracing::debug!("no pidfd for pid {pid}: {e}"),
            }
        }
    }

    /// Waits until a watched child may have ended; never without epoll.
    pub async fn ended(&self) {
        let Some(epoll) = &self.epoll else { return std::future::pending().await };
        match epoll.readable().await {
            // Cleared before [`collect`](Self::collect) reads the set: an
            // end after that read makes it readable again.
            Ok(mut ready) => ready.clear_ready(),
            Err(e) => {
                tracing::error!("waiting on the pidfds failed ({e}): children are collected after SIGCHLD");
                std::future::pending().await
            }
        }
    }

    /// Whether every SIGCHLD of `senders` came from a child already
    /// collected through its pidfd, so that no walk is needed for them.
    pub fn explains(&mut self, senders: &super::signals::Senders) -> bool {
        let mut all = !senders.lost && !self.spent;
        for pid in &senders.pids {
            all &= self.collected.remove(pid);
        }
        all
    }

    /// Collects every watched child that has ended, without blocking.
    pub fn collect(&mut self) -> Vec<(i32, ExitStatus)> {
        let mut reaped = Vec::new();
        if self.epoll.is_none() {
            return reaped;
        }
        let mut events = [EpollEvent::empty(); 256];
        // Every round takes the ready ones out of the set, so a full round
        // means more may be ready; the bound stops a set that keeps
        // answering with the same ones (it should not) from spinning.
        for _ in 0..self.pidfds.len() / events.len() + 2 {
            let Some(epoll) = &self.epoll else { break };
            let n = match epoll.get_ref().0.wait(&mut events, EpollTimeout::ZERO) {
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                Err(e) => {
                    tracing::warn!("epoll_wait on the pidfds failed: {e}");
                    break;
                }
            };
            for event in &events[..n] {
                self.collect_one(event.data() as i32, &mut reaped);
            }
            if n < events.len() {
                break;
            }
        }
        reaped
    }

    /// Collects `pid` if it has ended, and then forgets its pidfd.
    fn collect_one(&mut self, pid: i32, reaped: &mut Vec<(i32, ExitStatus)>) {
        let Some(pidfd) = self.pidfds.get(&pid) else { return };
        let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::__WALL;
        let status = loop {
            match waitid(Id::PIDFd(pidfd.as_fd()), flags) {
                Err(Errno::EINTR) => continue,
                other => break other,
            }
        };
        match status {
            Ok(WaitStatus::StillAlive) => return,
            Ok(status) => {
                if self.collected.len() >= COLLECTED_KEPT {
                    // SIGCHLDs merged away; their absence costs a walk.
                    self.collected.clear();
                }
                self.collected.insert(pid);
                reaped.extend(exit_of(status));
            }
            // Collected by the walk already (a child of the old image
            // whose SIGCHLD came first), or not our child.
            Err(Errno::ECHILD) => {}
            Err(e) => tracing::warn!("waitid on pid {pid}'s pidfd failed: {e}"),
        }
        // Out of the set explicitly: a copy of the descriptor in a child
        // between its clone and its exec would keep it there.
        if let (Some(epoll), Some(pidfd)) = (&self.epoll, self.pidfds.remove(&pid)) {
            let _ = epoll.get_ref().0.delete(pidfd.as_fd());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use isinit_core::SpawnRequest;
    use std::time::Duration;

    /// Starts `command` as entry `g`/`t` with a pidfd.
    fn spawn(command: &str, logdir: &std::path::Path) -> Result<super::super::spawn::Started, String> {
        let req = SpawnRequest {
            group: "g".into(),
            tag: "t".into(),
            level: "run".into(),
            command: command.into(),
            mark: String::new(),
            notify: false,
            watchdog_usec: None,
        };
        super::super::spawn::spawn(&req, logdir, &logdir.join("sock"), None, &[], true)
    }

    fn start(command: &str, logdir: &std::path::Path) -> super::super::spawn::Started {
        spawn(command, logdir).expect("spawn")
    }

    /// Waits (10 s at most) until `exits` collects something.
    async fn collected(exits: &mut ChildExits) -> Vec<(i32, ExitStatus)> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            tokio::time::timeout_at(deadline, exits.ended()).await.expect("no pidfd turned readable");
            let collected = exits.collect();
            if !collected.is_empty() {
                return collected;
            }
        }
    }

    /// A child started with a pidfd is collected through it, with its
    /// status; its SIGCHLD is then explained (no walk needed), once, and
    /// a SIGCHLD from anyone else, or with its senders lost, is not.
    #[tokio::test]
    async fn a_child_with_a_pidfd_is_collected_through_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut exits = ChildExits::default();
        exits.start();
        assert!(exits.room() > 0, "a descriptor limit above 256 leaves room for pidfds");
        let started = start("exit 7", dir.path());
        let pid = started.pid;
        exits.watch(pid, started.pidfd.expect("a pidfd was asked for"));
        assert_eq!(collected(&mut exits).await, vec![(pid, ExitStatus::Code(7))]);
        assert!(exits.pidfds.is_empty(), "its pidfd is closed once collected");

        let started = start("exec sleep 30", dir.path());
        exits.watch(started.pid, started.pidfd.unwrap());
        nix::sys::signal::kill(Pid::from_raw(started.pid), nix::sys::signal::Signal::SIGKILL).unwrap();
        assert_eq!(collected(&mut exits).await, vec![(started.pid, ExitStatus::Signal(libc::SIGKILL))]);

        use super::super::signals::Senders;
        let from = |pids: Vec<i32>| Senders { pids, lost: false };
        assert!(!exits.explains(&from(vec![pid, 1])), "pid 1 was not collected here");
        assert!(exits.explains(&from(vec![started.pid])));
        assert!(!exits.explains(&from(vec![started.pid])), "a child's SIGCHLD is explained once");
        assert!(!exits.explains(&Senders { pids: Vec::new(), lost: true }));
    }

    /// More children end at once than one `epoll_wait` returns: every one
    /// is collected, in rounds that end (the pidfds stay readable until
    /// collected, so reading them all before collecting any never ended).
    #[tokio::test]
    async fn three_hundred_ends_at_once_are_all_collected() {
        let dir = tempfile::tempdir().unwrap();
        let mut exits = ChildExits::default();
        exits.start();
        let mut pids = Vec::new();
        for _ in 0..300 {
            let started = start("exit 3", dir.path());
            pids.push(started.pid);
            exits.watch(started.pid, started.pidfd.unwrap());
        }
        // All ended (zombies, not yet collected) before the first look.
        for pid in &pids {
            let path = format!("/proc/{pid}/stat");
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while !std::fs::read_to_string(&path).is_ok_and(|s| s.contains(") Z ")) {
                assert!(std::time::Instant::now() < deadline, "pid {pid} did not end");
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let mut collected = exits.collect();
        collected.sort_unstable_by_key(|(pid, _)| *pid);
        pids.sort_unstable();
        assert_eq!(collected, pids.iter().map(|p| (*p, ExitStatus::Code(3))).collect::<Vec<_>>());
        assert!(exits.pidfds.is_empty());
    }

    /// A command that cannot be executed is said so when a pidfd is asked
    /// for too (the clone path, not posix_spawn, reports it).
    #[test]
    fn a_command_that_cannot_run_is_said_with_a_pidfd_too() {
        let dir = tempfile::tempdir().unwrap();
        let spawned = spawn("/nonexistent/isinit-test-command", dir.path());
        assert_eq!(spawned.err().as_deref(), Some("/nonexistent/isinit-test-command: not found"));
    }
}
