//! SPEC §3: switching a resource group to a level with `isinit tell`.

use isinit_e2e::asserts::{assert_alive, wait_gone, wait_group_empty};
use isinit_e2e::fixtures::find;
use isinit_e2e::{DEADLINE, TestDaemon, procfs, wait_until};
use isinit_shared::protocol::{Event, ExitStatus, GroupState, ProcessState, Response};
use std::path::Path;

#[test]
fn entries_start_in_file_order_and_a_wait_blocks_the_next() {
    let d = TestDaemon::start(
        "\
g:a:1:wait:echo a >> {dir}/order
g:skip:2:wait:echo skip >> {dir}/order
h:elsewhere:1:wait:echo elsewhere >> {dir}/order
g:b:1:wait:sleep 0.3; echo b >> {dir}/order
g:c:1:once:exec sleep 1000
g:d:1:wait:echo d >> {dir}/order
",
    );
    d.tell("g", "1");
    let snap = d.wait_group("g", "1", GroupState::Done);
    assert_eq!(d.lines("order"), ["a", "b", "d"], "file order, each wait finished before the next started");

    let row = |t| find(&snap, t).expect("row").clone();
    let (b, c, dd) = (row("b"), row("c"), row("d"));
    let b_exit = b.recent_exits.last().expect("b exited");
    assert!(b_exit.ran_ms >= 300, "b slept 0.3 s: {b_exit:?}");
    let c_start = c.started_at_ms.expect("c started");
    assert!(c_start >= b_exit.at_ms, "c started ({c_start}) only after the wait b exited ({})", b_exit.at_ms);
    assert!(dd.started_at_ms.expect("d started") >= c_start, "d after c");
    // `once` does not block: d ran to completion while c is still running.
    assert_eq!(c.state, ProcessState::Running, "{c:?}");
    assert_alive(c.pid.expect("c pid") as i32, "the once entry c");
    assert_eq!(find(&snap, "skip").expect("row").state, ProcessState::NotStarted);
    assert_eq!(find(&snap, "elsewhere").expect("row").state, ProcessState::NotStarted, "group h was not told");
}

const MAIL: &str = "\
mail:spool:run,runmore:wait:echo spool >> {dir}/spool
mail:mta:run,runmore:respawn:exec sleep 1000
mail:extra:runmore,:respawn:exec sleep 1000
mail:solo:run,:once:exec sleep 1000
";

#[test]
fn shared_processes_keep_their_pid_and_the_rest_stop() {
    let d = TestDaemon::start(MAIL);
    d.tell("mail", "run");
    d.wait_group("mail", "run", GroupState::Done);
    let (mta, solo) = (d.wait_running("mta"), d.wait_running("solo"));
    assert_eq!(d.process("extra").state, ProcessState::NotStarted);

    d.tell("mail", "runmore");
    d.wait_group("mail", "runmore", GroupState::Done);
    assert_eq!(d.wait_running("mta"), mta, "mta is in both levels: untouched");
    let extra = d.wait_running("extra");
    wait_group_empty(solo, "solo, which is not in runmore");
    assert_eq!(d.process("solo").state, ProcessState::NotStarted);
    assert_eq!(d.lines("spool"), ["spool"], "spool already ran at a level it shares; not re-run");
    assert_eq!(d.process("mta").respawns, 0);

    d.tell("mail", "run");
    d.wait_group("mail", "run", GroupState::Done);
    assert_eq!(d.wait_running("mta"), mta, "mta untouched again");
    wait_group_empty(extra, "extra, which is not in run");
    let solo2 = d.wait_running("solo");
    assert_ne!(solo2, solo, "solo started again, as a new process");
}

