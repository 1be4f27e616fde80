//! SPEC §5: stopping processes — whole process groups, SIGINT then SIGTERM
//! then SIGKILL, nothing escaping, and the daemon reaping every orphan.

use isinit_e2e::asserts::{assert_alive, pid_alive, wait_gone, wait_group_empty};
use isinit_e2e::procfs::{self, signal_bit};
use isinit_e2e::{DEADLINE, TestDaemon, wait_for, wait_until};
use isinit_shared::protocol::{ExitStatus, GroupState, ProcessState};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

#[test]
fn each_child_leads_its_own_process_group() {
    let d = TestDaemon::start("g:a:1:respawn:exec sleep 1000\ng:b:1:once:sleep 1000; true\n");
    d.tell("g", "1");
    d.wait_group("g", "1", GroupState::Done);
    let daemon_pgid = procfs::stat(d.pid()).expect("daemon").pgid;
    for tag in ["a", "b"] {
        let pid = d.wait_running(tag);
        let pgid = procfs::stat(pid).expect("child").pgid;
        assert_eq!(pgid, pid, "{tag} leads its own process group");
        assert_ne!(pgid, daemon_pgid);
    }
}

/// Waits until `pid` has `n` children; returns their pids.
fn wait_children(pid: i32, n: usize) -> Vec<i32> {
    wait_for(DEADLINE, &format!("{n} children of {pid}"), || {
        let kids = procfs::children_of(pid);
        if kids.len() == n { Ok(kids.iter().map(|s| s.pid).collect()) } else { Err(format!("{kids:?}")) }
    })
}

#[test]
fn leaving_the_level_stops_every_process_of_the_group() {
    let d = TestDaemon::start("g:jobs:1:respawn:sleep 1000 & sleep 1000\ng:pipe:1:once:sleep 1000 | sleep 1000\n");
    d.tell("g", "1");
    d.wait_group("g", "1", GroupState::Done);
    let (jobs, pipe) = (d.wait_running("jobs"), d.wait_running("pipe"));
    let mut all = Vec::new();
    for leader in [jobs, pipe] {
        for pid in wait_children(leader, 2) {
            assert_eq!(procfs::stat(pid).map(|s| s.pgid), Some(leader), "children stay in the leader's group");
            all.push(pid);
        }
    }

    d.tell("g", "0");
    d.wait_group("g", "0", GroupState::Done);
    for pid in all.iter().chain([&jobs, &pipe]) {
        wait_gone(*pid, "a member of a stopped group");
    }
    wait_group_empty(jobs, "jobs");
    wait_group_empty(pipe, "pipe");
}

/// Tells `g` level 1, waits until `t` runs and has set its traps (it
/// touches `ready`), then tells level 0; returns `t`'s pid and when the
/// stop began.
fn start_then_stop(d: &TestDaemon) -> (i32, Instant) {
    d.tell("g", "1");
    d.wait_group("g", "1", GroupState::Done);
    let pid = d.wait_running("t");
    d.wait_file("ready");
    let start = Instant::now();
    d.tell("g", "0");
    (pid, start)
}

#[test]
fn a_child_ignoring_sigint_gets_sigterm_after_term_after() {
    let d = TestDaemon::builder(
        "g:t:1:respawn:trap '' INT; trap 'echo TERM >> {dir}/sig; exit 7' TERM; touch {dir}/ready; while :; do sleep 0.05; done\n",
    )
    .term_after(1.0)
    .kill_after(5.0)
    .start();
    let (pid, start) = start_then_stop(&d);
    wait_until(DEADLINE, "the TERM trap to run", || d.read("sig") == "TERM\n");
    let elapsed = start.elapsed();
    assert!(elapsed >= Duration::from_millis(950), "SIGTERM only term_after (1 s) after SIGINT, got {elapsed:?}");
    wait_gone(pid, "t");
    d.wait_group("g", "0", GroupState::Done);
    let p = d.process("t");
    assert_eq!(
        p.recent_exits.last().map(|e| e.status),
        Some(ExitStatus::Code(7)),
        "exited by its trap, no SIGKILL: {p:?}"
    );
}

