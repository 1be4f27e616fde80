//! The host limits a daemon of thousands of entries meets first, named
//! where they are met (issue 22): descriptors, processes, inotify watches.
//!
//! Supervising an entry holds no descriptor of the daemon's (children
//! write into their own output files; reaping is `waitpid`): what takes
//! descriptors is client connections and each spawn in flight (its output
//! file, and in a cgroup its directory). So `RLIMIT_NOFILE` is raised at
//! start from its soft to its hard limit — a daemon a thousand consoles
//! and scripts talk to needs more than the customary 1,024 — and a start
//! that fails because a limit ran out says which one, in the log and as a
//! notice in `status`, and is retried like any failed start (a respawn
//! entry after its backoff): never a silent stall.

/// One malloc arena (glibc makes up to eight per core, one per thread
/// that allocates while another holds the first). The daemon's spawner
/// threads (`runtime::spawn::SPAWNERS`) each allocate a little per start
/// and spend the rest of it waiting for their child's `execve`, so they
/// hardly contend for the lock; arenas of their own kept about 0.5–1 MB
/// of the daemon's 11 MB at 950 entries for nothing (issue 22:
/// supervision-tree memory against runit's and s6's). Called at start,
/// before those threads exist.
pub fn limit_malloc_arenas() {
    // SAFETY: mallopt only sets an allocator parameter; M_ARENA_MAX is
    // valid in every glibc since 2.10, and a refusal (0) changes nothing.
    if unsafe { libc::mallopt(libc::M_ARENA_MAX, 1) } == 0 {
        tracing::debug!("malloc: cannot limit arenas");
    }
}

/// A host limit that ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Exhausted {
    /// `EMFILE` / `ENFILE`: the daemon's `RLIMIT_NOFILE`, or the host's
    /// `fs.file-max`.
    Descriptors,
    /// `EAGAIN` from a spawn: `kernel.pid_max`, `kernel.threads-max`, the
    /// user's `RLIMIT_NPROC` or a cgroup's `pids.max`.
    Processes,
    /// `ENOSPC` from an entry cgroup's watch: `fs.inotify.max_user_watches`.
    Watches,
}

impl Exhausted {
    /// The limit that ran out if `reason` (a start's error, as the spawn
    /// and cgroup code word it: an `std::io::Error` shown with its OS
    /// error number) says one did.
    pub fn of_start_error(reason: &str) -> Option<Exhausted> {
        let os = |n: i32| reason.contains(&format!("(os error {n})"));
        if os(libc::EMFILE) || os(libc::ENFILE) {
            Some(Exhausted::Descriptors)
        } else if os(libc::EAGAIN) && !reason.starts_with("cannot open") {
            Some(Exhausted::Processes)
        } else if os(libc::ENOSPC) && reason.starts_with("cannot open cgroup") {
            Some(Exhausted::Watches)
        } else {
            None
        }
    }

    /// What the operator reads: which limit, its value here, what to raise.
    pub fn explain(self) -> String {
        match self {
            Exhausted::Descriptors => format!(
                "out of file descriptors (the daemon's RLIMIT_NOFILE is {}, fs.file-max {}): \
                 raise LimitNOFILE= in the unit or `ulimit -Hn` before starting the daemon",
                nofile().map_or("unknown".into(), |(soft, _)| soft.to_string()),
                sysctl("fs/file-max"),
            ),
            Exhausted::Processes => format!(
                "out of processes (kernel.pid_max {}, kernel.threads-max {}, or RLIMIT_NPROC / a cgroup's pids.max): \
                 raise the one that is reached",
                sysctl("kernel/pid_max"),
                sysctl("kernel/threads-max"),
            ),
            Exhausted::Watches => format!(
                "out of inotify watches (fs.inotify.max_user_watches {}): raise it with sysctl",
                sysctl("fs/inotify/max_user_watches"),
            ),
        }
    }
}

/// A value under /proc/sys, as text ("unknown" if unreadable).
fn sysctl(name: &str) -> String {
    std::fs::read_to_string(format!("/proc/sys/{name}"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// The soft and hard `RLIMIT_NOFILE`.
pub fn nofile() -> Option<(u64, u64)> {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes only into the struct we own.
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0).then_some((lim.rlim_cur, lim.rlim_max))
}

/// Raises the soft `RLIMIT_NOFILE` to the hard one (bounded by
/// `fs.nr_open` where the hard limit is infinite, which the kernel would
/// refuse) and says so; a failure is said and changes nothing. Returns
/// the soft limit in force afterwards. Children inherit it: a program
/// that closes every descriptor up to its limit one by one starts slower
/// under a high one (glibc and Rust use `close_range`).
pub fn raise_nofile() -> Option<u64> {
    let (soft, hard) = nofile()?;
    let nr_open = sysctl("fs/nr_open").parse::<u64>().unwrap_or(1 << 20);
    let target = if hard == libc::RLIM_INFINITY { nr_open } else { hard };
    if soft >= target {
        return Some(soft);
    }
    let lim = libc::rlimit { rlim_cur: target, rlim_max: hard };
    // SAFETY: setrlimit reads only the struct we own.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
        let e = std::io::Error::last_os_error();
        tracing::warn!("cannot raise RLIMIT_NOFILE from {soft} to {target}: {e}; staying at {soft}");
        return Some(soft);
    }
    tracing::info!("RLIMIT_NOFILE raised from {soft} to {target} (the hard limit)");
    Some(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_errors_name_the_limit_that_ran_out() {
        let io = |n: i32| std::io::Error::from_raw_os_error(n);
        let emfile = format!("cannot open /var/log/isinit/w1.log: {}", io(libc::EMFILE));
        assert_eq!(Exhausted::of_start_error(&emfile), Some(Exhausted::Descriptors));
        let eagain = format!("cannot execute sleep: {}", io(libc::EAGAIN));
        assert_eq!(Exhausted::of_start_error(&eagain), Some(Exhausted::Processes));
        let enospc = format!("cannot open cgroup /sys/fs/cgroup/x/g/t: {}", io(libc::ENOSPC));
        assert_eq!(Exhausted::of_start_error(&enospc), Some(Exhausted::Watches));
        // A full disk is not a watch limit; a missing command is no limit.
        let disk = format!("cannot open /var/log/isinit/w1.log: {}", io(libc::ENOSPC));
        assert_eq!(Exhausted::of_start_error(&disk), None);
        assert_eq!(Exhausted::of_start_error("nosuch: not found"), None);
        assert!(Exhausted::Descriptors.explain().contains("RLIMIT_NOFILE is "));
    }
}