#[test]
fn switching_away_and_back_runs_once_and_wait_entries_again() {
    let d = TestDaemon::start("g:w:1:wait:echo w >> {dir}/ran\ng:o:1:once:echo o >> {dir}/ran\n");
    d.tell("g", "1");
    d.wait_group("g", "1", GroupState::Done);
    wait_until(DEADLINE, "w and o to run once", || d.lines("ran").len() == 2);
    d.tell("g", "2");
    d.wait_group("g", "2", GroupState::Done);
    d.tell("g", "1");
    d.wait_group("g", "1", GroupState::Done);
    wait_until(DEADLINE, "w and o to run a second time", || d.lines("ran").len() == 4);
    let mut ran = d.lines("ran");
    ran.sort();
    assert_eq!(ran, ["o", "o", "w", "w"]);
}

#[test]
fn telling_the_same_level_twice_reruns_nothing() {
    let d = TestDaemon::start(
        "g:w:1:wait:echo w >> {dir}/ran\ng:o:1:once:echo o >> {dir}/ran\ng:r:1:respawn:exec sleep 1000\n",
    );
    d.tell("g", "1");
    d.wait_group("g", "1", GroupState::Done);
    wait_until(DEADLINE, "w and o to run", || d.lines("ran").len() == 2);
    // `o` does not hold the group: its exit may be reaped after DONE.
    d.wait_process("o", "exited", |p| p.pid.is_none() && !p.recent_exits.is_empty());
    let before = d.snapshot();
    let r = d.wait_running("r");

    d.tell("g", "1");
    let after = d.wait_group("g", "1", GroupState::Done);
    for tag in ["w", "o", "r"] {
        let (b, a) = (find(&before, tag).expect("row"), find(&after, tag).expect("row"));
        assert_eq!(a.started_at_ms, b.started_at_ms, "{tag} was not started again: {a:?}");
        assert_eq!(a.recent_exits.len(), b.recent_exits.len(), "{tag}: {a:?}");
    }
    assert_eq!(d.wait_running("r"), r);
    assert_eq!(d.process("r").respawns, 0);
    let mut ran = d.lines("ran");
    ran.sort();
    assert_eq!(ran, ["o", "w"]);
}

#[test]
fn telling_an_unknown_group_is_an_error() {
    let d = TestDaemon::start("g:t:1:once:true\n");
    let stderr = d.fails(&["tell", "nosuch", "1"]);
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("no such group: nosuch"), "{stderr}");
    assert!(d.snapshot().group("nosuch").is_none());
}

#[test]
fn level_0_or_a_level_no_entry_has_stops_the_group() {
    let d = TestDaemon::start("g:r:1:respawn:exec sleep 1000\ng:o:1:once:exec sleep 1000\n");
    for level in ["0", "nosuchlevel"] {
        d.tell("g", "1");
        d.wait_group("g", "1", GroupState::Done);
        let (r, o) = (d.wait_running("r"), d.wait_running("o"));
        d.tell("g", level);
        let snap = d.wait_group("g", level, GroupState::Done);
        wait_group_empty(r, "r");
        wait_group_empty(o, "o");
        for tag in ["r", "o"] {
            let p = find(&snap, tag).expect("row");
            assert_eq!((p.state, p.pid), (ProcessState::NotStarted, None), "{level}: {p:?}");
        }
        let status = d.ok(&["status"]);
        assert_eq!(status, format!("g {level} DONE\n"));
    }
}