#[test]
fn a_child_ignoring_sigint_and_sigterm_gets_sigkill() {
    let d = TestDaemon::builder(
        "g:t:1:respawn:trap '' INT; trap 'echo TERM >> {dir}/sig' TERM; touch {dir}/ready; while :; do sleep 0.05; done\n",
    )
    .term_after(0.5)
    // Time for the TERM trap to write its line, however loaded the machine.
    .kill_after(2.0)
    .start();
    let (pid, start) = start_then_stop(&d);
    wait_gone(pid, "t");
    let elapsed = start.elapsed();
    assert!(elapsed >= Duration::from_millis(2450), "SIGKILL only after 0.5 s + 2 s, got {elapsed:?}");
    assert_eq!(d.read("sig"), "TERM\n", "it got (and survived) SIGTERM first");
    d.wait_group("g", "0", GroupState::Done);
    let p = d.process("t");
    assert_eq!(p.recent_exits.last().map(|e| e.status), Some(ExitStatus::Signal(9)), "{p:?}");
}

#[test]
fn a_background_job_left_by_a_finished_once_is_stopped_when_the_group_leaves() {
    let d = TestDaemon::start("g:o:1:once:sleep 1000 & echo $! > {dir}/bg; exit 0\ng:r:1,2:respawn:exec sleep 1000\n");
    d.tell("g", "1");
    d.wait_group("g", "1", GroupState::Done);
    d.wait_state("o", ProcessState::Exited);
    wait_until(DEADLINE, "the background job's pid", || d.read("bg").ends_with('\n'));
    let bg: i32 = d.read("bg").trim().parse().expect("pid");
    let pgid = procfs::stat(bg).expect("the background job").pgid;
    assert_alive(bg, "the background job, while the group stays at the level");

    d.tell("g", "2");
    d.wait_group("g", "2", GroupState::Done);
    wait_gone(bg, "the background job of o");
    wait_group_empty(pgid, "o");
    assert_alive(d.wait_running("r"), "r, in both levels");
}

#[test]
fn children_start_with_default_signals_even_if_the_daemon_ignores_some() {
    let mut d =
        TestDaemon::builder("g:s:1:respawn:exec sleep 1000\n").shell_prelude("trap '' INT QUIT USR1 USR2 PIPE").start();
    let ignored = procfs::signal_set(d.pid(), "SigIgn").expect("daemon SigIgn");
    let (quit, usr1) = (signal_bit(libc::SIGQUIT), signal_bit(libc::SIGUSR1));
    assert_eq!(ignored & (quit | usr1), quit | usr1, "the daemon itself was started with signals ignored");

    d.tell("g", "1");
    let pid = d.wait_running("s");
    assert_eq!(procfs::signal_set(pid, "SigIgn"), Some(0), "no signal ignored in the child");
    assert_eq!(procfs::signal_set(pid, "SigBlk"), Some(0), "no signal blocked in the child");
    // And so SIGINT alone stops it.
    d.tell("g", "0");
    wait_gone(pid, "s");
    let p = d.process("s");
    assert_eq!(p.recent_exits.last().map(|e| e.status), Some(ExitStatus::Signal(libc::SIGINT)), "{p:?}");
    d.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(d.wait_exit().success());
}

