//! SPEC §3 step 1 and §6 reload: a changed isinittab, adopted by the next
//! tell or by a reload — changed entries restarted, removed ones stopped,
//! removed groups stopped and then forgotten.

use isinit_e2e::asserts::{assert_alive, wait_gone, wait_group_empty};
use isinit_e2e::fixtures::find;
use isinit_e2e::{DEADLINE, TestDaemon, wait_until};
use isinit_shared::protocol::{GroupState, ProcessState};

#[test]
fn a_tell_rereads_a_changed_file() {
    let d = TestDaemon::start(
        "g:a:1:respawn:exec sleep 1000\ng:b:1:respawn:exec sleep 1000\nh:x:1:respawn:exec sleep 1000\n",
    );
    d.tell("g", "1");
    d.tell("h", "1");
    d.wait_group("g", "1", GroupState::Done);
    d.wait_group("h", "1", GroupState::Done);
    let (a, b, x) = (d.wait_running("a"), d.wait_running("b"), d.wait_running("x"));

    // b removed, c added to level 1, group h gone from the file.
    d.write_tab("g:a:1:respawn:exec sleep 1000\ng:c:1:respawn:exec sleep 1000\ng:later:2:once:true\n");
    d.tell("g", "1");
    d.wait_group("g", "1", GroupState::Done);
    let c = d.wait_running("c");
    assert_eq!(d.wait_running("a"), a, "a is unchanged: untouched");
    wait_group_empty(b, "b, removed from the file");
    wait_group_empty(x, "x, whose group was removed from the file");
    wait_until(DEADLINE, "b's row and group h to disappear", || {
        let snap = d.snapshot();
        find(&snap, "b").is_none() && snap.group("h").is_none()
    });
    assert_alive(c, "c");
    assert_eq!(d.ok(&["status"]), "g 1 DONE\n");
    d.wait_initstat("g 1 DONE\n");
    assert!(d.fails(&["tell", "h", "1"]).contains("no such group: h"));
}

#[test]
fn a_changed_command_or_mode_restarts_the_process() {
    let d = TestDaemon::start("g:a:1:respawn:exec sleep 1000\ng:m:1:respawn:exec sleep 1000\n");
    d.tell("g", "1");
    d.wait_group("g", "1", GroupState::Done);
    let (a, m) = (d.wait_running("a"), d.wait_running("m"));

    d.write_tab("g:a:1:respawn:exec sleep 1001\ng:m:1:once:exec sleep 1000\n");
    d.tell("g", "1");
    d.wait_group("g", "1", GroupState::Done);
    wait_gone(a, "a with the old command");
    wait_gone(m, "m with the old mode");
    let a2 = d.wait_running("a");
    assert_ne!(a2, a);
    assert_eq!(d.process("a").command, "exec sleep 1001");
    let cmdline = || std::fs::read(format!("/proc/{a2}/cmdline")).unwrap_or_default();
    wait_until(DEADLINE, "a to run the new command", || cmdline() == b"sleep\x001001\x00");
    let m2 = d.wait_running("m");
    assert_ne!(m2, m);
    assert_eq!(d.process("m").mode.as_str(), "once");
}

#[test]
fn reload_stops_an_entry_turned_off_and_starts_a_new_one() {
    let d = TestDaemon::start("g:a:1:respawn:exec sleep 1000\ng:keep:1:respawn:exec sleep 1000\n");
    d.tell("g", "1");
    d.wait_group("g", "1", GroupState::Done);
    let (a, keep) = (d.wait_running("a"), d.wait_running("keep"));

    d.write_tab("g:a:1:off:exec sleep 1000\ng:keep:1:respawn:exec sleep 1000\ng:new:1:once:exec sleep 1000\n");
    d.ok(&["reload"]);
    wait_group_empty(a, "a, turned off");
    d.wait_state("a", ProcessState::Off);
    let new = d.wait_running("new");
    assert_eq!(d.wait_running("keep"), keep);
    d.wait_group("g", "1", GroupState::Done);
    assert_alive(new, "new");
}

#[test]
fn a_group_removed_from_the_file_can_be_told_while_it_still_runs() {
    let d =
        TestDaemon::builder("g:t:1:once:true\nh:stubborn:1:respawn:trap '' INT; touch {dir}/ready; exec sleep 1000\n")
            .term_after(3.0)
            .start();
    d.tell("h", "1");
    let stubborn = d.wait_running("stubborn");
    d.wait_file("ready");
    d.write_tab("g:t:1:once:true\n");
    d.ok(&["reload"]);
    // h is out of the file, but its process is still being stopped.
    let p = d.process("stubborn");
    assert_eq!((p.state, p.in_file), (ProcessState::Stopping, false), "{p:?}");
    assert!(d.snapshot().group("h").is_some_and(|g| !g.in_file));
    d.tell("h", "0");
    wait_gone(stubborn, "stubborn");
    wait_until(DEADLINE, "group h to be forgotten", || d.snapshot().group("h").is_none());
    let stderr = d.fails(&["tell", "h", "0"]);
    assert!(stderr.contains("no such group: h"), "{stderr}");
}

#[test]
fn an_entry_moved_into_a_group_at_its_level_starts_there() {
    // Defect 3a: the moved entry never started in its new group. The old
    // process ignores SIGINT a while, so the new group's start has to wait
    // for the old record to go rather than find it gone already.
    let d = TestDaemon::builder(
        "a:m:1:respawn:trap 'sleep 0.3; exit 0' INT; touch {dir}/ready; while :; do sleep 1; done\n\
         a:stay:1:respawn:exec sleep 1000\nb:y:1:respawn:exec sleep 1000\n",
    )
    .start();
    d.tell("a", "1");
    d.tell("b", "1");
    d.wait_group("a", "1", GroupState::Done);
    d.wait_group("b", "1", GroupState::Done);
    let m = d.wait_running("m");
    d.wait_file("ready");

    d.write_tab("a:stay:1:respawn:exec sleep 1000\nb:y:1:respawn:exec sleep 1000\nb:m:1:respawn:exec sleep 1000\n");
    d.ok(&["reload"]);
    wait_gone(m, "m in its old group");
    wait_until(DEADLINE, "m to run in group b", || {
        let snap = d.snapshot();
        find(&snap, "m").is_some_and(|p| p.group == "b" && p.state == ProcessState::Running && p.pid.is_some())
    });
    let m2 = d.wait_running("m");
    assert_ne!(m2, m);
    assert_alive(m2, "m in group b");
    d.wait_group("b", "1", GroupState::Done);
    d.wait_group("a", "1", GroupState::Done);
}