#[test]
fn test_levels_end_passed_failed_or_done() {
    let d = TestDaemon::start(
        "\
t:p1:1:test:true
t:p2:1,2:test:exit 0
t:f:2:test:exit 3
t:p3:3:test:true
t:o:3:once:true
t:k:4:test:kill -9 $$
",
    );
    d.tell("t", "1");
    let snap = d.wait_group("t", "1", GroupState::Passed);
    assert_eq!(find(&snap, "p1").expect("row").state, ProcessState::Pass);
    assert_eq!(find(&snap, "p2").expect("row").state, ProcessState::Pass);

    d.tell("t", "2");
    let snap = d.wait_group("t", "2", GroupState::Failed);
    let f = find(&snap, "f").expect("row");
    assert_eq!((f.state, f.last_exit), (ProcessState::Fail, Some(ExitStatus::Code(3))), "{f:?}");

    d.tell("t", "3");
    let snap = d.wait_group("t", "3", GroupState::Done);
    assert_eq!(find(&snap, "p3").expect("row").state, ProcessState::Pass, "a passing test with a once: DONE");

    d.tell("t", "4");
    let snap = d.wait_group("t", "4", GroupState::Failed);
    let k = find(&snap, "k").expect("row");
    assert_eq!((k.state, k.last_exit), (ProcessState::Fail, Some(ExitStatus::Signal(9))), "{k:?}");
    d.wait_initstat("t 4 FAILED\n");
}

#[test]
fn a_tell_during_a_switch_takes_over() {
    let d = TestDaemon::start(
        "\
g:slow:A,:wait:echo slow >> {dir}/log; sleep 30
g:after:A,:once:echo after >> {dir}/log
g:b:B,:once:echo b >> {dir}/log
",
    );
    d.tell("g", "A");
    // Mid-switch: STARTING, waiting for `slow`.
    let slow = d.wait_running("slow");
    assert_eq!(d.snapshot().group("g").expect("g").state, GroupState::Starting);

    d.tell("g", "B");
    let snap = d.wait_group("g", "B", GroupState::Done);
    wait_gone(slow, "the wait entry of A, stopped by the switch to B");
    wait_until(DEADLINE, "b to run", || d.lines("log").contains(&"b".to_string()));
    assert!(
        !d.lines("log").contains(&"after".to_string()),
        "A's entry after the wait never starts: {:?}",
        d.lines("log")
    );
    assert_eq!(find(&snap, "after").expect("row").state, ProcessState::NotStarted);
    assert_eq!(d.ok(&["status"]), "g B DONE\n");
}

#[test]
fn other_groups_are_untouched() {
    let tab = "\
g:r:1:respawn:exec sleep 1000
h:r2:1:respawn:exec sleep 1000
g:o:1,2:once:exec sleep 1000
h:o2:1:once:exec sleep 1000
";
    let d = TestDaemon::start(tab);
    d.tell("h", "1");
    let before = d.wait_group("h", "1", GroupState::Done);
    let (r2, o2) = (d.wait_running("r2"), d.wait_running("o2"));
    for level in ["1", "2", "0"] {
        d.tell("g", level);
        d.wait_group("g", level, GroupState::Done);
    }
    let after = d.snapshot();
    assert_eq!(after.group("h"), before.group("h"), "h's level, state and since are unchanged");
    assert_eq!((d.wait_running("r2"), d.wait_running("o2")), (r2, o2));
    assert_eq!(find(&after, "r2"), find(&before, "r2"));
}

#[test]
fn stopping_and_starting_are_observable() {
    let d = TestDaemon::builder(
        "g:stubborn:1,:respawn:trap '' INT; touch {dir}/ready; exec sleep 1000\ng:w:2,:wait:sleep 0.3\n",
    )
    .term_after(3.0)
    .start();
    let (mut sub, _) = d.block_on(d.subscribe());
    d.tell("g", "1");
    d.wait_group("g", "1", GroupState::Done);
    let stubborn = d.wait_running("stubborn");
    d.wait_file("ready");

    d.tell("g", "2");
    // The stubborn process ignores SIGINT, so the stop phase lasts term_after.
    let status = d.ok(&["status", "g"]);
    assert!(status.starts_with("g 2 STOPPING\n"), "the level shows from the moment the tell is accepted:\n{status}");
    assert!(status.contains("stubborn respawn stopping"), "{status}");
    d.wait_initstat("g 2 STOPPING\n");
    d.wait_group("g", "2", GroupState::Done);
    wait_gone(stubborn, "stubborn");

    // The event stream saw every state of the second switch, in order.
    let states = d.block_on(async {
        let mut states = Vec::new();
        loop {
            let msg = tokio::time::timeout(DEADLINE, sub.recv()).await.expect("an update").expect("stream open");
            if let Response::Update(u) = msg
                && let Event::Group(g) = u.event
                && g.name == "g"
                && g.level.as_deref() == Some("2")
            {
                states.push(g.state);
                if g.state == GroupState::Done {
                    return states;
                }
            }
        }
    });
    let mut expected = vec![GroupState::Stopping, GroupState::Starting, GroupState::Done].into_iter().peekable();
    for s in &states {
        if expected.peek() == Some(s) {
            expected.next();
        }
    }
    assert!(expected.peek().is_none(), "STOPPING, STARTING, DONE in order; saw {states:?}");
}

