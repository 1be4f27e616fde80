//! SPEC §10: the state file, and a daemon started after another was
//! killed (`kill -9`) adopting what it left running instead of stopping it.

use isinit_e2e::asserts::{assert_alive, pid_alive, wait_gone};
use isinit_e2e::{DEADLINE, TestDaemon, procfs, wait_for};
use isinit_shared::protocol::{ExitStatus, GroupState, ProcessState, Snapshot};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::os::unix::ffi::OsStrExt;
use std::process::{Child, Command, Stdio};

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

/// What the state file records of `tag`, if it records it.
fn ran(d: &TestDaemon, tag: &str) -> Option<serde_json::Value> {
    let state: serde_json::Value = serde_json::from_str(&d.read("state")).ok()?;
    let groups = state["groups"].as_array()?;
    groups.iter().filter_map(|g| g["ran"].as_array()).flatten().find(|r| r["tag"] == tag).cloned()
}

/// The pid the state file records as `tag`'s running process, with its
/// start time, if any.
fn recorded(d: &TestDaemon, tag: &str) -> Option<(i64, u64)> {
    let ran = ran(d, tag)?;
    Some((ran["pid"].as_i64()?, ran["start_ticks"].as_u64()?))
}

/// Waits until the state file records `pid` (with a start time) as
/// `tag`'s running process: what a daemon started after this one is
/// killed adopts.
fn wait_recorded(d: &TestDaemon, tag: &str, pid: i32) {
    wait_for(DEADLINE, &format!("{tag}'s pid {pid} in the state file"), || match recorded(d, tag) {
        Some((p, _)) if p == i64::from(pid) => Ok(()),
        _ => Err(d.read("state")),
    });
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
    wait_for(DEADLINE, "the respawn count in the state file", || match ran(&d, "r") {
        Some(r) if r["respawns"] == 1 => Ok(()),
        _ => Err(d.read("state")),
    });
    let before = d.snapshot();
    let r = d.wait_running("r");
    wait_recorded(&d, "r", r);

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
    wait_recorded(&d, "w", d.process("w").pid.expect("w runs") as i32);
    wait_recorded(&d, "r", r);
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

/// A process another user started with a copy of a child's environment
/// (the marks anyone who reads the isinittab can compute). Killed when
/// dropped, whatever the test did.
struct Planted(Child);

impl Drop for Planted {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// SPEC §15: only what the previous daemon started is adopted. The report:
/// a `setsid sleep` planted as uid 65534 with the real service's exact
/// environment was adopted as the service after a daemon restart, and the
/// real one stopped as a leftover.
#[test]
fn a_planted_process_of_another_user_is_neither_adopted_nor_stopped() {
    planted_beside_the_real_child(None);
}

/// The same where entries are tracked by process group only (SPEC §14:
/// no cgroup to be a member of).
#[test]
fn without_cgroups_a_planted_process_is_neither_adopted_nor_stopped() {
    planted_beside_the_real_child(Some("none"));
}

/// Plants a copy of r's environment as uid 65534 while no daemon runs,
/// starts the daemon again with `cgroup` (`--cgroup`), and checks that the
/// real r is adopted and the copy left alone.
fn planted_beside_the_real_child(cgroup: Option<&str>) {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: planting a process as uid 65534 needs root");
        return;
    }
    if Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("skipped: no setpriv to plant a process as uid 65534");
        return;
    }
    let mut builder = TestDaemon::builder("g:r:1:respawn:exec sleep 1000\n");
    if let Some(value) = cgroup {
        builder = builder.cgroup(value);
    }
    let mut d = builder.start();
    d.tell("g", "1");
    let real = d.wait_running("r");
    wait_recorded(&d, "r", real);
    let environ = std::fs::read(format!("/proc/{real}/environ")).expect("the real child's environment");
    d.kill_daemon();

    let mut plant = Command::new("setsid");
    plant
        .args(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "sleep", "1000"])
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for var in environ.split(|b| *b == 0).filter(|v| !v.is_empty()) {
        if let Some(eq) = var.iter().position(|b| *b == b'=') {
            plant.env(std::ffi::OsStr::from_bytes(&var[..eq]), std::ffi::OsStr::from_bytes(&var[eq + 1..]));
        }
    }
    let planted = Planted(plant.spawn().expect("setsid setpriv"));
    let fake = planted.0.id() as i32;
    // Wait until it is the sleep, session leader, uid 65534, with the marks.
    wait_for(DEADLINE, "the planted sleep", || {
        let uid = procfs::status_field(fake, "Uid").unwrap_or_default();
        let env = procfs::environ(fake);
        match procfs::stat(fake) {
            Some(s)
                if s.pgid == fake && uid.starts_with("65534") && env.iter().any(|v| v.starts_with("ISINIT_ENTRY=")) =>
            {
                Ok(())
            }
            s => Err(format!("{s:?} uid {uid} {env:?}")),
        }
    });

    d.restart();
    assert_eq!(d.process("r").pid, Some(real as u32), "the real process is adopted as r");
    assert_alive(real, "the real r");
    assert_alive(fake, "the planted process (the daemon must not stop another user's process)");
    let err = d.daemon_stderr();
    assert!(err.contains(&format!("pid {fake} carries the marks of r")), "a warning names the planted process:\n{err}");
    assert!(err.contains(&format!("adopted pid {real}")), "{err}");
    assert!(!err.contains(&format!("adopted pid {fake}")), "{err}");
    assert!(d.ok(&["status", "g"]).contains(&real.to_string()), "status shows the adopted real r");
    // The daemon's word is the same a while later: nothing stops either.
    d.wait_group("g", "1", GroupState::Done);
    assert_alive(fake, "the planted process");
    assert_eq!(d.process("r").pid, Some(real as u32));
    drop(planted);
    wait_gone(fake, "the planted process, killed by the test");
}

