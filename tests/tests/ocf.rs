//! The OCF resource agent `ocf:isinit:group` (packaging/ocf/group →
//! `isinit ocf ACTION`) against a real daemon: its exit codes action by
//! action, and resource-agents' `ocf-tester`. A whole Pacemaker cluster
//! driving it is in `pacemaker.rs`.

use isinit_e2e::ocf::{Agent, install_agent, is_root, missing_tools, path_with_isinit};
use isinit_e2e::{DEADLINE, TestDaemon, fixtures::run};
use isinit_shared::protocol::{GroupState, ProcessState};
use std::process::Command;
use std::time::{Duration, Instant};

const TAB: &str = "\
web:prep:run,primary:wait:sleep 0.3
web:srv:run,primary:respawn:exec sleep 1000
web:extra:primary:respawn:exec sleep 1000
web:shell:maint:respawn:exec sleep 1000
other:o1:run:respawn:exec sleep 1000
";

#[test]
fn ocf_tester_passes_against_a_running_daemon() {
    if !is_root() {
        eprintln!("skipped: installing the agent into /usr/lib/ocf needs root");
        return;
    }
    let missing = missing_tools(&["ocf-tester", "xmllint"]);
    if !missing.is_empty() {
        eprintln!("skipped: {missing:?} not installed (apt-get install resource-agents libxml2-utils)");
        return;
    }
    let d = TestDaemon::start(TAB);
    let agent_path = install_agent();
    for agent in [Agent::new(&d, "web"), Agent::new(&d, "web").param("promoted_level", "primary")] {
        let mut cmd = Command::new("ocf-tester");
        cmd.args(["-v", "-n", "isinit-web"]).args(agent.tester_args()).arg(&agent_path).env("PATH", path_with_isinit());
        let out = run(cmd, Duration::from_secs(180));
        assert!(out.success() && out.stdout.contains("passed all tests"), "ocf-tester failed:\n{out}");
        if agent.tester_args().iter().any(|a| a.starts_with("promoted_level=")) {
            assert!(!out.stdout.contains("does not support promotable clones"), "{out}");
        }
        // It leaves the group stopped.
        d.wait_group("web", "0", GroupState::Done);
    }
    assert!(d.snapshot().processes_of("web").all(|p| p.pid.is_none()));
}

#[test]
fn validate_all_sorts_what_this_node_lacks_from_what_is_wrong_everywhere() {
    let d = TestDaemon::start(TAB);
    let web = Agent::new(&d, "web");
    web.expect("validate-all", 0);
    let out = Agent::new(&d, "nosuch").expect("validate-all", 6);
    assert!(out.stderr.contains("ocf-exit-reason:group nosuch is not in"), "{out}");
    web.clone().without("group").expect("validate-all", 6);
    web.clone().without("group").expect("monitor", 6);
    web.clone().without("group").expect("stop", 0);
    web.clone().param("stop_level", "run").expect("validate-all", 6);
    web.clone().param("level", "a:b").expect("validate-all", 6);
    // The binary, and a readable isinittab, are what this node may lack.
    let out = web.clone().param("binary", "/nonexistent/isinit").expect("validate-all", 5);
    assert!(out.stderr.contains("isinit binary not found"), "{out}");
    web.clone().param("config", &d.path("missing").display().to_string()).expect("validate-all", 5);
    // A replicated file that is invalid is wrong on every node.
    std::fs::write(d.path("bad"), "web:x:run:sometimes:true\n").expect("write");
    let out = web.clone().param("config", &d.path("bad").display().to_string()).expect("validate-all", 6);
    assert!(out.stderr.contains("invalid isinittab"), "{out}");
    // Start validates first and tells nothing.
    Agent::new(&d, "nosuch").expect("start", 6);
    assert!(d.snapshot().audit.is_empty(), "{:?}", d.snapshot().audit);
    // meta-data needs no parameters; unknown actions are unimplemented.
    let out = Agent::new(&d, "web").without("group").expect("meta-data", 0);
    assert!(out.stdout.contains("<resource-agent name=\"group\""));
    web.expect("notify", 3);
    web.expect("reload-agent", 3);
}

#[test]
fn without_the_binary_stop_succeeds_and_a_probe_says_not_running() {
    let d = TestDaemon::start(TAB);
    let gone = Agent::new(&d, "web").param("binary", "/nonexistent/isinit");
    gone.expect("stop", 0);
    gone.expect("monitor", 7);
    let recurring = {
        let mut cmd = gone.command("monitor");
        cmd.env("OCF_RESKEY_CRM_meta_interval", "10000");
        run(cmd, DEADLINE)
    };
    assert_eq!(recurring.code(), Some(5), "{recurring}");
    gone.expect("start", 5);
}

