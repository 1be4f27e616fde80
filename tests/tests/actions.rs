//! SPEC §13: acting on one process — `isinit restart`, `retry`, `signal` —
//! and the resource figures `status --json` samples (issue 10).

use isinit_e2e::asserts::{assert_alive, wait_gone};
use isinit_e2e::fixtures::run;
use isinit_e2e::{DEADLINE, TestDaemon, wait_until};
use isinit_shared::protocol::{GroupState, ProcessState};
use std::os::unix::fs::PermissionsExt;

/// A respawn entry that notes every SIGINT and SIGHUP it gets in files of
/// the test directory and says when its traps are set.
const TRAPPING: &str = "g:svc:1:respawn:trap 'echo INT >> {dir}/ints; exit 0' INT; \
    trap 'echo HUP >> {dir}/hups' HUP; echo $$ > {dir}/ready.$$; while :; do sleep 0.1; done\n\
    g:cf:1:once:true\ng:extra:2:respawn:exec sleep 1000\n";

/// The one line a refused command prints, checked to be one line.
#[track_caller]
fn refusal(d: &TestDaemon, args: &[&str]) -> String {
    let stderr = d.fails(args);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: one line: {stderr}");
    stderr.trim_end().to_string()
}

#[test]
fn restart_stops_gracefully_and_returns_once_the_new_process_runs() {
    let d = TestDaemon::start(TRAPPING);
    d.tell("g", "1");
    d.wait_group("g", "1", GroupState::Done);
    let old = d.wait_running("svc");
    d.wait_file(&format!("ready.{old}"));

    let out = d.ok(&["restart", "svc"]);
    let p = d.process("svc");
    let new = p.pid.expect("running when restart returns") as i32;
    assert_eq!(out, format!("restarted svc: running as pid {new}\n"));
    assert_ne!(new, old);
    assert_eq!((p.state, p.respawns), (ProcessState::Running, 1), "{p:?}");
    assert_eq!(d.lines("ints"), ["INT"], "stopped with SIGINT, gracefully");
    wait_gone(old, "the old svc");
    assert_alive(new, "the new svc");
    let audit = d.snapshot().audit;
    assert!(audit.iter().any(|a| a.request == "restart svc" && a.uid == 0), "audited: {audit:?}");

    // An entry that already ran to completion is simply run again.
    let out = d.ok(&["restart", "cf"]);
    assert!(out.starts_with("restarted cf: "), "{out}");
    d.wait_process("cf", "run twice", |p| p.respawns == 1 && p.state == ProcessState::Exited);
    assert_eq!(d.ok(&["status"]), "g 1 DONE\n", "the group is not switched");
}

#[test]
fn restart_escalates_for_a_process_that_ignores_sigint() {
    let d = TestDaemon::start("g:stubborn:1:respawn:trap '' INT; echo > {dir}/ready; exec sleep 1000\n");
    d.tell("g", "1");
    let old = d.wait_running("stubborn");
    d.wait_file("ready");
    let out = d.ok(&["restart", "stubborn"]);
    let new = d.process("stubborn").pid.expect("running") as i32;
    assert_eq!(out, format!("restarted stubborn: running as pid {new}\n"));
    wait_gone(old, "the old stubborn process");
    let last = d.process("stubborn").last_exit;
    assert_eq!(last, Some(isinit_shared::protocol::ExitStatus::Signal(15)), "ended by SIGTERM after the pause");
}

#[test]
fn restart_refusals() {
    let d = TestDaemon::start(TRAPPING);
    assert_eq!(refusal(&d, &["restart", "nope"]), "isinit: no such tag: nope");
    assert_eq!(refusal(&d, &["restart", "svc"]), "isinit: svc is not in the current level of its group g: never told");
    d.tell("g", "1");
    d.wait_group("g", "1", GroupState::Done);
    assert_eq!(
        refusal(&d, &["restart", "extra"]),
        "isinit: extra is not in the current level of its group g (level 1)"
    );
    assert!(d.snapshot().audit.iter().all(|a| !a.request.starts_with("restart")), "refusals are not audited");
}

#[test]
fn retry_starts_a_throttled_entry_now() {
    let d =
        TestDaemon::builder("g:flap:1:respawn:echo start >> {dir}/starts; exit 1\ng:ok:1:respawn:exec sleep 1000\n")
            .respawn_pause(600.0)
            .start();
    d.tell("g", "1");
    assert_eq!(refusal(&d, &["retry", "ok"]), "isinit: ok is not in backoff: it is running");
    assert_eq!(refusal(&d, &["retry", "nope"]), "isinit: no such tag: nope");
    d.wait_state("flap", ProcessState::Backoff);
    assert_eq!(d.lines("starts").len(), 6);

    let out = d.ok(&["retry", "flap"]);
    assert!(out.starts_with("retried flap: "), "{out}");
    // Started at once, not 600 s later, and allowed its quick starts again
    // before the next throttle.
    wait_until(DEADLINE, "six more starts", || d.lines("starts").len() == 12);
    d.wait_state("flap", ProcessState::Backoff);
    assert_eq!(d.lines("starts").len(), 12);
    assert!(d.snapshot().audit.iter().any(|a| a.request == "retry flap"));
}

