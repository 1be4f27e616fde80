//! The decisions without a daemon: what runs of the group decides.

use super::super::alone::{self, Member, Running, Step};
use super::super::exit::OcfCode;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn member(pid: i32, tag: &str) -> Member {
    Member { pid, pgid: pid, tag: tag.to_string(), cgroup: None }
}

const SOCKET: &str = "/run/is/init.s";

#[test]
fn monitor_says_not_running_only_when_nothing_of_the_group_runs() {
    let none = alone::monitor(&Running::default(), "web", Path::new(SOCKET));
    assert_eq!(none.code, OcfCode::NotRunning);
    let found = Running { members: vec![member(41, "srv"), member(42, "cache")], cgroups: Vec::new() };
    let out = alone::monitor(&found, "web", Path::new(SOCKET));
    assert_eq!(out.code, OcfCode::ErrGeneric, "a daemon that is gone is not proof that nothing runs");
    let why = out.reason.expect("a reason");
    assert!(why.contains("srv (pid 41), cache (pid 42)") && why.contains("/run/is/init.s"), "{why}");
}

#[test]
fn a_populated_cgroup_alone_is_running() {
    let found = Running { members: Vec::new(), cgroups: vec![PathBuf::from("/sys/fs/cgroup/isinit-x/web/srv")] };
    let out = alone::monitor(&found, "web", Path::new(SOCKET));
    assert_eq!(out.code, OcfCode::ErrGeneric);
    assert!(out.reason.expect("reason").contains("cgroup /sys/fs/cgroup/isinit-x/web/srv"));
}

#[test]
fn many_processes_are_summed_up() {
    let found = Running { members: (1..=8).map(|p| member(p, "w")).collect(), cgroups: Vec::new() };
    assert!(found.describe().ends_with("w (pid 5), 3 more"), "{}", found.describe());
}

#[test]
fn stop_succeeds_only_when_nothing_is_left() {
    assert_eq!(alone::stopped(&Running::default(), "web", 2).code, OcfCode::Success);
    let left = Running { members: vec![member(7, "srv")], cgroups: Vec::new() };
    let out = alone::stopped(&left, "web", 2);
    assert_eq!(out.code, OcfCode::ErrGeneric);
    assert!(out.reason.expect("reason").contains("srv (pid 7) still run"));
}

#[test]
fn the_daemons_delays_when_the_operation_has_time_for_them() {
    let s = alone::schedule(Duration::from_secs(5), Duration::from_secs(10), Duration::from_secs(58));
    assert_eq!(
        s,
        [
            (Step::Interrupt, Duration::ZERO),
            (Step::Terminate, Duration::from_secs(5)),
            (Step::Kill, Duration::from_secs(15))
        ]
    );
}

#[test]
fn the_delays_shrink_into_a_short_operation() {
    let budget = Duration::from_secs(18);
    let s = alone::schedule(Duration::from_secs(5), Duration::from_secs(10), budget);
    assert_eq!(s[1], (Step::Terminate, Duration::from_secs(5)));
    assert_eq!(s[2], (Step::Kill, Duration::from_secs(9)), "SIGKILL by half the budget, to see them gone");
    let tiny = alone::schedule(Duration::from_secs(5), Duration::from_secs(10), Duration::from_millis(300));
    assert!(tiny[1].1 <= tiny[2].1 && tiny[2].1 <= Duration::from_millis(150), "{tiny:?}");
    let none = alone::schedule(Duration::from_secs(5), Duration::from_secs(10), Duration::ZERO);
    assert!(none.iter().all(|(_, at)| at.is_zero()));
}
