//! SPEC §6: the daemon — one per socket, stale sockets, signals, shutdown,
//! the status file, and the audit trail.

use isinit_e2e::asserts::{assert_alive, pid_alive};
use isinit_e2e::fixtures::{Background, run};
use isinit_e2e::{DEADLINE, TestDaemon, wait_until};
use isinit_shared::protocol::{GroupState, ProcessState};
use nix::sys::signal::Signal;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::time::{Duration, Instant};

#[test]
fn nothing_runs_until_told() {
    let d = TestDaemon::start("g:r:1:respawn:echo ran > {dir}/ran; exec sleep 1000\nh:w:1:wait:echo ran > {dir}/ran\n");
    let snap = d.snapshot();
    assert!(snap.groups.iter().all(|g| g.state == GroupState::Configured && g.level.is_none()), "{snap:?}");
    assert!(snap.processes.iter().all(|p| p.state == ProcessState::NotStarted && p.pid.is_none()), "{snap:?}");
    d.wait_initstat("g - CONFIGURED\nh - CONFIGURED\n");
    assert!(!d.path("ran").exists());
}

#[test]
fn a_second_daemon_on_the_same_socket_is_refused() {
    let d = TestDaemon::start("g:r:1:respawn:exec sleep 1000\n");
    d.tell("g", "1");
    let r = d.wait_running("r");
    let out = run(d.daemon_command(), DEADLINE);
    let stderr = out.clone().fails();
    assert!(stderr.contains(&format!("already running, pid {}", d.pid())), "{out}");
    // The first daemon is unharmed and still owns the socket.
    assert_eq!(d.snapshot().daemon.pid as i32, d.pid());
    assert_eq!(d.wait_running("r"), r);
    assert!(d.socket().exists());
}

#[test]
fn a_stale_socket_is_replaced() {
    let mut d = TestDaemon::start("g:r:1:respawn:exec sleep 1000\n");
    let first = d.pid();
    d.kill_daemon();
    let meta = std::fs::symlink_metadata(d.socket()).expect("a SIGKILLed daemon leaves its socket file");
    assert!(meta.file_type().is_socket());
    assert!(d.fails(&["status"]).contains("not running"));

    d.restart();
    assert_ne!(d.pid(), first);
    d.tell("g", "1");
    d.wait_group("g", "1", GroupState::Done);
    d.wait_running("r");
}

#[test]
fn a_new_daemon_stops_what_a_killed_one_left_running() {
    let mut d = TestDaemon::builder(
        "g:r:1:respawn:exec sleep 1000\ng:bg:1:once:sleep 1000 & echo $! > {dir}/bg.pid; exec sleep 1000\n",
    )
    .term_after(1.0)
    .start();
    d.tell("g", "1");
    let r = d.wait_running("r");
    wait_until(DEADLINE, "the background job to record its pid", || !d.read("bg.pid").trim().is_empty());
    let bg: i32 = d.read("bg.pid").trim().parse().expect("pid");
    d.kill_daemon();
    assert_alive(r, "a child of the SIGKILLed daemon");
    assert_alive(bg, "a background job of the SIGKILLed daemon's child");

    // Without a state file (SPEC §10: levels survive in it), nothing can be
    // adopted: the new daemon answers only once the old processes are
    // stopped, so a tell can never run an entry twice.
    std::fs::remove_file(d.state_file()).expect("the killed daemon left its state file");
    d.restart();
    for (pid, what) in [(r, "the old respawn child"), (bg, "the old background job")] {
        wait_until(DEADLINE, &format!("{what} to be stopped"), || !pid_alive(pid));
    }
    assert!(d.daemon_stderr().contains("processes of a previous daemon"), "{}", d.daemon_stderr());
    d.tell("g", "1");
    assert_ne!(d.wait_running("r"), r);
}

#[test]
fn children_know_their_daemons_socket() {
    let d = TestDaemon::start("g:e:1:once:echo $ISINIT_SOCKET > {dir}/socket; exec sleep 1000\n");
    d.tell("g", "1");
    wait_until(DEADLINE, "the child to write its environment", || !d.read("socket").trim().is_empty());
    assert_eq!(d.read("socket").trim(), d.socket().display().to_string());
}

#[test]
fn sighup_reloads_the_file() {
    let d = TestDaemon::start("g:r:1:respawn:exec sleep 1000\n");
    d.tell("g", "1");
    let r = d.wait_running("r");

    d.write_tab("g:r:1:respawn:exec sleep 1000\ng:new:1:once:exec sleep 1000\nh:x:1:once:true\n");
    d.signal(Signal::SIGHUP);
    wait_until(DEADLINE, "group h to appear after SIGHUP", || d.snapshot().group("h").is_some());
    let new = d.wait_running("new");
    assert_eq!(d.wait_running("r"), r);

    // An invalid file on SIGHUP changes nothing; the errors go to the log.
    d.write_tab("g:r:1:respawn:exec sleep 1000\nbroken\n");
    d.signal(Signal::SIGHUP);
    let tab = d.tab_path().display().to_string();
    wait_until(DEADLINE, "the daemon to log the errors", || d.daemon_stderr().contains(&format!("{tab}:2:")));
    let snap = d.snapshot();
    assert!(snap.group("h").is_some(), "the previous file is still in force");
    assert_eq!(d.wait_running("new"), new);
    assert_eq!(d.wait_running("r"), r);
}

