//! SPEC §14: process tracking by cgroup v2 — every entry in its own
//! cgroup `ROOT/GROUP/TAG`, stopped whatever its processes did with their
//! sessions, found again after the daemon was killed, measured by the
//! cgroup; and the fallback to process groups where there is no cgroup2.
//!
//! Root only, and only where a writable cgroup2 exists: otherwise each
//! test prints why it is skipped.

use isinit_e2e::asserts::{assert_alive, wait_gone};
use isinit_e2e::{DEADLINE, TestDaemon, cgroup, procfs, wait_for, wait_until};
use isinit_shared::protocol::{GroupState, ProcessUsage, Request, Response};
use std::path::Path;
use std::time::Duration;

/// The pids in the cgroup of `group`/`tag` under `root`.
fn members(root: &Path, group: &str, tag: &str) -> Vec<i32> {
    cgroup::procs(&root.join(group).join(tag))
}

/// Waits until the cgroup of `tag` holds `n` processes; returns them.
fn wait_members(root: &Path, group: &str, tag: &str, n: usize) -> Vec<i32> {
    wait_for(DEADLINE, &format!("{n} processes in the cgroup of {tag}"), || {
        let pids = members(root, group, tag);
        if pids.len() == n { Ok(pids) } else { Err(format!("{pids:?}")) }
    })
}

/// The session of `pid` (field 6 of `/proc/PID/stat`).
fn session(pid: i32) -> Option<i32> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    text[text.rfind(')')? + 1..].split_whitespace().nth(3)?.parse().ok()
}

#[test]
fn setsid_children_of_once_and_respawn_entries_are_stopped_with_their_group() {
    let tab = "g:o:1:once:setsid sleep 1000 & echo started\ng:r:1:respawn:setsid sleep 1001 & exec sleep 2000\n";
    let Some((d, root)) = cgroup::daemon(tab) else { return };
    d.tell("g", "1");
    d.wait_group("g", "1", GroupState::Done);
    let leader = d.wait_running("r");
    let escaped_once = wait_members(&root, "g", "o", 1);
    let in_r = wait_members(&root, "g", "r", 2);
    assert!(in_r.contains(&leader), "the respawn leader is in its entry's cgroup: {in_r:?}");
    let escaped: Vec<i32> = escaped_once.iter().chain(in_r.iter().filter(|p| **p != leader)).copied().collect();
    // Seen in its cgroup, a child may not have called setsid() yet.
    for pid in &escaped {
        wait_for(DEADLINE, &format!("pid {pid} to leave its process group and session"), || {
            let stat = procfs::stat(*pid).ok_or("the setsid child is gone")?;
            if (stat.pgid, session(*pid)) == (*pid, Some(*pid)) { Ok(()) } else { Err(stat.to_string()) }
        });
    }

    d.tell("g", "0");
    d.wait_group("g", "0", GroupState::Done);
    for pid in escaped.iter().chain([&leader]) {
        wait_gone(*pid, "a process of an entry whose group left its level");
    }
    let survivors: Vec<String> = procfs::all()
        .into_iter()
        .filter(|s| s.state != 'Z' && escaped.contains(&s.pid))
        .map(|s| s.to_string())
        .collect();
    assert!(survivors.is_empty(), "{survivors:?}");
    assert!(members(&root, "g", "o").is_empty() && members(&root, "g", "r").is_empty());
    // Entries removed from the file lose their cgroups; a clean shutdown
    // removes the rest, and ROOT.
    d.write_tab("g:other:1:once:true\n");
    d.ok(&["reload"]);
    wait_until(DEADLINE, "the removed entries' empty cgroups to be removed", || {
        !root.join("g").join("o").exists() && !root.join("g").join("r").exists()
    });
    d.tell("g", "1");
    d.wait_group("g", "1", GroupState::Done);
    d.ok(&["shutdown", "--wait"]);
    assert!(!root.exists(), "ROOT removed at a clean shutdown");
}

#[test]
fn a_double_forked_daemon_is_found_in_its_cgroup_after_kill_9() {
    // fork, setsid, fork: the daemon ends up in a session of its own, in a
    // process group whose leader is gone — nothing a process group or an
    // environment mark could adopt (only leaders are adopted).
    let tab = "g:dd:1:once:setsid sh -c 'sleep 1003 & exit 0'\n";
    let Some((mut d, root)) = cgroup::daemon(tab) else { return };
    d.tell("g", "1");
    d.wait_group("g", "1", GroupState::Done);
    // One member can also be the shell before its fork: wait for the one
    // that leads no process group.
    let daemonized = wait_for(DEADLINE, "the double-forked sleep alone in its cgroup", || {
        let pids = members(&root, "g", "dd");
        match pids[..] {
            [pid] if procfs::stat(pid).is_some_and(|s| s.pgid != pid) => Ok(pid),
            _ => Err(format!("members {pids:?}")),
        }
    });
    let pgid = procfs::stat(daemonized).expect("the daemon runs").pgid;
    assert_ne!(session(daemonized), session(d.pid()), "the daemon left isinit's session");
    wait_gone(pgid, "the session leader between the two forks");

    d.kill_daemon();
    assert_alive(daemonized, "the double-forked daemon outlives a killed isinit");
    d.restart();
    d.wait_group("g", "1", GroupState::Done);
    wait_until(DEADLINE, "the new daemon to keep what the old one left", || {
        d.daemon_stderr().contains(&format!("dd: kept pid {daemonized} left running in"))
    });
    assert_alive(daemonized, "an adopted leftover is not stopped");
    assert_eq!(members(&root, "g", "dd"), vec![daemonized], "the settled once entry was not run again");

    d.tell("g", "0");
    d.wait_group("g", "0", GroupState::Done);
    wait_gone(daemonized, "the adopted leftover, once its group left the level");
}