#[test]
fn the_status_file_lists_groups_sorted_and_is_rewritten() {
    let d = TestDaemon::start("zeta:z:1:respawn:exec sleep 1000\nalpha:a:2:test:true\nmid:m:1:once:true\n");
    let initial = "alpha - CONFIGURED\nmid - CONFIGURED\nzeta - CONFIGURED\n";
    d.wait_initstat(initial);
    assert_eq!(d.ok(&["status"]), initial, "`isinit status` prints the same lines");

    d.tell("zeta", "1");
    let want = "alpha - CONFIGURED\nmid - CONFIGURED\nzeta 1 DONE\n";
    d.wait_initstat(want);
    d.tell("alpha", "2");
    let want = "alpha 2 PASSED\nmid - CONFIGURED\nzeta 1 DONE\n";
    d.wait_initstat(want);
    assert_eq!(d.ok(&["status"]), want);
}

#[test]
fn children_get_the_documented_environment() {
    let d = TestDaemon::start(
        "\
g:env:lvl,:wait:echo \"$ISINIT_GROUP $ISINIT_TAG $ISINIT_LEVEL\" > {dir}/env; readlink /proc/$$/fd/0 > {dir}/stdin; pwd > {dir}/cwd; echo \"$ISINIT_E2E_MARK\" > {dir}/inherited
g:r:lvl,:respawn:exec sleep 1000
",
    );
    d.tell("g", "lvl");
    d.wait_group("g", "lvl", GroupState::Done);
    assert_eq!(d.read("env"), "g env lvl\n");
    assert_eq!(d.read("stdin"), "/dev/null\n");
    let dir = d.dir().canonicalize().expect("dir");
    assert_eq!(Path::new(d.read("cwd").trim()).canonicalize().expect("cwd"), dir, "the daemon's working directory");
    assert_eq!(d.read("inherited").trim(), d.dir().display().to_string(), "the daemon's environment");

    let r = d.wait_running("r");
    assert_eq!(procfs::fd_target(r, 0).as_deref(), Some(Path::new("/dev/null")));
    assert_eq!(procfs::cwd(r).map(|p| p.canonicalize().expect("cwd")), Some(dir));
    let env = procfs::environ(r);
    for var in ["ISINIT_GROUP=g", "ISINIT_TAG=r", "ISINIT_LEVEL=lvl"] {
        assert!(env.iter().any(|v| v == var), "{var} missing from {env:?}");
    }
}

#[test]
fn a_dry_run_changes_nothing() {
    let d = TestDaemon::start("g:a:1:respawn:exec sleep 1000\ng:b:2:once:true\nh:c:1:wait:true\n");
    let out = d.ok(&["tell", "g", "1", "--dry-run"]);
    assert!(out.contains("start: a"), "{out}");
    // Anchor: a real switch told after the dry run has run to its end, so
    // the daemon is past anything the dry run could have started (its
    // effects run before the next request is read).
    d.tell("h", "1");
    d.wait_group("h", "1", GroupState::Done);
    let snap = d.snapshot();
    assert_eq!(snap.group("g").map(|g| g.state), Some(GroupState::Configured), "the dry run switched g");
    let a = find(&snap, "a").expect("a");
    assert!(a.pid.is_none() && a.started_at_ms.is_none(), "the dry run started a: {a:?}");
    d.wait_initstat("g - CONFIGURED\nh 1 DONE\n");
    assert!(d.fails(&["tell", "nosuch", "1", "--dry-run"]).contains("no such group: nosuch"));
}

