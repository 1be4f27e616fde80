//! Helpers of the cgroup tests (SPEC §14): a daemon tracking by cgroup,
//! or a printed reason to skip, and the members of a cgroup.

use crate::TestDaemon;
use std::path::{Path, PathBuf};

/// A daemon for `tab` tracking by cgroup with its ROOT, or `None` (skip)
/// with the reason printed.
pub fn daemon(tab: &str) -> Option<(TestDaemon, PathBuf)> {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: cgroup tests need root");
        return None;
    }
    let d = TestDaemon::builder(tab).kill_after(2.0).start();
    match d.cgroup_root() {
        Some(root) => Some((d, root)),
        None => {
            let why = d.daemon_stderr().lines().find(|l| l.contains("process tracking")).unwrap_or("").to_string();
            eprintln!("skipped: no writable cgroup2 here: {why}");
            None
        }
    }
}

/// The pids in `dir`'s `cgroup.procs` (none if it is gone).
pub fn procs(dir: &Path) -> Vec<i32> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}