#[test]
fn empty_cgroups_a_killed_daemon_left_are_removed_at_start() {
    let Some((mut d, root)) = cgroup::daemon("g:w:1:wait:true\n") else { return };
    d.tell("g", "1");
    d.wait_group("g", "1", GroupState::Done);
    d.kill_daemon();
    std::fs::create_dir_all(root.join("h").join("gone")).expect("a stale entry cgroup");
    d.restart();
    assert!(!root.join("h").exists(), "an empty entry cgroup left by a killed daemon is removed at start");
}

/// One usage sample of `tag`.
fn usage(d: &TestDaemon, tag: &str) -> ProcessUsage {
    match d.request(&Request::Usage) {
        Ok(Response::Usage(rows)) => rows.into_iter().find(|r| r.tag == tag).expect("a usage row for the tag"),
        other => panic!("unexpected usage reply: {other:?}"),
    }
}

#[test]
fn usage_is_read_from_the_cgroup() {
    let tab =
        "g:burn:1:respawn:setsid sh -c 'while :; do :; done' & exec sleep 1000\ng:idle:1:respawn:exec sleep 1000\n";
    let Some((d, _root)) = cgroup::daemon(tab) else { return };
    d.tell("g", "1");
    d.wait_group("g", "1", GroupState::Done);
    // The burner left the leader's process group: only its cgroup counts it.
    let first = wait_for(DEADLINE, "CPU time of the burner", || {
        let u = usage(&d, "burn");
        if u.cpu_time_ms >= 200 { Ok(u) } else { Err(format!("{u:?}")) }
    });
    assert_eq!(first.processes, 2, "{first:?}");
    assert!(first.rss_bytes > 0, "{first:?}");
    std::thread::sleep(Duration::from_millis(500)); // a rate needs two samples some time apart
    let second = usage(&d, "burn");
    let percent = second.cpu_percent.expect("a rate from the second sample");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    assert!(percent > 1.0 && percent <= 100.0 * cores + 20.0, "a busy loop's CPU% is plausible: {second:?}");
    assert!(second.cpu_time_ms >= first.cpu_time_ms, "{first:?} then {second:?}");
    let metrics = d.ok(&["metrics"]);
    let cpu = metrics
        .lines()
        .find_map(|l| l.strip_prefix("isinit_process_cpu_seconds_total{group=\"g\",tag=\"burn\"} "))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no CPU series for burn in:\n{metrics}"));
    assert!(cpu * 1000.0 >= first.cpu_time_ms as f64, "{cpu} s after {first:?}");

    // Per group: the sum of its entries, in `status --json` and the metrics.
    let status: serde_json::Value = serde_json::from_str(&d.ok(&["status", "--json"])).expect("status JSON");
    let group = status["groups"].as_array().and_then(|g| g.iter().find(|g| g["name"] == "g")).expect("group g");
    let sum = &group["usage"];
    assert_eq!(sum["processes"], 3, "burner, its leader and idle: {sum}");
    assert!(sum["cpu_time_ms"].as_u64().is_some_and(|ms| ms >= first.cpu_time_ms), "{sum} after {first:?}");
    let group_cpu = metrics
        .lines()
        .find_map(|l| l.strip_prefix("isinit_group_cpu_seconds{group=\"g\"} "))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no group CPU series in:\n{metrics}"));
    assert!(group_cpu >= cpu, "the group's {group_cpu} s hold burn's {cpu} s");
}

#[test]
fn without_cgroup2_the_daemon_says_so_once_and_uses_process_groups() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: cgroup tests need root");
        return;
    }
    let not_cgroup = tempfile::tempdir().expect("tempdir");
    let flag = TestDaemon::builder("g:a:1:respawn:exec sleep 1000\n").cgroup(&not_cgroup.path().display().to_string());
    let directive = TestDaemon::builder(":::cgroup:none\ng:a:1:respawn:exec sleep 1000\n");
    for (how, builder, why) in
        [("a plain directory", flag, "is not a cgroup2 directory"), ("`none`", directive, "cgroups turned off")]
    {
        let d = builder.start();
        d.tell("g", "1");
        let pid = d.wait_running("a");
        assert_eq!(procfs::stat(pid).map(|s| s.pgid), Some(pid), "{how}: the child leads its own process group");
        let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        assert!(!cgroup.contains("isinit-"), "{how}: the child is in no isinit cgroup: {cgroup}");
        let err = d.daemon_stderr();
        let said: Vec<&str> = err.lines().filter(|l| l.contains("process tracking")).collect();
        assert_eq!(said.len(), 1, "{how}: said once: {said:?}");
        assert!(said[0].contains(why) && said[0].contains("using process groups"), "{how}: {}", said[0]);
        assert_eq!(d.cgroup_root(), None);
        d.tell("g", "0");
        d.wait_group("g", "0", GroupState::Done);
        wait_gone(pid, "the child of a group that left its level");
    }
}
