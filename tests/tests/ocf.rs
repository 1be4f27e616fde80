//! The OCF resource agent `ocf:isinit:group` (packaging/ocf/group →
//! `isinit ocf ACTION`) against a real daemon: its exit codes action by
//! action, and resource-agents' `ocf-tester`. A whole Pacemaker cluster
//! driving it is in `pacemaker.rs`.

use isinit_client::daemon_lock::DaemonLock;
use isinit_client::held;
use isinit_e2e::ocf::{Agent, Planted, install_agent, is_root, missing_tools, path_with_isinit, wrapper_meta_data};
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
    // Behind Pacemaker's back (forced: the group is the resource's):
    // another level with processes alive fails.
    d.ok(&["tell", "web", "maint", "--force"]);
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

/// The agent as Pacemaker runs it for resource `web` on node `node3`.
fn as_pacemaker(agent: &Agent, action: &str) -> isinit_e2e::fixtures::Cli {
    let mut cmd = agent.command(action);
    cmd.env("OCF_RESOURCE_INSTANCE", "web").env("OCF_RESKEY_CRM_meta_on_node", "node3");
    let out = run(cmd, DEADLINE + Duration::from_secs(20));
    assert_eq!(out.code(), Some(0), "agent {action}\n{out}");
    out
}

#[test]
fn a_group_the_agent_started_is_owned_until_its_stop() {
    let d = TestDaemon::start(TAB);
    let web = Agent::new(&d, "web");
    as_pacemaker(&web, "start");
    assert_eq!(d.ok(&["status", "web"]).lines().next(), Some("web run DONE owner=pacemaker:web@node3"));
    let audit = d.snapshot().audit.last().map(|a| a.request.clone());
    assert_eq!(audit.as_deref(), Some("tell web run by pacemaker:web@node3"));
    let json: serde_json::Value = serde_json::from_str(&d.ok(&["status", "--json"])).expect("json");
    let owner = json["groups"].as_array().and_then(|g| g.iter().find(|g| g["name"] == "web")).map(|g| &g["owner"]);
    assert_eq!(owner.map(|o| (o["resource"].clone(), o["node"].clone())), Some(("web".into(), "node3".into())));

    // An operator's tell is refused and changes nothing; --force goes through.
    let refused = d.fails(&["tell", "web", "maint"]);
    assert!(refused.contains("group web is owned by pacemaker:web@node3") && refused.contains("--force"), "{refused}");
    assert_eq!(d.snapshot().group("web").and_then(|g| g.level.clone()).as_deref(), Some("run"));
    d.ok(&["tell", "web", "maint", "--force"]);
    d.wait_group("web", "maint", GroupState::Done);
    let audit = d.snapshot().audit.last().map(|a| a.request.clone());
    assert_eq!(audit.as_deref(), Some("tell web maint forced over pacemaker:web@node3"));
    as_pacemaker(&web, "start");

    // The owner survives a reexec.
    d.ok(&["reexec"]);
    assert!(d.ok(&["status"]).contains("web run DONE owner=pacemaker:web@node3"));

    // Pacemaker's stop ends the ownership: the group is anyone's again.
    as_pacemaker(&web, "stop");
    let snap = d.snapshot();
    assert_eq!(snap.group("web").and_then(|g| g.owner.clone()), None);
    assert_eq!(
        snap.audit.last().map(|a| a.request.as_str()),
        Some("tell web 0 by pacemaker:web@node3, releasing the group")
    );
    d.tell("web", "maint");
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

#[test]
fn after_a_kill_9_of_the_daemon_monitor_says_the_group_runs() {
    let mut d = TestDaemon::start(TAB);
    let web = Agent::new(&d, "web");
    web.expect("start", 0);
    let srv = d.wait_running("srv");
    d.kill_daemon();
    isinit_e2e::asserts::assert_alive(srv, "srv after the daemon's kill -9");
    // Unsupervised, but running: not "stopped", or Pacemaker would start
    // it on another node while it runs here.
    let out = web.expect("monitor", 1);
    assert!(out.stderr.contains(&format!("srv (pid {srv})")), "{out}");
    // A group of which nothing runs is not running, daemon or not.
    Agent::new(&d, "other").expect("monitor", 7);
}

#[test]
fn stop_without_a_daemon_stops_the_group_and_holds_it_across_a_daemon_restart() {
    let mut d = TestDaemon::start(TAB);
    let web = Agent::new(&d, "web");
    web.expect("start", 0);
    d.tell("other", "run");
    let srv = d.wait_running("srv");
    let o1 = d.wait_running("o1");
    d.kill_daemon();
    let out = web.expect("stop", 0);
    assert!(out.stderr.contains("stopped the 1 process(es) of group web"), "{out}");
    assert!(!isinit_e2e::asserts::pid_alive(srv), "stop returned 0 with srv (pid {srv}) alive");
    isinit_e2e::asserts::assert_alive(o1, "another group's process");
    web.expect("monitor", 7);
    assert!(held::path(&d.socket(), "web").is_file(), "no hold mark");
    // A daemon started again on the same state file (as systemd's
    // Restart=on-failure does) does not bring the group back...
    d.restart();
    let snap = d.snapshot();
    assert_eq!(snap.group("web").and_then(|g| g.level.clone()), None, "web restored: {:?}", snap.group("web"));
    assert!(snap.processes_of("web").all(|p| p.pid.is_none()), "a process of web runs again");
    assert_eq!(snap.group("other").and_then(|g| g.level.clone()).as_deref(), Some("run"), "other is restored");
    assert!(d.daemon_stderr().contains("group web is held stopped by the OCF agent's stop"));
    web.expect("monitor", 7);
    // ...until the agent's next start.
    web.expect("start", 0);
    d.wait_running("srv");
    assert!(!held::path(&d.socket(), "web").exists(), "start left the hold mark");
}

#[test]
fn a_stop_with_the_daemon_also_holds_the_group_against_a_restart() {
    let mut d = TestDaemon::start(TAB);
    let web = Agent::new(&d, "web");
    web.expect("start", 0);
    web.expect("stop", 0);
    // Behind the agent's back the group is told again, then the daemon
    // dies: the next daemon must not restore what the agent stopped.
    d.tell("web", "run");
    let srv = d.wait_running("srv");
    d.kill_daemon();
    d.restart();
    isinit_e2e::asserts::wait_gone(srv, "the held group's leftover");
    assert_eq!(d.snapshot().group("web").and_then(|g| g.level.clone()), None);
}

#[test]
fn marked_processes_of_another_uid_are_not_the_groups() {
    if !is_root() {
        eprintln!("skipped: starting a process as another uid needs root");
        return;
    }
    let mut d = TestDaemon::start(TAB);
    let planted = Planted::start(&d, "web", "srv", 65534);
    d.kill_daemon();
    let web = Agent::new(&d, "web");
    web.expect("monitor", 7);
    web.expect("stop", 0);
    isinit_e2e::asserts::assert_alive(planted.pid(), "another user's process with the marks");
}

#[test]
fn monitor_waits_for_a_daemon_that_holds_its_lock_and_then_gives_up() {
    let mut d = TestDaemon::start(TAB);
    d.kill_daemon();
    // A daemon starting up holds the lock before it answers.
    let _lock = DaemonLock::try_acquire(&d.socket()).expect("lock file").expect("no daemon holds the lock");
    let began = Instant::now();
    let out = Agent::new(&d, "web").timeout_ms(3_000).expect("monitor", 1);
    let took = began.elapsed();
    assert!(out.stderr.contains("holds its lock but does not answer"), "{out}");
    assert!(took >= Duration::from_millis(2_000) && took < Duration::from_millis(3_000), "{took:?}");
}

#[test]
fn a_stop_while_the_daemon_shuts_down_waits_for_the_group_to_be_gone() {
    let mut d = TestDaemon::builder(
        "s:slow:run:respawn:trap 'sleep 1; exit 0' INT; touch {dir}/ready; while :; do sleep 0.1; done\n",
    )
    .term_after(5.0)
    .start();
    let s = Agent::new(&d, "s");
    s.expect("start", 0);
    d.wait_file("ready");
    let pid = d.wait_running("slow");
    d.ok(&["shutdown"]);
    isinit_e2e::wait::wait_until(DEADLINE, "the daemon to be halting", || {
        d.try_snapshot().map_or(true, |snap| snap.daemon.halting)
    });
    let out = s.expect("stop", 0);
    assert!(!isinit_e2e::asserts::pid_alive(pid), "stop returned with {pid} alive\n{out}");
    d.wait_exit();
}

#[test]
fn meta_data_succeeds_whatever_the_binary_parameter_says() {
    let d = TestDaemon::start(TAB);
    let out = Agent::new(&d, "web").param("binary", "/nonexistent/isinit").expect("meta-data", 0);
    let own = own_meta_data();
    assert_eq!(out.stdout, own);
    // With no isinit anywhere, the wrapper's own copy.
    let mut cmd = Agent::new(&d, "web").param("binary", "/nonexistent/isinit").command("meta-data");
    cmd.env("PATH", "/nonexistent");
    let bare = run(cmd, DEADLINE);
    assert_eq!(bare.code(), Some(0), "{bare}");
    assert!(bare.stdout.starts_with("<?xml") && bare.stdout.contains("<resource-agent name=\"group\""), "{bare}");
}

#[test]
fn the_wrappers_copy_of_the_meta_data_is_the_binarys() {
    let own = own_meta_data();
    assert!(
        wrapper_meta_data() == own,
        "packaging/ocf/group's META_DATA differs from `isinit ocf meta-data`: paste that output into it"
    );
}

/// `isinit ocf meta-data` of the binary under test.
fn own_meta_data() -> String {
    let mut cmd = Command::new(isinit_e2e::fixtures::isinit());
    cmd.args(["ocf", "meta-data"]);
    run(cmd, DEADLINE).ok()
}

#[test]
fn stop_without_a_daemon_signals_process_groups_when_cgroups_are_off() {
    let mut d = TestDaemon::builder(TAB).cgroup("none").start();
    let web = Agent::new(&d, "web");
    web.expect("start", 0);
    let srv = d.wait_running("srv");
    d.kill_daemon();
    web.expect("monitor", 1);
    web.expect("stop", 0);
    assert!(!isinit_e2e::asserts::pid_alive(srv), "stop returned 0 with srv (pid {srv}) alive");
    web.expect("monitor", 7);
}

#[test]
fn a_process_that_shed_its_marks_is_found_by_its_cgroup() {
    let Some((mut d, _root)) = isinit_e2e::cgroup::daemon(
        "web:srv:run:respawn:setsid env -i sh -c 'echo $$ > {dir}/shed; exec sleep 1000' & exec sleep 1000\n",
    ) else {
        return;
    };
    let web = Agent::new(&d, "web");
    web.expect("start", 0);
    d.wait_file("shed");
    let shed: i32 = d.read("shed").trim().parse().expect("pid");
    d.kill_daemon();
    web.expect("stop", 0);
    assert!(!isinit_e2e::asserts::pid_alive(shed), "stop returned 0 with the unmarked {shed} alive");
}
