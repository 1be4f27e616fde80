//! SPEC §17: liveness probes. A service that is alive but answers nothing
//! is stopped and respawned with the reason `probe failed`; a healthy one
//! never is; a `notify` entry that cannot speak sd_notify is made ready by
//! its first passing probe, which gates the entries after it; a watched
//! entry that stops sending `WATCHDOG=1` gets SIGABRT and is restarted.
//!
//! The services are python3's standard library: an HTTP server that can be
//! told to hang (by a file) or to wait before it listens.

use isinit_e2e::services::{free_port, skip_without_python};
use isinit_e2e::wait::holds_for;
use isinit_e2e::{TestDaemon, wait_until};
use isinit_shared::protocol::{ExitReason, GroupState, Health, ProcessState};
use std::time::Duration;

/// `srv.py PORT [hang:FILE] [listen-after:FILE]`: an HTTP/1.1 server on
/// 127.0.0.1:PORT answering 200 to every GET. With `hang:FILE`, a request
/// that finds FILE removes it and never answers (once: the next run is
/// healthy); with `listen-after:FILE`, it binds only once FILE exists.
const SRV_PY: &str = r#"
import http.server, os, sys, time
port = int(sys.argv[1])
opts = dict(a.split(":", 1) for a in sys.argv[2:])
if "listen-after" in opts:
    while not os.path.exists(opts["listen-after"]):
        time.sleep(0.02)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        hang = opts.get("hang")
        if hang and os.path.exists(hang):
            os.remove(hang)
            while True:
                time.sleep(3600)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *args):
        pass
http.server.HTTPServer.allow_reuse_address = True
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
"#;

/// A daemon running `tab` ({port} replaced), with the services in its
/// directory.
fn daemon(tab: &str, port: u16) -> TestDaemon {
    daemon_with(tab, port, &[])
}

/// [`daemon`] with more environment for the daemon.
fn daemon_with(tab: &str, port: u16, env: &[(&str, &str)]) -> TestDaemon {
    let mut d =
        TestDaemon::builder(&tab.replace("{port}", &port.to_string())).term_after(1.0).kill_after(1.0).prepare();
    std::fs::write(d.path("srv.py"), SRV_PY).expect("write srv.py");
    std::fs::write(d.path("dog.py"), DOG_PY).expect("write dog.py");
    std::fs::write(d.path("slow.py"), SLOW_PY).expect("write slow.py");
    let mut cmd = d.daemon_command();
    cmd.envs(env.iter().copied());
    d.restart_with(cmd);
    d
}

#[test]
fn a_hung_http_service_is_restarted_with_the_reason_probe_failed() {
    if skip_without_python() {
        return;
    }
    let port = free_port();
    let d = daemon(
        "web:srv:1:respawn:exec python3 {dir}/srv.py {port} hang:{dir}/hang\n\
         :::probe:srv every=0.2 timeout=0.3 failures=2 http://127.0.0.1:{port}/health\n",
        port,
    );
    d.tell("web", "1");
    let first = d.wait_process("srv", "srv to be healthy", |p| p.health == Some(Health::Healthy));
    let pid = first.pid.expect("running");
    assert_eq!(first.respawns, 0);
    assert!(d.ok(&["status", "web"]).contains("srv respawn running healthy"), "{}", d.ok(&["status", "web"]));

    std::fs::write(d.path("hang"), "").expect("hang");
    let again = d.wait_process("srv", "srv respawned after failing its probe", |p| {
        p.respawns >= 1 && p.pid.is_some_and(|new| new != pid)
    });
    let last = again.recent_exits.last().expect("an exit");
    assert_eq!(last.reason, Some(ExitReason::ProbeFailed), "{again:?}");
    assert_eq!(last.status, isinit_shared::protocol::ExitStatus::Signal(2), "SIGINT ended it: {again:?}");
    assert_eq!(again.health_reason.as_deref(), Some("timed out after 0.3s"), "{again:?}");
    d.wait_process("srv", "the new run to be healthy", |p| p.health == Some(Health::Healthy));

    let line = d.ok(&["status", "web"]);
    assert!(line.contains("srv respawn running healthy") && line.contains("stopped_for=\"probe failed\""), "{line}");
    let json: serde_json::Value = serde_json::from_str(&d.ok(&["status", "--json"])).expect("json");
    let row = json["processes"].as_array().and_then(|rows| rows.iter().find(|p| p["tag"] == "srv")).expect("srv row");
    assert_eq!(row["health"], "healthy");
    assert_eq!(
        row["recent_exits"].as_array().and_then(|e| e.last()).map(|e| e["reason"].clone()),
        Some("probe_failed".into())
    );
    assert!(d.daemon_stderr().contains("srv (pid"), "{}", d.daemon_stderr());
}

