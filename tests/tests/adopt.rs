//! SPEC §10: the state file, and a daemon started after another was
//! killed (`kill -9`) adopting what it left running instead of stopping it.

use isinit_e2e::asserts::{assert_alive, pid_alive, wait_gone};
use isinit_e2e::{DEADLINE, TestDaemon, procfs, wait_for};
use isinit_shared::protocol::{ExitStatus, GroupState, ProcessState, Snapshot};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const TAB: &str = "\
g:r:1:respawn:exec sleep 1000
g:bg:1:respawn:sleep 1000 & exec sleep 1000
g:o:1:once:echo once >> {dir}/once.out
g:w:1:wait:echo wait >> {dir}/wait.out
h:t:1:test:echo test >> {dir}/test.out
h:s:1:respawn:exec sleep 1000
";

/// Live processes started for `tag` (by its `ISINIT_TAG` mark), counted in
/// `/proc`, not taken from the daemon's word.
fn live_with_tag(d: &TestDaemon, tag: &str) -> Vec<i32> {
    let mark = format!("ISINIT_SOCKET={}", d.socket().display());
    procfs::with_env(&format!("ISINIT_TAG={tag}"))
        .into_iter()
        .filter(|s| s.state != 'Z' && procfs::environ(s.pid).contains(&mark))
        .map(|s| s.pid)
        .collect()
}

/// Groups, levels, states and every process's pid, exit and respawn count:
/// what `status` shows that must survive the daemon's death.
fn status_view(s: &Snapshot) -> String {
    let groups: Vec<String> = s.groups.iter().map(|g| format!("{} {:?} {}", g.name, g.level, g.state)).collect();
    let procs: Vec<String> = s
        .processes
        .iter()
        .map(|p| format!("{} {:?} {:?} {:?} {}", p.tag, p.state, p.pid, p.last_exit, p.respawns))
        .collect();
    format!("{groups:#?}\n{procs:#?}")
}

/// Start times agree within the precision `/proc` gives an adopted
/// process's (boot time in whole seconds, clock ticks).
fn assert_same_start_times(before: &Snapshot, after: &Snapshot) {
    for (b, a) in before.processes.iter().zip(&after.processes) {
        match (b.started_at_ms, a.started_at_ms) {
            (Some(b_ms), Some(a_ms)) => assert!(b_ms.abs_diff(a_ms) <= 2000, "{}: started {b_ms} vs {a_ms}", b.tag),
            (b_ms, a_ms) => assert_eq!(b_ms, a_ms, "{}", b.tag),
        }
    }
}

#[test]
fn a_new_daemon_adopts_what_a_killed_one_left_running() {
    let mut d = TestDaemon::start(TAB);
    d.tell("g", "1");
    d.tell("h", "1");
    d.wait_group("g", "1", GroupState::Done);
    d.wait_group("h", "1", GroupState::Done);
    let first = d.wait_running("r");
    kill(Pid::from_raw(first), Signal::SIGKILL).expect("kill r");
    d.wait_process("r", "one respawn", |p| p.respawns == 1 && p.pid.is_some());
    // Restart counts reach the state file without anyone waiting for it.
    wait_for(DEADLINE, "the respawn count in the state file", || {
        let text = d.read("state");
        if text.contains("\"respawns\": 1") { Ok(()) } else { Err(text) }
    });
    let before = d.snapshot();
    let r = d.wait_running("r");

    d.kill_daemon();
    d.restart();

    let after = d.snapshot();
    assert_eq!(status_view(&after), status_view(&before), "status as before");
    assert_same_start_times(&before, &after);
    for tag in ["r", "bg", "s"] {
        let pids = live_with_tag(&d, tag);
        let want = if tag == "bg" { 2 } else { 1 };
        assert_eq!(pids.len(), want, "{tag}: no duplicate, none missing: {pids:?}");
    }
    for file in ["once.out", "wait.out", "test.out"] {
        assert_eq!(d.read(file).lines().count(), 1, "{file}: a settled group does not run it again");
    }
    assert!(d.daemon_stderr().contains("adopted pid"), "{}", d.daemon_stderr());

    // An adopted respawn that dies is respawned, its status unknown.
    kill(Pid::from_raw(r), Signal::SIGKILL).expect("kill adopted r");
    let p = d.wait_process("r", "the adopted r respawned", |p| p.respawns == 2 && p.pid.is_some_and(|n| n as i32 != r));
    assert_eq!(p.last_exit, Some(ExitStatus::Unknown));
    assert!(d.ok(&["status", "g"]).contains("last=unknown_(adopted)"), "status says the exit is unknown");
    assert_eq!(live_with_tag(&d, "r").len(), 1);
    // And the daemon stops adopted processes like its own.
    d.tell("g", "0");
    d.wait_group("g", "0", GroupState::Done);
    for tag in ["r", "bg"] {
        wait_for(DEADLINE, &format!("{tag} stopped"), || {
            let left = live_with_tag(&d, tag);
            if left.is_empty() { Ok(()) } else { Err(format!("{left:?}")) }
        });
    }
}