#[test]
fn invalid_level_names_are_refused() {
    let d = TestDaemon::start("g:r:1:respawn:exec sleep 1000\n");
    d.tell("g", "1");
    let r = d.wait_running("r");
    for bad in ["a:b", "a,b", "a b", ""] {
        let stderr = d.fails(&["tell", "g", bad]);
        assert_eq!(stderr.trim_end().lines().count(), 1, "{bad:?}: {stderr}");
    }
    assert_eq!(d.ok(&["status"]), "g 1 DONE\n");
    assert_eq!(d.wait_running("r"), r);
}

#[test]
fn a_failed_test_is_not_rerun_by_telling_the_level_again() {
    let d = TestDaemon::start("t:f:1:test:echo run >> {dir}/runs; exit 1\n");
    d.tell("t", "1");
    d.wait_group("t", "1", GroupState::Failed);
    let first = d.process("f");
    assert!(first.started_at_ms.is_some(), "{first:?}");
    d.tell("t", "1");
    // The snapshot is answered after the tell's effects ran: a re-run
    // would already show as a new start (or as t starting again).
    let snap = d.snapshot();
    let again = find(&snap, "f").expect("f");
    assert_eq!(snap.group("t").map(|g| g.state), Some(GroupState::Failed), "t switched again");
    assert_eq!(again.started_at_ms, first.started_at_ms, "f was run again: {again:?}");
    assert_eq!(again.recent_exits.len(), 1, "f was run again: {again:?}");
    assert_eq!(d.lines("runs").len(), 1, "re-run: {:?}", d.lines("runs"));
    let stderr = d.fails(&["status", "nosuch"]);
    assert!(stderr.contains("no such group: nosuch"), "{stderr}");
}

#[test]
fn groups_switch_concurrently() {
    let d = TestDaemon::start("g:slow:1:wait:exec sleep 1000\ng:after:1:once:true\nh:quick:1:wait:true\n");
    d.tell("g", "1");
    let slow = d.wait_running("slow");
    d.tell("h", "1");
    d.wait_group("h", "1", GroupState::Done);
    let snap = d.snapshot();
    assert_eq!(snap.group("g").map(|g| g.state), Some(GroupState::Starting), "g is still waiting for slow");
    assert_alive(slow, "slow");
}

/// Issue 21: IS::Init was "called like init and telinit, with a
/// resource-group argument": `isinit GROUP LEVEL` is `isinit tell GROUP
/// LEVEL`; a group named like a subcommand still needs `tell`, and a word
/// that is neither is refused as a usage error.
#[test]
fn the_original_command_line_isinit_group_level_is_a_tell() {
    let d = TestDaemon::start("web:srv:run:respawn:exec sleep 1000\nstatus:s:run:respawn:exec sleep 1000\n");
    let said = d.ok(&["web", "run"]);
    assert!(said.contains("level transition started"), "{said}");
    d.wait_group("web", "run", GroupState::Done);
    d.wait_running("srv");

    // `status` is a subcommand: `isinit status run` is not a tell.
    let out = d.cli(&["status", "run"]);
    assert_eq!(d.process("s").state, ProcessState::NotStarted, "{out}");
    d.tell("status", "run");
    d.wait_running("s");

    let refused = d.cli(&["web"]);
    assert_eq!(refused.code(), Some(2), "{refused}");
    assert!(refused.stderr.contains("isinit tell GROUP LEVEL"), "{refused}");
}