#[test]
fn healthy_services_are_never_restarted() {
    if skip_without_python() {
        return;
    }
    let port = free_port();
    let d = daemon(
        "web:srv:1:respawn:exec python3 {dir}/srv.py {port}\n\
         web:chk:1:respawn:exec sleep 1000\n\
         :::probe:srv every=0.1 timeout=1 failures=1 tcp:127.0.0.1:{port}\n\
         :::probe:chk every=0.1 timeout=2 failures=1 exec:test \"$ISINIT_TAG $ISINIT_GROUP $ISINIT_LEVEL\" = \"chk web 1\"\n",
        port,
    );
    d.tell("web", "1");
    for tag in ["srv", "chk"] {
        d.wait_process(tag, "a passing check", |p| p.health == Some(Health::Healthy));
    }
    let steady = holds_for(Duration::from_millis(1500), || {
        let snap = d.snapshot();
        snap.processes.iter().all(|p| p.respawns == 0 && p.health == Some(Health::Healthy))
    });
    assert!(steady, "{}", isinit_e2e::fixtures::summary(&d.snapshot()));
}

#[test]
fn an_exec_check_that_hangs_fails_on_its_timeout_and_is_killed() {
    if skip_without_python() {
        return;
    }
    let d = daemon(
        "g:svc:1:respawn:exec sleep 1000\n\
         :::probe:svc every=0.1 timeout=0.5 failures=1 \
         exec:if [ -e {dir}/hang ]; then echo $$ >> {dir}/check-pids; rm {dir}/hang; exec sleep 1000; fi\n",
        0,
    );
    d.tell("g", "1");
    let first = d.wait_process("svc", "a passing check", |p| p.health == Some(Health::Healthy));
    let first = first.pid.expect("running") as i32;
    std::fs::write(d.path("hang"), "").expect("hang");
    let again = d.wait_process("svc", "svc restarted", |p| p.respawns >= 1 && p.pid.is_some_and(|p| p as i32 != first));
    assert_eq!(again.health_reason.as_deref(), Some("timed out after 0.5s"), "{again:?}");
    assert_eq!(again.recent_exits.last().and_then(|e| e.reason), Some(ExitReason::ProbeFailed), "{again:?}");
    // The hung check was killed: no check process is left behind.
    // (A check killed before it wrote its pid left `hang` in place: the
    // next one writes it.)
    wait_until(isinit_e2e::DEADLINE, "a hung check's pid", || !d.read("check-pids").is_empty());
    let pid: i32 = d.lines("check-pids").first().and_then(|l| l.trim().parse().ok()).expect("a pid");
    wait_until(isinit_e2e::DEADLINE, "the hung check to be killed", || {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err()
    });
}

#[test]
fn a_notify_entry_without_sd_notify_is_ready_at_its_first_passing_probe() {
    if skip_without_python() {
        return;
    }
    let port = free_port();
    let d = daemon(
        "g:db:1:notify:exec python3 {dir}/srv.py {port} listen-after:{dir}/go\n\
         g:app:1:respawn:exec sleep 1000\n\
         :::probe:db every=0.1 timeout=0.5 failures=1 http://127.0.0.1:{port}/\n",
        port,
    );
    d.tell("g", "1");
    // A check has failed (nothing listens yet): db is not ready, app waits,
    // and failures before the first pass do not restart it.
    let db = d.wait_process("db", "a failed check", |p| p.health == Some(Health::Unhealthy));
    assert!(db.health_reason.as_deref().is_some_and(|r| r.contains("connection refused")), "{db:?}");
    let waiting = holds_for(Duration::from_millis(500), || {
        let snap = d.snapshot();
        let app = isinit_e2e::fixtures::find(&snap, "app").map(|p| p.state);
        let db = isinit_e2e::fixtures::find(&snap, "db").map(|p| (p.ready, p.respawns));
        app == Some(ProcessState::NotStarted) && db == Some((false, 0))
    });
    assert!(waiting, "{}", isinit_e2e::fixtures::summary(&d.snapshot()));

    std::fs::write(d.path("go"), "").expect("go");
    d.wait_group("g", "1", GroupState::Done);
    let db = d.process("db");
    assert!(db.ready && db.health == Some(Health::Healthy) && db.respawns == 0, "{db:?}");
    d.wait_running("app");
}

/// `dog.py DIR`: writes `pid WATCHDOG_PID WATCHDOG_USEC` to DIR/env-PID,
/// then sends `WATCHDOG=1` every 0.1 s until DIR/stop exists. No core
/// file is left where the test runs.
const DOG_PY: &str = r#"
import os, resource, socket, sys, time
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
d = sys.argv[1]
with open(os.path.join(d, "env-%d" % os.getpid()), "w") as f:
    f.write("%d %s %s" % (os.getpid(), os.environ.get("WATCHDOG_PID"), os.environ.get("WATCHDOG_USEC")))