#[test]
fn signal_reaches_the_process_group() {
    let d = TestDaemon::start(TRAPPING);
    assert_eq!(refusal(&d, &["signal", "svc", "HUP"]), "isinit: svc has no running process");
    d.tell("g", "1");
    d.wait_group("g", "1", GroupState::Done);
    let pid = d.wait_running("svc");
    d.wait_file(&format!("ready.{pid}"));

    let out = d.ok(&["signal", "svc", "HUP"]);
    assert_eq!(out, format!("sent SIGHUP to svc (process group {pid})\n"));
    wait_until(DEADLINE, "the HUP trap to run", || d.lines("hups").len() == 1);
    for name in ["sighup", "1"] {
        d.ok(&["signal", "svc", name]);
    }
    wait_until(DEADLINE, "three HUPs", || d.lines("hups").len() == 3);
    assert_eq!(d.process("svc").pid, Some(pid as u32), "HUP is handled, the process lives on");

    let unknown = refusal(&d, &["signal", "svc", "FOO"]);
    assert!(unknown.starts_with("isinit: unknown signal `FOO`"), "{unknown}");
    assert_eq!(refusal(&d, &["signal", "nope", "HUP"]), "isinit: no such tag: nope");
    assert_eq!(refusal(&d, &["signal", "cf", "HUP"]), "isinit: cf has no running process: it is exited");

    // A deadly signal: the respawn entry comes back.
    d.ok(&["signal", "svc", "KILL"]);
    let back = d.wait_process("svc", "respawned", |p| p.pid.is_some_and(|p| p as i32 != pid));
    assert_eq!(back.last_exit, Some(isinit_shared::protocol::ExitStatus::Signal(9)));
    let audit = d.snapshot().audit;
    assert!(audit.iter().any(|a| a.request == "signal svc HUP"), "{audit:?}");
    assert!(audit.iter().any(|a| a.request == "signal svc KILL"), "{audit:?}");
}

#[test]
fn an_unprivileged_user_may_not_act_on_processes() {
    if !nix::unistd::geteuid().is_root() || std::process::Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("note: needs root and setpriv to switch users; skipping");
        return;
    }
    const NOBODY: &[&str] = &["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"];
    let d = TestDaemon::start(TRAPPING);
    d.tell("g", "1");
    let pid = d.wait_running("svc");
    std::fs::set_permissions(d.dir(), std::fs::Permissions::from_mode(0o755)).expect("chmod dir");
    std::fs::set_permissions(d.socket(), std::fs::Permissions::from_mode(0o666)).expect("chmod socket");
    for args in [&["restart", "svc"][..], &["retry", "svc"], &["signal", "svc", "HUP"]] {
        let stderr = run(d.command_via(NOBODY, args), DEADLINE).fails();
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains("permission denied: only root and uid 0 may"), "{args:?}: {stderr}");
    }
    // Reading the figures is allowed.
    run(d.command_via(NOBODY, &["status", "--json"]), DEADLINE).ok();
    assert_eq!(d.process("svc").pid, Some(pid as u32), "nothing changed");
    assert!(d.lines("hups").is_empty() && d.lines("ints").is_empty(), "no signal sent");
    assert!(d.snapshot().audit.iter().all(|a| a.uid != 65534));
}

#[test]
fn status_json_samples_cpu_and_memory_of_each_process_group() {
    let d = TestDaemon::start(
        "g:busy:1:respawn:while :; do :; done\ng:idle:1:respawn:exec sleep 1000\ng:off:2:once:true\n",
    );
    d.tell("g", "1");
    d.wait_running("busy");
    d.wait_running("idle");
    let usage_of = |json: &serde_json::Value, tag: &str| {
        let rows = json["processes"].as_array().expect("processes");
        rows.iter().find(|p| p["tag"] == tag).expect("row")["usage"].clone()
    };
    let first: serde_json::Value = serde_json::from_str(&d.ok(&["status", "--json"])).expect("json");
    let idle = usage_of(&first, "idle");
    assert_eq!(idle["processes"], 1, "{idle}");
    assert!(idle["rss_bytes"].as_u64().is_some_and(|r| r > 0), "{idle}");
    assert!(usage_of(&first, "off").is_null(), "nothing runs, nothing measured");

    // The second sample has a rate; the busy loop burns CPU, sleep does not.
    wait_until(DEADLINE, "a CPU rate for busy", || {
        let json: serde_json::Value = serde_json::from_str(&d.ok(&["status", "--json"])).expect("json");
        let busy = usage_of(&json, "busy");
        busy["cpu_percent"].as_f64().is_some_and(|p| p > 5.0)
            && busy["cpu_time_ms"].as_u64().is_some_and(|t| t > 0)
            && usage_of(&json, "idle")["cpu_percent"].as_f64().is_some_and(|p| p < 5.0)
    });
}

#[test]
fn a_daemon_nobody_asks_samples_nothing() {
    let d = TestDaemon::start("g:idle:1:respawn:exec sleep 1000\ng:busy:1:respawn:while :; do :; done\n");
    d.tell("g", "1");
    d.wait_running("busy");
    d.ok(&["status", "--json"]);
    // utime + stime of the daemon itself, in clock ticks.
    let ticks = || {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", d.pid())).expect("the daemon's stat");
        let fields: Vec<u64> =
            stat.rsplit_once(')').expect("comm").1.split_whitespace().filter_map(|f| f.parse().ok()).collect();
        // After the state letter: ppid(4)... utime(14) stime(15), numbered as in proc(5).
        fields[14 - 4] + fields[15 - 4]
    };
    // Start-up work (the node health task's first look for Pacemaker
    // reads every process's name) is over once a second passes without a
    // tick; on a loaded machine it can still be running here.
    wait_until(DEADLINE, "the daemon to settle after its start", || {
        let at = ticks();
        isinit_e2e::wait::holds_for(std::time::Duration::from_secs(1), || ticks() == at)
    });
    let before = ticks();
    // No timer samples /proc while nobody asks: the daemon stays asleep
    // (one tick of slack).
    let quiet = isinit_e2e::wait::holds_for(std::time::Duration::from_secs(3), || ticks() <= before + 1);
    assert!(quiet, "the daemon used CPU with nobody asking: {} ticks", ticks() - before);
}