#[test]
fn start_waits_until_the_group_settled_and_monitor_follows_it() {
    let d = TestDaemon::start(TAB);
    let web = Agent::new(&d, "web");
    web.expect("monitor", 7);
    web.expect("start", 0);
    // Returned only once the wait entry had finished and srv ran.
    let snap = d.snapshot();
    let g = snap.group("web").expect("web");
    assert_eq!((g.level.as_deref(), g.state), (Some("run"), GroupState::Done));
    let states: Vec<_> = snap.processes_of("web").map(|p| (p.tag.as_str(), p.state)).collect();
    assert!(states.contains(&("prep", ProcessState::Exited)) && states.contains(&("srv", ProcessState::Running)));
    web.expect("monitor", 0);
    // Idempotent: a second start tells nothing.
    let audits = d.snapshot().audit.len();
    web.expect("start", 0);
    assert_eq!(d.snapshot().audit.len(), audits, "a started group is not told again");
    // Behind Pacemaker's back: another level with processes alive fails.
    d.tell("web", "maint");
    d.wait_group("web", "maint", GroupState::Done);
    let out = web.expect("monitor", 1);
    assert!(out.stderr.contains("level maint"), "{out}");
    // The stop level is not running; so is a daemon that is gone.
    web.expect("stop", 0);
    d.wait_group("web", "0", GroupState::Done);
    web.expect("monitor", 7);
    web.expect("stop", 0);
    assert_eq!(d.snapshot().group("other").and_then(|g| g.level.clone()), None, "other groups untouched");
}

#[test]
fn a_failed_test_or_an_entry_in_backoff_fails_start_and_monitor() {
    let d = TestDaemon::builder(
        "t:check:run:test:exit 3\n\
         c:loop:run:respawn:exit 1\n",
    )
    .respawn_pause(60.0)
    .start();
    let out = Agent::new(&d, "t").expect("start", 1);
    assert!(out.stderr.contains("ocf-exit-reason:level run FAILED (test failed: check)"), "{out}");
    Agent::new(&d, "t").expect("monitor", 1);
    let c = Agent::new(&d, "c");
    let out = c.expect("start", 1);
    assert!(out.stderr.contains("loop is in respawn backoff"), "{out}");
    c.expect("monitor", 1);
    // Stop ends the backoff (the record is forgotten at the stop level).
    c.expect("stop", 0);
    c.expect("monitor", 7);
    assert_eq!(d.process("loop").state, ProcessState::NotStarted);
}

#[test]
fn stop_returns_only_once_no_process_of_the_group_is_left() {
    let d = TestDaemon::builder(
        "s:slow:run:respawn:trap 'sleep 1; exit 0' INT; touch {dir}/ready; while :; do sleep 0.1; done\n",
    )
    .term_after(5.0)
    .start();
    let s = Agent::new(&d, "s");
    s.expect("start", 0);
    d.wait_file("ready");
    let pid = d.wait_running("slow");
    let began = Instant::now();
    s.expect("stop", 0);
    assert!(began.elapsed() >= Duration::from_millis(900), "stop returned before the trap ran out");
    assert!(!isinit_e2e::asserts::pid_alive(pid), "stop returned with {pid} still alive");
}

#[test]
fn start_gives_up_within_the_operation_timeout_with_a_reason() {
    let d = TestDaemon::start("w:long:run:wait:exec sleep 1000\n");
    let began = Instant::now();
    let out = Agent::new(&d, "w").timeout_ms(3_000).expect("start", 1);
    let took = began.elapsed();
    assert!(took < Duration::from_millis(3_000), "the agent overran its 3 s timeout: {took:?}");
    assert!(took >= Duration::from_millis(2_500), "gave up too early: {took:?}");
    assert!(out.stderr.contains("ocf-exit-reason:group w not settled at level run after 2s"), "{out}");
}

#[test]
fn promote_and_demote_switch_between_the_two_levels() {
    let d = TestDaemon::start(TAB);
    let plain = Agent::new(&d, "web");
    plain.expect("promote", 3);
    plain.expect("demote", 3);
    let web = plain.param("promoted_level", "primary");
    web.expect("start", 0);
    web.expect("monitor", 0);
    web.expect("promote", 0);
    d.wait_running("extra");
    web.expect("monitor", 8);
    web.expect("promote", 0);
    web.expect("demote", 0);
    web.expect("monitor", 0);
    assert_eq!(d.process("extra").state, ProcessState::NotStarted);
    web.expect("stop", 0);
    web.expect("monitor", 7);
}

#[test]
fn a_daemon_that_is_not_running_is_stopped_but_cannot_start() {
    let mut d = TestDaemon::start(TAB);
    let web = Agent::new(&d, "web");
    web.expect("start", 0);
    d.ok(&["shutdown", "--wait"]);
    d.wait_exit();
    web.expect("monitor", 7);
    web.expect("stop", 0);
    let out = web.expect("start", 1);
    assert!(out.stderr.contains("isinit daemon not running"), "{out}");
}