target = os.environ["NOTIFY_SOCKET"]
target = "\0" + target[1:] if target.startswith("@") else target
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
while True:
    if not os.path.exists(os.path.join(d, "stop")):
        s.sendto(b"WATCHDOG=1", target)
    time.sleep(0.1)
"#;

#[test]
fn a_watchdog_entry_that_stops_pinging_gets_sigabrt_and_is_restarted() {
    if skip_without_python() {
        return;
    }
    let d = daemon("w:svc:1:respawn:python3 {dir}/dog.py {dir}\n:::watchdog:svc 0.5\n", 0);
    d.tell("w", "1");
    let pid = d.wait_running("svc");
    wait_until(isinit_e2e::DEADLINE, "svc to write its environment", || !d.read(&format!("env-{pid}")).is_empty());
    assert_eq!(d.read(&format!("env-{pid}")), format!("{pid} {pid} 500000"), "WATCHDOG_PID is the leader's pid");
    // Pinging every 0.1 s: never stopped.
    assert!(holds_for(Duration::from_millis(1500), || d.process("svc").respawns == 0));

    std::fs::write(d.path("stop"), "").expect("stop");
    let again = d.wait_process("svc", "svc restarted by its watchdog", |p| p.respawns == 1 && p.pid.is_some());
    let last = again.recent_exits.last().expect("an exit");
    assert_eq!(
        (last.status, last.reason),
        (isinit_shared::protocol::ExitStatus::Signal(6), Some(ExitReason::Watchdog))
    );
    let line = d.ok(&["status", "w"]);
    assert!(line.contains("last=signal_6") && line.contains("stopped_for=\"watchdog\""), "{line}");
    assert!(d.daemon_stderr().contains("failed its watchdog (no WATCHDOG=1 for 0.5 seconds)"), "{}", d.daemon_stderr());
}

/// `slow.py DIR`: asks for 6 s more than the readiness timeout, appends its
/// pid to DIR/extended, says `READY=1` 2.5 s later.
const SLOW_PY: &str = r#"
import os, socket, sys, time
target = os.environ["NOTIFY_SOCKET"]
target = "\0" + target[1:] if target.startswith("@") else target
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b"EXTEND_TIMEOUT_USEC=6000000", target)
with open(os.path.join(sys.argv[1], "extended"), "a") as f:
    f.write("%d\n" % os.getpid())
time.sleep(2.5)
s.sendto(b"READY=1", target)
time.sleep(1000)
"#;

#[test]
fn extend_timeout_usec_gives_a_slow_notify_entry_more_time() {
    if skip_without_python() {
        return;
    }
    let d = daemon_with("g:db:1:notify:exec python3 {dir}/slow.py {dir}\n", 0, &[("ISINIT_READY_TIMEOUT", "1")]);
    d.tell("g", "1");
    d.wait_group("g", "1", GroupState::Done);
    let db = d.process("db");
    // (A run the loaded machine kept from asking within 1 s is restarted:
    // that is the timeout doing its job. The run that asked is not.)
    let pid = db.pid.expect("running").to_string();
    assert!(db.ready && d.lines("extended").contains(&pid), "{db:?} {:?}", d.lines("extended"));
    assert!(d.daemon_stderr().contains("db: readiness deadline extended by 6 seconds"), "{}", d.daemon_stderr());
}

#[test]
fn probes_go_on_after_a_reexec() {
    if skip_without_python() {
        return;
    }
    let port = free_port();
    let d = daemon(
        "web:srv:1:respawn:exec python3 {dir}/srv.py {port} hang:{dir}/hang\n\
         :::probe:srv every=0.2 timeout=0.3 failures=2 http://127.0.0.1:{port}/\n",
        port,
    );
    d.tell("web", "1");
    let pid = d.wait_process("srv", "srv to be healthy", |p| p.health == Some(Health::Healthy)).pid;
    d.ok(&["reexec"]);
    // The new image knows the probe (it is handed over with the file) and
    // checks the process it took over.
    let after = d.wait_process("srv", "srv checked by the new image", |p| p.health == Some(Health::Healthy));
    assert_eq!(after.pid, pid, "kept across the reexec");
    std::fs::write(d.path("hang"), "").expect("hang");
    let again = d.wait_process("srv", "srv restarted", |p| p.respawns == 1 && p.pid.is_some() && p.pid != pid);
    assert_eq!(again.recent_exits.last().and_then(|e| e.reason), Some(ExitReason::ProbeFailed), "{again:?}");
}
