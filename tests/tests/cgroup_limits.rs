//! SPEC §14, issue 12 item 4: `:::limit:GROUP KEY=VALUE` written into the
//! group's cgroup `ROOT/GROUP` where the host delegated the controller;
//! each limit a host cannot apply reported in the daemon's log and in the
//! notices of `status --json`, with supervision unaffected; and without
//! cgroups, the limits reported once as not applied.
//!
//! Root only; the pids test only where the pids controller is delegated
//! to ROOT: otherwise each test prints why it is skipped.

use isinit_e2e::{DEADLINE, TestDaemon, cgroup, wait_for, wait_until};
use isinit_shared::protocol::GroupState;
use std::path::Path;

/// The notice messages of `status --json`, oldest first.
fn notices(d: &TestDaemon) -> Vec<String> {
    let json: serde_json::Value = serde_json::from_str(&d.ok(&["status", "--json"])).expect("status --json");
    let list = json["notices"].as_array().expect("a notices array");
    list.iter().map(|n| n["message"].as_str().expect("a message").to_string()).collect()
}

/// Whether `controller` is enabled in ROOT's children.
fn enabled(root: &Path, controller: &str) -> bool {
    std::fs::read_to_string(root.join("cgroup.subtree_control"))
        .is_ok_and(|t| t.split_whitespace().any(|c| c == controller))
}

#[test]
fn each_limit_is_applied_or_reported_and_supervision_goes_on() {
    let tab = ":::limit:web memory.max=512M\n:::limit:web pids.max=64\nweb:srv:1:respawn:exec sleep 1000\n";
    let Some((d, root)) = cgroup::daemon(tab) else { return };
    // On every host: each limit is in its file, or in a notice saying why not.
    let check = |limits: &[(&str, &str, &str, &str)], said: &[String]| {
        for (file, controller, written, value) in limits {
            let text = format!("limit web {file}={value} not applied: the {controller} controller ");
            if enabled(&root, controller) {
                let got = std::fs::read_to_string(root.join("web").join(file)).expect("the limit file");
                assert_eq!(got.trim(), *written, "{file} applied");
                assert!(!said.iter().any(|n| n.starts_with(&text)), "{said:?}");
            } else {
                assert!(
                    said.iter().any(|n| n.starts_with(&text) && n.contains(&root.display().to_string())),
                    "{text} in {said:?}"
                );
            }
        }
    };
    let said = notices(&d);
    check(&[("memory.max", "memory", "536870912", "512M"), ("pids.max", "pids", "64", "64")], &said);
    let unapplied = said.len();
    let logged = d.daemon_stderr().lines().filter(|l| l.contains("limit web memory.max=512M not applied")).count();
    assert_eq!(logged, usize::from(!enabled(&root, "memory")), "logged once at start");

    // Supervision is unaffected: the entry runs in its cgroup under the group's.
    d.tell("web", "1");
    let pid = d.wait_running("srv");
    wait_until(DEADLINE, "the entry in its cgroup", || cgroup::procs(&root.join("web").join("srv")).contains(&pid));
    d.wait_group("web", "1", GroupState::Done);

    // A reload writes (or reports) the new limits; a removed one is reset.
    d.write_tab(":::limit:web pids.max=32\nweb:srv:1:respawn:exec sleep 1000\n");
    d.ok(&["reload"]);
    let said = notices(&d);
    check(&[("pids.max", "pids", "32", "32")], &said);
    if enabled(&root, "memory") {
        let got = std::fs::read_to_string(root.join("web/memory.max")).expect("memory.max");
        assert_eq!(got.trim(), "max", "a limit removed from the file is reset");
    }
    assert_eq!(said.len(), unapplied + usize::from(!enabled(&root, "pids")), "reported again on reload: {said:?}");
    assert_eq!(d.wait_running("srv"), pid, "a limit change restarts nothing");
    // A reexec keeps the limits in force and says nothing again.
    let out = d.ok(&["reexec"]);
    assert!(out.contains("re-executed"), "{out}");
    assert_eq!(notices(&d), said, "the notices are handed over, none added");
    check(&[("pids.max", "pids", "32", "32")], &said);
    d.tell("web", "0");
    d.wait_group("web", "0", GroupState::Done);
}

#[test]
fn without_cgroups_limits_are_reported_once_as_not_applied() {
    let tab = ":::cgroup:none\n:::limit:web pids.max=64\nweb:srv:1:respawn:exec sleep 1000\n";
    let d = TestDaemon::start(tab);
    let expected = "limit web pids.max=64 not applied: no cgroup tracking (process groups only)";
    assert_eq!(notices(&d), [expected]);
    d.tell("web", "1");
    d.wait_running("srv");
    d.ok(&["reload"]);
    d.wait_group("web", "1", GroupState::Done);
    assert_eq!(notices(&d), [expected], "a reload that leaves the limits alone says nothing again");
    let out = d.ok(&["reexec"]);
    assert!(out.contains("re-executed"), "{out}");
    d.ok(&["reload"]);
    assert_eq!(notices(&d), [expected], "nor after a reexec");
    assert_eq!(d.daemon_stderr().matches(expected).count(), 1, "logged once");
    d.tell("web", "0");
    d.wait_group("web", "0", GroupState::Done);
}

#[test]
fn pids_max_is_enforced_where_the_pids_controller_is_delegated() {
    // Eight background sleeps against a limit of four processes.
    let tab = ":::limit:g pids.max=4\ng:fork:1:once:for i in 1 2 3 4 5 6 7 8; do sleep 1000 & done; exec sleep 1000\n";
    let Some((d, root)) = cgroup::daemon(tab) else { return };
    if !enabled(&root, "pids") {
        let available = std::fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
        eprintln!("skipped: the pids controller is not delegated to {} (it has: {})", root.display(), available.trim());
        return;
    }
    assert_eq!(std::fs::read_to_string(root.join("g/pids.max")).expect("pids.max").trim(), "4");
    d.tell("g", "1");
    let refused = wait_for(DEADLINE, "a fork refused by pids.max", || {
        let events = std::fs::read_to_string(root.join("g/pids.events")).unwrap_or_default();
        let max = events.lines().find_map(|l| l.strip_prefix("max ")).and_then(|v| v.trim().parse::<u64>().ok());
        match max {
            Some(n) if n > 0 => Ok(n),
            _ => Err(events),
        }
    });
    assert!(refused > 0);
    let current: u64 =
        std::fs::read_to_string(root.join("g/pids.current")).expect("pids.current").trim().parse().expect("a number");
    assert!(current <= 4, "the group never holds more than its limit: {current}");
    d.tell("g", "0");
    d.wait_group("g", "0", GroupState::Done);
    wait_until(DEADLINE, "every process of the group stopped", || {
        cgroup::procs(&root.join("g").join("fork")).is_empty()
    });
}