#[test]
fn orphans_are_adopted_and_reaped() {
    let d = TestDaemon::start(
        "g:o:1:respawn:for i in 1 2 3; do sh -c 'sh {dir}/orphan.sh $$ & exit 0'; done; exec sleep 1000\n",
    );
    // Started by a shell that exits at once: waits until re-parented, then
    // reports its new parent and exits (and must then be reaped).
    let script = "mid=$1\n\
        ppid() { sed -n 's/^PPid:[[:space:]]*//p' /proc/$$/status; }\n\
        while [ \"$(ppid)\" = \"$mid\" ]; do sleep 0.02; done\n\
        ppid >> {dir}/orphans\n";
    std::fs::write(d.path("orphan.sh"), d.expand(script)).expect("script");
    d.tell("g", "1");
    let leader = d.wait_running("o");
    wait_until(DEADLINE, "three orphans to report their parent", || d.lines("orphans").len() == 3);
    for line in d.lines("orphans") {
        let ppid: i32 = line.trim().parse().expect("ppid");
        assert_eq!(ppid, d.pid(), "orphans are re-parented to the daemon (child subreaper)");
    }
    wait_for(DEADLINE, "the daemon to have no child but the leader (no zombies)", || {
        let kids = procfs::children_of(d.pid());
        if kids.len() == 1 && kids[0].pid == leader { Ok(()) } else { Err(format!("{kids:?}")) }
    });
}

#[test]
fn shutdown_leaves_no_process_behind() {
    let mut d = TestDaemon::start(
        "\
g:r:1:respawn:exec sleep 1000
g:jobs:1:respawn:sleep 1000 & sleep 1000
g:bg:1:once:sleep 1000 & echo $! > {dir}/bg; exit 0
g:stubborn:1:respawn:trap '' INT; while :; do sleep 0.05; done
h:w:1:wait:exec sleep 1000
",
    );
    d.tell("g", "1");
    d.tell("h", "1");
    d.wait_group("g", "1", GroupState::Done);
    d.wait_group("h", "1", GroupState::Starting);
    let leaders: Vec<i32> = ["r", "jobs", "stubborn", "w"].iter().map(|t| d.wait_running(t)).collect();
    wait_children(leaders[1], 2);
    wait_until(DEADLINE, "the background job's pid", || d.read("bg").ends_with('\n'));
    let bg: i32 = d.read("bg").trim().parse().expect("pid");
    let mut pgids: BTreeSet<i32> = leaders.iter().copied().collect();
    pgids.extend(procfs::stat(bg).map(|s| s.pgid));
    pgids.extend(d.marked_processes().iter().map(|s| s.pgid));
    let pids: Vec<i32> = pgids.iter().flat_map(|g| procfs::group_members(*g)).map(|s| s.pid).collect();
    assert!(pids.contains(&bg), "{pids:?}");
    assert!(pids.len() >= 7, "every process of the tab: {pids:?}");

    let out = d.ok(&["shutdown", "--wait"]);
    assert!(!out.is_empty());
    assert!(d.wait_exit().success(), "the daemon exits 0");
    for pid in &pids {
        assert!(!pid_alive(*pid), "pid {pid} survived the shutdown: {:?}", procfs::stat(*pid));
    }
    for pgid in &pgids {
        let alive: Vec<_> = procfs::group_members(*pgid).into_iter().filter(|s| s.state != 'Z').collect();
        assert!(alive.is_empty(), "process group {pgid} survived the shutdown: {alive:?}");
    }
    assert!(d.marked_processes().is_empty(), "{:?}", d.marked_processes());
}

/// Signals 32 and 33: glibc reserves them for thread cancellation and
/// set*id broadcasts, and its `signal()`/`sigaction()` refuse to touch them.
const GLIBC_INTERNAL: u64 = 0b11 << 31;