fn shuts_down_on(sig: Signal) {
    let mut d = TestDaemon::start("g:r:1:respawn:exec sleep 1000\ng:bg:1:once:sleep 1000 & exit 0\n");
    d.tell("g", "1");
    d.wait_group("g", "1", GroupState::Done);
    let r = d.wait_running("r");
    wait_until(DEADLINE, "the status file to be written", || d.initstat().exists());
    assert!(d.socket().exists());
    d.signal(sig);
    let status = d.wait_exit();
    assert_eq!(status.code(), Some(0), "{sig}: exit 0; stderr:\n{}", d.daemon_stderr());
    assert!(!d.initstat().exists(), "{sig}: status file removed");
    assert!(!d.socket().exists(), "{sig}: socket removed");
    assert!(!pid_alive(r), "{sig}: children stopped");
    assert!(d.marked_processes().is_empty(), "{sig}: {:?}", d.marked_processes());
}

#[test]
fn sigterm_shuts_down_cleanly() {
    shuts_down_on(Signal::SIGTERM);
}

#[test]
fn sigint_shuts_down_cleanly() {
    shuts_down_on(Signal::SIGINT);
}

/// Ignores SIGINT, so stopping it takes term_after; touches `ready` once
/// its trap is set.
const STUBBORN: &str = "g:stubborn:1:respawn:trap '' INT; touch {dir}/ready; while :; do sleep 0.05; done\n";

#[test]
fn shutdown_replies_at_once() {
    let mut d = TestDaemon::builder(STUBBORN).term_after(5.0).start();
    d.tell("g", "1");
    let stubborn = d.wait_running("stubborn");
    d.wait_file("ready");
    let out = d.ok(&["shutdown"]);
    assert!(!out.trim().is_empty(), "the daemon's reply is printed");
    // The stubborn child holds the daemon up for term_after (5 s).
    assert!(d.try_reap().is_none(), "the reply came before the daemon finished");
    assert_alive(stubborn, "the stubborn child, still being stopped");
    assert_eq!(d.ok(&["status"]), "g 1 HALTING\n", "status still answers while halting");
    d.wait_initstat("g 1 HALTING\n");
    let stderr = d.fails(&["tell", "g", "1"]);
    assert!(!stderr.is_empty(), "no tell while halting");
    assert!(d.wait_exit().success());
    assert!(!pid_alive(stubborn));
}

#[test]
fn shutdown_wait_returns_once_the_daemon_is_gone() {
    let mut d = TestDaemon::builder(STUBBORN).term_after(1.5).start();
    d.tell("g", "1");
    let stubborn = d.wait_running("stubborn");
    d.wait_file("ready");
    let start = Instant::now();
    d.ok(&["shutdown", "--wait"]);
    assert!(start.elapsed() >= Duration::from_millis(1400), "it waited for the stop: {:?}", start.elapsed());
    assert!(!pid_alive(stubborn), "everything stopped before --wait returned");
    assert!(!d.socket().exists(), "socket removed before --wait returned");
    assert!(!d.initstat().exists(), "status file removed before --wait returned");
    assert!(d.wait_exit().success());
}

#[test]
fn the_socket_is_created_mode_0660() {
    let d = TestDaemon::start("g:t:1:once:true\n");
    let meta = std::fs::metadata(d.socket()).expect("socket");
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o7777, 0o660);
}

#[test]
fn state_changes_are_audited_with_the_uid() {
    let d = TestDaemon::start("g:t:1:once:true\n");
    d.tell("g", "1");
    d.ok(&["reload"]);
    let json: serde_json::Value = serde_json::from_str(&d.ok(&["status", "--json"])).expect("json");
    let audit = json["audit"].as_array().expect("audit array");
    let uid = u64::from(nix::unistd::getuid().as_raw());
    let find = |request: &str| {
        audit.iter().find(|a| a["request"] == request).unwrap_or_else(|| panic!("no `{request}` in {audit:#?}"))
    };
    for request in ["tell g 1", "reload"] {
        let a = find(request);
        assert_eq!(a["uid"].as_u64(), Some(uid), "{a}");
        assert!(a["pid"].as_u64().is_some(), "{a}");
        assert!(a["at_ms"].as_u64().is_some(), "{a}");
    }
    assert!(audit.iter().all(|a| a["request"] != "status"), "reading is not audited: {audit:#?}");
}

#[test]
fn the_log_directive_copies_the_daemon_log_to_a_file() {
    let d = TestDaemon::start(":::log:{dir}/daemon.log\ng:t:1:once:true\n");
    d.tell("g", "1");
    wait_until(DEADLINE, "the audit line in the log file", || d.read("daemon.log").contains("tell g 1"));
    let r = d.read("daemon.log");
    assert!(!r.contains('\u{1b}'), "no colour codes in the log file:\n{r}");
}

#[test]
fn shutdown_ends_followers_and_subscribers() {
    let mut d = TestDaemon::start("g:r:1:respawn:echo hello; exec sleep 1000\n");
    d.tell("g", "1");
    d.wait_running("r");
    let err = std::fs::File::create(d.path("follow.err")).expect("stderr file");
    let mut follow = Background::spawn(d.command(&["logs", "r", "-f"]), err);
    follow.wait_line("hello");
    let (mut subscriber, _) = d.block_on(d.subscribe());

    d.ok(&["shutdown", "--wait"]);
    assert!(d.wait_exit().success());
    let status = follow.wait_exit();
    assert!(!status.success(), "`logs -f` reports that the daemon went away");
    assert!(d.read("follow.err").contains("daemon"), "{}", d.read("follow.err"));
    d.block_on(async {
        while tokio::time::timeout(DEADLINE, subscriber.recv()).await.expect("the stream ends").is_ok() {}
    });
}
