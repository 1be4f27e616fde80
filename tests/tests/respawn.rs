//! SPEC §4: respawn entries are restarted when they exit, and throttled
//! when they keep exiting at once.

use isinit_e2e::asserts::wait_gone;
use isinit_e2e::{DEADLINE, TestDaemon, wait_until};
use isinit_shared::protocol::{ExitStatus, GroupState, ProcessState};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

#[test]
fn a_killed_respawn_process_is_restarted() {
    let d = TestDaemon::start("g:r:1:respawn:exec sleep 1000\n");
    d.tell("g", "1");
    d.wait_group("g", "1", GroupState::Done);
    let mut pid = d.wait_running("r");
    for n in 1..=3 {
        kill(Pid::from_raw(pid), Signal::SIGKILL).expect("kill r");
        let p = d.wait_process("r", "restarted with a new pid", |p| {
            p.state == ProcessState::Running && p.pid.is_some_and(|new| new as i32 != pid)
        });
        wait_gone(pid, "the killed process");
        assert_eq!(p.respawns, n, "respawn count +1 per restart: {p:?}");
        assert_eq!(p.last_exit, Some(ExitStatus::Signal(9)));
        assert_eq!(p.recent_exits.len(), n as usize, "{p:?}");
        assert!(p.recent_exits.iter().all(|e| e.status == ExitStatus::Signal(9)), "{p:?}");
        pid = p.pid.expect("checked") as i32;
    }
    // A new record (switch away and back) starts counting again.
    d.tell("g", "0");
    d.wait_group("g", "0", GroupState::Done);
    wait_gone(pid, "r, stopped");
    d.tell("g", "1");
    d.wait_running("r");
    assert_eq!(d.process("r").respawns, 0);
}

#[test]
fn a_process_that_exits_at_once_is_throttled() {
    // The pause leaves a few seconds to look at the throttled entry.
    let d = TestDaemon::builder("g:r:1:respawn:date +%s%3N >> {dir}/starts; exit 1\n").respawn_pause(4.0).start();
    d.tell("g", "1");
    let backoff = d.wait_state("r", ProcessState::Backoff);
    // Six quick starts, then throttled. On a loaded machine a start may
    // come a second or more after the one before and begin the count
    // again, so there may be more starts than six. Judged on the daemon's
    // own clock (each exit's time less how long it ran is its start): the
    // last six starts are each less than a second after the one before,
    // and a start before them, if any, is not.
    let starts: Vec<u64> = backoff.recent_exits.iter().map(|e| e.at_ms - e.ran_ms).collect();
    let n = starts.len();
    assert!(n >= 6, "throttled before 6 quick starts: {starts:?}");
    let gaps: Vec<u64> = starts.windows(2).map(|w| w[1].saturating_sub(w[0])).collect();
    assert!(gaps[n - 6..].iter().all(|g| *g < 1010), "throttled after a slow start: {gaps:?}");
    assert!(n == 6 || gaps[n - 7] >= 990, "throttled late, after more than 6 quick starts: {gaps:?}");
    let lines = d.lines("starts").len();
    assert_eq!(backoff.respawns as usize, lines - 1, "{backoff:?}");
    assert_eq!(backoff.pid, None);
    assert_eq!(backoff.last_exit, Some(ExitStatus::Code(1)));
    assert!(backoff.recent_exits.len() >= 6, "{backoff:?}");
    assert!(backoff.recent_exits.iter().all(|e| e.status == ExitStatus::Code(1)), "{backoff:?}");
    let until = backoff.backoff_until_ms.expect("backoff_until_ms while throttled");

    // `status --json` shows it too.
    let json: serde_json::Value = serde_json::from_str(&d.ok(&["status", "--json"])).expect("json");
    let row = json["processes"].as_array().expect("processes").iter().find(|p| p["tag"] == "r").expect("row").clone();
    assert_eq!(row["state"], "backoff", "{row}");
    assert_eq!(row["backoff_until_ms"].as_u64(), Some(until), "{row}");
    let last_exit = backoff.recent_exits.last().expect("exits").at_ms;
    // Both from the daemon's clock: never less than the pause after the
    // exit it answers (a shorter pause is the bug), and the decision
    // follows the exit it reacts to within the same turn of its loop.
    let paused = until.saturating_sub(last_exit);
    assert!((4000..5000).contains(&paused), "paused 4 s after the last exit: {until} - {last_exit}");

    let logged = "r respawning too rapidly: sleeping 4 seconds";
    wait_until(DEADLINE, &format!("the daemon to log `{logged}`"), || d.daemon_stderr().contains(logged));

    // After the pause it is started again (and soon throttled again).
    let before = lines;
    wait_until(DEADLINE, "r to be started again after the pause", || d.lines("starts").len() > before);
    let restarted: u64 = d.lines("starts")[before].parse().expect("a timestamp in ms");
    assert!(restarted + 50 >= until, "not started before the pause ended: {restarted} < {until}");
    assert!(d.process("r").respawns as usize >= before);
}

#[test]
fn a_throttled_entry_is_not_restarted_after_its_group_left_the_level() {
    // s, in another group, is throttled after r: its restart after its
    // pause proves the daemon is past the end of r's pause.
    let d = TestDaemon::builder(
        "g:r:1:respawn:echo start >> {dir}/starts; exit 1\nh:s:1:respawn:echo start >> {dir}/s-starts; exit 1\n",
    )
    .respawn_pause(3.0)
    .start();
    d.tell("g", "1");
    let backoff = d.wait_state("r", ProcessState::Backoff);
    let until = backoff.backoff_until_ms.expect("until");
    d.tell("g", "0");
    d.wait_group("g", "0", GroupState::Done);
    let left = d.process("r");
    let starts = d.lines("starts").len();
    let left_at = isinit_shared::time::now_ms();
    assert!(left_at < until, "the group must leave the level during the pause for this test to mean anything");
    d.tell("h", "1");
    let s = d.wait_state("s", ProcessState::Backoff);
    let s_until = s.backoff_until_ms.expect("s until");
    assert!(s_until >= until, "s must be throttled after r: {s_until} < {until}");
    d.wait_process("s", "s started again after its pause", |p| p.respawns > s.respawns);
    let r = d.process("r");
    assert_eq!(r.state, ProcessState::NotStarted, "{r:?}");
    assert_eq!((r.respawns, r.started_at_ms), (left.respawns, left.started_at_ms), "r restarted: {r:?}");
    assert_eq!(d.lines("starts").len(), starts, "restarted after leaving the level");
}