#[test]
fn children_start_with_glibc_reserved_signals_at_default_too() {
    let mut d = TestDaemon::builder("g:s:1:respawn:exec sleep 1000\n").prepare();
    let mut cmd = d.daemon_command();
    // Start the daemon with 32 and 33 ignored, as glibc's posix_spawn does
    // to every program a threaded glibc process spawns (e.g. a Rust
    // supervisor using std::process::Command). The raw syscall is needed:
    // glibc will not do it.
    // SAFETY: only the async-signal-safe rt_sigaction syscall runs between
    // fork and exec.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            for sig in [32, 33] {
                let mut act: libc::sigaction = std::mem::zeroed();
                act.sa_sigaction = libc::SIG_IGN;
                libc::syscall(libc::SYS_rt_sigaction, sig, &act, std::ptr::null_mut::<libc::sigaction>(), 8usize);
            }
            Ok(())
        });
    }
    d.restart_with(cmd);
    let daemon_ignores = procfs::signal_set(d.pid(), "SigIgn").expect("daemon SigIgn");
    assert_ne!(daemon_ignores & GLIBC_INTERNAL, 0, "the daemon inherited reserved signals ignored");
    d.tell("g", "1");
    let pid = d.wait_running("s");
    assert_eq!(procfs::signal_set(pid, "SigIgn"), Some(0), "SPEC §5: every signal at its default disposition");
}

#[test]
fn background_jobs_of_every_respawn_run_are_stopped() {
    let d = TestDaemon::start("g:r:1:respawn:sleep 1000 & echo $! >> {dir}/bgs; exec sleep 1000\n");
    d.tell("g", "1");
    let mut leader = d.wait_running("r");
    for n in 1..=2 {
        // Killed only once this run has started its background job.
        wait_until(DEADLINE, &format!("background job {n}"), || d.lines("bgs").len() == n as usize);
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(leader), nix::sys::signal::Signal::SIGKILL).expect("kill");
        let p = d.wait_process("r", "restarted", |p| p.respawns == n && p.pid.is_some());
        leader = p.pid.expect("pid") as i32;
    }
    wait_for(DEADLINE, "three background jobs", || match d.lines("bgs") {
        l if l.len() == 3 => Ok(()),
        l => Err(format!("{l:?}")),
    });
    let bgs: Vec<i32> = d.lines("bgs").iter().map(|l| l.parse().expect("pid")).collect();
    let groups: BTreeSet<i32> = bgs.iter().map(|b| procfs::stat(*b).expect("bg job").pgid).collect();
    assert_eq!(groups.len(), 3, "one process group per run");
    for b in &bgs {
        assert_alive(*b, "a background job of an earlier run, while the level holds");
    }

    d.tell("g", "0");
    d.wait_group("g", "0", GroupState::Done);
    for b in &bgs {
        assert!(!pid_alive(*b), "background job {b} survived the stop: {:?}", procfs::stat(*b));
    }
    for g in groups {
        wait_group_empty(g, "an earlier run of r");
    }
}

#[test]
fn stopping_lasts_until_leftovers_in_the_process_group_are_gone() {
    // The background job ignores SIGINT (as background jobs of a
    // non-interactive shell do), so it lives until SIGTERM, term_after later:
    // long enough to see the group STOPPING on a loaded machine.
    let d = TestDaemon::builder(
        "g:o:1:once:sleep 1000 & echo $! > {dir}/bg; exit 0\ng:next:2:once:date +%s%3N > {dir}/next-started\n",
    )
    .term_after(3.0)
    .start();
    d.tell("g", "1");
    d.wait_group("g", "1", GroupState::Done);
    wait_until(DEADLINE, "the background job's pid", || d.read("bg").ends_with('\n'));
    let bg: i32 = d.read("bg").trim().parse().expect("pid");
    let told_at = isinit_shared::time::now_ms();
    d.tell("g", "2");
    assert_eq!(
        d.snapshot().group("g").map(|g| g.state),
        Some(GroupState::Stopping),
        "the leftover holds the stop phase"
    );
    d.wait_group("g", "2", GroupState::Done);
    assert!(!pid_alive(bg), "the leftover is gone by the end of the stop phase");
    wait_until(DEADLINE, "next to start", || d.read("next-started").ends_with('\n'));
    let started: u64 = d.read("next-started").trim().parse().expect("ms");
    assert!(started >= told_at + 2950, "the next level started only after the leftover died: {} ms", started - told_at);
}