#[test]
fn a_group_killed_mid_switch_runs_its_start_phase_again() {
    let mut d = TestDaemon::start(
        "g:r:1:respawn:exec sleep 1000\ng:w:1:wait:echo w >> {dir}/w.out; while [ ! -e {dir}/go ]; do sleep 0.05; done\ng:after:1:respawn:exec sleep 1000\n",
    );
    d.tell("g", "1");
    let r = d.wait_running("r");
    d.wait_state("w", ProcessState::Waiting);
    d.kill_daemon();
    d.restart();
    // The wait is still running: adopted, and waited for again.
    assert_eq!(d.process("r").pid, Some(r as u32), "r adopted");
    assert_eq!(d.snapshot().group("g").map(|g| g.state), Some(GroupState::Starting));
    assert_eq!(d.process("after").state, ProcessState::NotStarted);
    std::fs::write(d.path("go"), "").expect("go");
    d.wait_group("g", "1", GroupState::Done);
    d.wait_running("after");
    assert_eq!(d.read("w.out").lines().count(), 1, "the adopted wait was not run twice");
}

#[test]
fn leftovers_not_in_the_restored_level_are_stopped() {
    let mut d = TestDaemon::start("g:r:1:respawn:exec sleep 1000\ng:x:1:respawn:exec sleep 1000\n");
    d.tell("g", "1");
    let (r, x) = (d.wait_running("r"), d.wait_running("x"));
    d.kill_daemon();
    // While no daemon runs, x's command changes and r leaves level 1.
    d.write_tab("g:r:2:respawn:exec sleep 1000\ng:x:1:respawn:exec sleep 999\n");
    d.restart();
    wait_gone(r, "r, no longer in level 1");
    wait_gone(x, "the old x, whose command changed");
    let x2 = d.wait_running("x");
    assert_ne!(x2, x);
    assert_eq!(live_with_tag(&d, "x"), vec![x2]);
    assert!(live_with_tag(&d, "r").is_empty());
    assert_eq!(d.snapshot().group("g").map(|g| (g.level.clone(), g.state)), Some((Some("1".into()), GroupState::Done)));
}

#[test]
fn a_corrupt_state_file_is_ignored_with_a_log_line() {
    let mut d = TestDaemon::start("g:r:1:respawn:exec sleep 1000\n");
    d.tell("g", "1");
    let r = d.wait_running("r");
    d.kill_daemon();
    std::fs::write(d.state_file(), b"{\"version\": 1, \"groups\": [tr").expect("corrupt the state file");
    d.restart();
    assert!(d.daemon_stderr().contains("ignoring state file"), "{}", d.daemon_stderr());
    wait_gone(r, "the leftover, with no level to adopt it into");
    assert_eq!(d.snapshot().group("g").map(|g| g.state), Some(GroupState::Configured));
    // The daemon works on.
    d.tell("g", "1");
    d.wait_running("r");
}

#[test]
fn an_unreadable_state_file_is_ignored() {
    let mut d = TestDaemon::start("g:r:1:respawn:exec sleep 1000\n");
    d.tell("g", "1");
    d.kill_daemon();
    std::fs::remove_file(d.state_file()).expect("remove");
    std::fs::create_dir(d.state_file()).expect("a directory where the file was");
    d.restart();
    assert!(d.daemon_stderr().contains("cannot read state file"), "{}", d.daemon_stderr());
    assert_eq!(d.snapshot().group("g").map(|g| g.state), Some(GroupState::Configured));
}

#[test]
fn the_state_is_written_before_the_tell_replies() {
    let d = TestDaemon::start("g:r:1,2:respawn:exec sleep 1000\nh:o:a:once:true\n");
    for (group, level) in [("g", "1"), ("h", "a"), ("g", "2"), ("g", "0"), ("g", "1")] {
        d.tell(group, level);
        let text = std::fs::read_to_string(d.state_file()).expect("the state file exists once a tell returned");
        let state: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(state["version"], 1);
        let saved = state["groups"].as_array().expect("groups").iter().find(|g| g["group"] == group).cloned();
        assert_eq!(saved.map(|g| g["level"].clone()), Some(serde_json::json!(level)), "{text}");
    }
}

#[test]
fn a_clean_shutdown_leaves_nothing_to_restore() {
    let mut d = TestDaemon::start("g:r:1:respawn:exec sleep 1000\n");
    d.tell("g", "1");
    let r = d.wait_running("r");
    d.ok(&["shutdown", "--wait"]);
    d.wait_exit();
    assert!(!pid_alive(r));
    assert!(!d.state_file().exists(), "nothing is left to restore after a shutdown");
    d.restart();
    assert_eq!(d.snapshot().group("g").map(|g| g.state), Some(GroupState::Configured));
    assert_alive(d.pid(), "the new daemon");
}