/// A `reexec` hands no start times over; the new image reads them again,
/// so the state file it writes still lets a later daemon adopt what runs.
#[test]
fn after_a_reexec_the_state_file_still_names_what_runs() {
    let mut d = TestDaemon::start("g:r:1:respawn:exec sleep 1000\ng:s:1:respawn:exec sleep 1000\n");
    d.tell("g", "1");
    let r = d.wait_running("r");
    d.ok(&["reexec"]);
    // An exit after the reexec rewrites the state file from the new image.
    let s = d.wait_running("s");
    kill(Pid::from_raw(s), Signal::SIGKILL).expect("kill s");
    let s2 = d.wait_process("s", "s respawned", |p| p.pid.is_some_and(|n| n as i32 != s)).pid.expect("s") as i32;
    wait_recorded(&d, "s", s2);
    wait_recorded(&d, "r", r);
    let text = d.read("state");
    assert_eq!(text.matches("\"start_ticks\"").count(), 2, "both running processes have a start time:\n{text}");
    d.kill_daemon();
    d.restart();
    assert_eq!(d.process("r").pid, Some(r as u32), "r adopted");
    assert_eq!(d.process("s").pid, Some(s2 as u32), "s adopted");
}

/// A state file of an older daemon records no pids: its levels are
/// restored, but what it left running is stopped and started again, since
/// an unknown process is safer to restart than to trust.
#[test]
fn a_state_file_without_pids_adopts_nothing() {
    let mut d = TestDaemon::start("g:r:1:respawn:exec sleep 1000\n");
    d.tell("g", "1");
    let r = d.wait_running("r");
    wait_recorded(&d, "r", r);
    d.kill_daemon();
    let mut state: serde_json::Value = serde_json::from_str(&d.read("state")).expect("JSON");
    for g in state["groups"].as_array_mut().expect("groups") {
        for ran in g["ran"].as_array_mut().expect("ran") {
            let ran = ran.as_object_mut().expect("a record");
            ran.remove("pid");
            ran.remove("start_ticks");
        }
    }
    std::fs::write(d.state_file(), state.to_string()).expect("an older daemon's state file");
    d.restart();
    wait_gone(r, "the unrecorded leftover");
    let r2 = d.wait_running("r");
    assert_ne!(r2, r);
    assert_eq!(live_with_tag(&d, "r"), vec![r2]);
    assert_eq!(d.snapshot().group("g").map(|g| g.level.clone()), Some(Some("1".into())), "the level is restored");
}

/// SPEC §15: a restart after a crash keeps the configuration in force. The
/// operator was halfway through editing the file when the daemon died and
/// its restarter started it again: it carries on with the file it had in
/// force (kept beside the state file), adopts what runs, and reports the
/// file's errors as `reload` would. A clean shutdown leaves no such copy,
/// so a first start on a broken file is still refused.
#[test]
fn a_restart_after_a_crash_with_an_invalid_file_keeps_the_one_in_force() {
    let mut d = TestDaemon::start("g:r:1:respawn:exec sleep 1000\ng:o:1:respawn:exec sleep 1001\n");
    d.tell("g", "1");
    let (r, o) = (d.wait_running("r"), d.wait_running("o"));
    wait_recorded(&d, "o", o);
    let copy = d.path("state.isinittab");
    wait_for(DEADLINE, "the copy of the isinittab in force", || {
        std::fs::read_to_string(&copy).map_err(|e| e.to_string())
    });
    let sha = d.snapshot().daemon.config_sha256;

    d.kill_daemon();
    d.write_tab("g:r:1:respawn:exec sleep 1000\nthis line is not an entry\n");
    d.restart();

    let snap = d.snapshot();
    assert_eq!(snap.daemon.config_sha256, sha, "the file in force before the crash");
    assert_eq!(d.process("r").pid, Some(r as u32), "r adopted");
    assert_eq!(d.process("o").pid, Some(o as u32), "o adopted: the entries in force, not the file's");
    let line2 = format!("{}:2:", d.tab_path().display());
    assert!(
        snap.notices.iter().any(|n| n.message.contains("is kept") && n.message.contains(&line2)),
        "a notice names the file's error: {:?}",
        snap.notices
    );
    // A tell re-reads the file, as after any refused reload: refused, nothing changed.
    let refused = d.fails(&["tell", "g", "1"]);
    assert!(refused.contains(&line2), "{refused}");
    assert_alive(o, "o, still in force");

    // Fixed, the file is adopted by the next reload; a clean shutdown then
    // removes the copy with the state file.
    d.write_tab("g:r:1:respawn:exec sleep 1000\n");
    d.ok(&["reload"]);
    wait_gone(o, "o, no longer in the file");
    d.ok(&["shutdown", "--wait"]);
    d.wait_exit();
    assert!(!copy.exists(), "a clean shutdown leaves nothing to carry on with");
    d.write_tab("g:r:1:respawn:exec sleep 1000\nthis line is not an entry\n");
    let err = isinit_e2e::fixtures::run(d.daemon_command(), DEADLINE).fails();
    assert!(err.contains(&line2), "a first start on a broken file is refused: {err}");
}
