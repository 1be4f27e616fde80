//! SPEC §17: held listening sockets (`:::listen:`). The daemon binds an
//! entry's sockets, passes them by systemd's socket-activation protocol,
//! and keeps them open across `restart`, a SIGKILL respawn and `reexec`:
//! a client connecting all the while is never refused. The same service
//! binding its own port is refused during the same restarts (which shows
//! the measurement can see a refusal). Sockets close when their entry
//! leaves its level; a port in use is a clear start error. And
//! `MAINPID=` (the same issue): a service that hands over to a new main
//! process keeps running as that process.
//!
//! `measure_refusals` (ignored; `cargo test -p isinit-e2e --test listen
//! -- --ignored --nocapture`) prints the table of docs/src/restarts.md.

use isinit_e2e::services::{free_port, skip_without_python};
use isinit_e2e::{DEADLINE, TestDaemon, wait_until};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// `serve.py LOG [PORT]`: answers `hi PID` to every connection and closes
/// it. Without PORT it must have been socket-activated: `LISTEN_PID` its
/// own pid and `LISTEN_FDS` ≥ 1, else it exits 3 saying why; it appends
/// `PID LISTEN_FDS LISTEN_FDNAMES` to LOG and serves every passed socket.
/// With PORT it binds 127.0.0.1:PORT itself, as a service that is not
/// socket-activated does.
const SERVE_PY: &str = r#"
import os, selectors, socket, sys
pid = os.getpid()
if len(sys.argv) > 2:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", int(sys.argv[2])))
    s.listen(128)
    socks = [s]
else:
    fds = int(os.environ.get("LISTEN_FDS", "0"))
    if os.environ.get("LISTEN_PID") != str(pid) or fds < 1:
        sys.exit("not socket-activated: LISTEN_PID=%s pid=%d LISTEN_FDS=%d" % (os.environ.get("LISTEN_PID"), pid, fds))
    socks = [socket.socket(fileno=3 + i) for i in range(fds)]
with open(sys.argv[1], "a") as f:
    f.write("%d %d %s\n" % (pid, len(socks), os.environ.get("LISTEN_FDNAMES")))
sel = selectors.DefaultSelector()
for s in socks:
    sel.register(s, selectors.EVENT_READ)
while True:
    for key, _ in sel.select():
        c, _ = key.fileobj.accept()
        c.sendall(b"hi %d\n" % pid)
        c.close()
"#;

/// A daemon running `tab` ({port} replaced), with serve.py in its directory.
fn daemon(tab: &str, port: u16, cgroup: Option<&str>) -> TestDaemon {
    let mut b = TestDaemon::builder(&tab.replace("{port}", &port.to_string()))
        .respawn_pause(0.3)
        .term_after(1.0)
        .kill_after(1.0);
    if let Some(c) = cgroup {
        b = b.cgroup(c);
    }
    let mut d = b.prepare();
    std::fs::write(d.path("serve.py"), SERVE_PY).expect("write serve.py");
    d.restart();
    d
}

/// What a [`Load`] counted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Tally {
    /// Connections tried.
    attempted: u64,
    /// Refused at connect (`ECONNREFUSED`): the port was closed.
    refused: u64,
    /// Connected and answered `hi`.
    answered: u64,
    /// Connected (or failed otherwise) but got no answer: reset by a
    /// killed server, or timed out.
    unanswered: u64,
}

/// Counters shared by the load's threads.
#[derive(Default)]
struct Counts {
    attempted: AtomicU64,
    refused: AtomicU64,
    answered: AtomicU64,
    unanswered: AtomicU64,
}

/// Clients connecting to one address in a loop, one connection at a time
/// each, until dropped (so a failing test stops them too).
struct Load {
    stop: Arc<AtomicBool>,
    counts: Arc<Counts>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(addr: SocketAddr, clients: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let counts = Arc::new(Counts::default());
        let threads = (0..clients)
            .map(|_| {
                let (stop, counts) = (stop.clone(), counts.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        counts.attempted.fetch_add(1, Ordering::Relaxed);
                        let outcome = one_connection(addr);
                        let counter = match outcome {
                            Outcome::Refused => &counts.refused,
                            Outcome::Answered => &counts.answered,
                            Outcome::Unanswered => &counts.unanswered,
                        };
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        Load { stop, counts, threads }
    }

    fn tally(&self) -> Tally {
        let c = &self.counts;
        Tally {
            attempted: c.attempted.load(Ordering::Relaxed),
            refused: c.refused.load(Ordering::Relaxed),
            answered: c.answered.load(Ordering::Relaxed),
            unanswered: c.unanswered.load(Ordering::Relaxed),
        }
    }

    /// Waits until `more` connections beyond `since` were answered.
    #[track_caller]
    fn wait_answered(&self, since: u64, more: u64, what: &str) {
        wait_until(DEADLINE, &format!("{more} answered connections {what}"), || self.tally().answered >= since + more);
    }

    /// Stops the clients; the final counts.
    fn finish(mut self) -> Tally {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        self.tally()
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

enum Outcome {
    Refused,
    Answered,
    Unanswered,
}

fn one_connection(addr: SocketAddr) -> Outcome {
    let mut stream = match TcpStream::connect_timeout(&addr, Duration::from_secs(10)) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return Outcome::Refused,
        Err(_) => return Outcome::Unanswered,
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reply = Vec::new();
    match stream.read_to_end(&mut reply) {
        Ok(_) if reply.starts_with(b"hi ") => Outcome::Answered,
        _ => Outcome::Unanswered,
    }
}

/// The pid running `tag` once it differs from `old`.
#[track_caller]
fn new_pid(d: &TestDaemon, tag: &str, old: i32) -> i32 {
    let p = d.wait_process(tag, "running again under a new pid", |p| {
        p.pid.is_some_and(|pid| pid as i32 != old) && p.state == isinit_shared::protocol::ProcessState::Running
    });
    p.pid.map(|p| p as i32).expect("checked above")
}

/// The disruptions under load: `isinit restart`, then when `reexec`
/// `isinit reexec`, then a SIGKILL (the entry respawns). Each is followed
/// by `per_step` answered connections. Returns the tally of each step.
fn disrupt(d: &TestDaemon, load: &Load, per_step: u64, reexec: bool) -> Vec<(&'static str, Tally)> {
    let mut steps = Vec::new();
    let mut last = load.tally();
    load.wait_answered(last.answered, per_step, "before any restart");
    let mut mark = |name: &'static str, steps: &mut Vec<(&'static str, Tally)>| {
        let now = load.tally();
        steps.push((
            name,
            Tally {
                attempted: now.attempted - last.attempted,
                refused: now.refused - last.refused,
                answered: now.answered - last.answered,
                unanswered: now.unanswered - last.unanswered,
            },
        ));
        last = now;
    };
    mark("before", &mut steps);

    let pid = d.wait_running("srv");
    d.ok(&["restart", "srv"]);
    let pid = new_pid(d, "srv", pid);
    load.wait_answered(load.tally().answered, per_step, "after the restart");
    mark("isinit restart", &mut steps);

    // The reexec comes before the respawn: a service that keeps running
    // keeps its own copy of the socket anyway; what matters is that the
    // new image still holds it when the service next dies.
    if reexec {
        d.ok(&["reexec"]);
        load.wait_answered(load.tally().answered, per_step, "after the reexec");
        mark("isinit reexec", &mut steps);
    }

    kill(Pid::from_raw(pid), Signal::SIGKILL).expect("SIGKILL the service");
    new_pid(d, "srv", pid);
    load.wait_answered(load.tally().answered, per_step, "after the respawn");
    mark("SIGKILL, respawn", &mut steps);
    steps
}

fn total(steps: &[(&str, Tally)]) -> Tally {
    steps.iter().fold(Tally::default(), |a, (_, t)| Tally {
        attempted: a.attempted + t.attempted,
        refused: a.refused + t.refused,
        answered: a.answered + t.answered,
        unanswered: a.unanswered + t.unanswered,
    })
}

#[test]
fn held_sockets_refuse_nothing_across_restart_respawn_and_reexec() {
    if skip_without_python() {
        return;
    }
    let port = free_port();
    let d = daemon(
        "web:srv:1:respawn:python3 {dir}/serve.py {dir}/started\n:::listen:srv tcp:127.0.0.1:{port}\n",
        port,
        None,
    );
    d.tell("web", "1");
    d.wait_running("srv");
    let load = Load::start(SocketAddr::from(([127, 0, 0, 1], port)), 2);
    let steps = disrupt(&d, &load, 300, true);
    let all = load.finish();
    eprintln!("{steps:?}");
    assert_eq!(all.refused, 0, "a held socket is never closed: {steps:?}");
    assert!(all.attempted >= 1000, "enough connections to mean something: {all:?}");
    // Every run was socket-activated: its own pid in LISTEN_PID (serve.py
    // exits otherwise), one socket, named after the entry.
    let started = d.lines("started");
    assert_eq!(started.len(), 3, "the first run, the restart, the respawn: {started:?}");
    for line in &started {
        let words: Vec<&str> = line.split(' ').collect();
        assert_eq!(words[1..], ["1", "srv"], "{line}");
    }
    assert!(!d.read(&format!("{}/srv.log", d.logdir().display())).contains("not socket-activated"));
}

#[test]
fn a_service_binding_its_own_port_refuses_connections_while_it_restarts() {
    if skip_without_python() {
        return;
    }
    let port = free_port();
    let d = daemon("web:srv:1:respawn:python3 {dir}/serve.py {dir}/started {port}\n", port, None);
    d.tell("web", "1");
    d.wait_running("srv");
    wait_until(DEADLINE, "the service to listen", || TcpStream::connect(("127.0.0.1", port)).is_ok());
    let load = Load::start(SocketAddr::from(([127, 0, 0, 1], port)), 2);
    let steps = disrupt(&d, &load, 300, false);
    let all = load.finish();
    eprintln!("{steps:?}");
    assert!(all.refused > 0, "the port is closed between two runs: {steps:?}");
}

#[test]
fn sockets_close_when_the_entry_leaves_its_level_and_a_busy_port_is_a_start_error() {
    if skip_without_python() {
        return;
    }
    let port = free_port();
    let d = daemon(
        "web:srv:1:respawn:python3 {dir}/serve.py {dir}/started\n\
         web:other:1,2:respawn:sleep 1000\n\
         :::listen:srv tcp:127.0.0.1:{port}\n:::listen:srv unix:{dir}/srv.sock\n",
        port,
        Some("none"), // the posix_spawn path (the other tests use clone3 where cgroups are writable)
    );
    d.tell("web", "1");
    d.wait_running("srv");
    wait_until(DEADLINE, "the service to start", || !d.read("started").is_empty());
    let first = d.lines("started");
    assert_eq!(first[0].split(' ').skip(1).collect::<Vec<_>>(), ["2", "srv:srv"], "{first:?}");
    let json: serde_json::Value = serde_json::from_str(&d.ok(&["status", "--json"])).expect("json");
    let row = json["processes"].as_array().and_then(|rows| rows.iter().find(|p| p["tag"] == "srv")).expect("srv row");
    let sock = d.path("srv.sock");
    assert_eq!(row["listen"], serde_json::json!([format!("tcp:127.0.0.1:{port}"), format!("unix:{}", sock.display())]));
    let mut reply = String::new();
    let mut unix = std::os::unix::net::UnixStream::connect(d.path("srv.sock")).expect("the unix socket serves");
    unix.read_to_string(&mut reply).expect("read");
    assert!(reply.starts_with("hi "), "{reply}");

    d.tell("web", "2");
    d.wait_process("srv", "stopped", |p| p.pid.is_none());
    wait_until(DEADLINE, "the port to be closed", || {
        TcpStream::connect(("127.0.0.1", port)).is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionRefused)
    });
    wait_until(DEADLINE, "the socket file to be removed", || !d.path("srv.sock").exists());

    // Someone else takes the port: the entry cannot start, and says why.
    let squatter = std::net::TcpListener::bind(("127.0.0.1", port)).expect("take the port");
    d.tell("web", "1");
    let failed = d.wait_process("srv", "failing to start", |p| p.start_error.is_some());
    let why = failed.start_error.unwrap_or_default();
    assert!(why.starts_with(&format!("cannot listen on tcp:127.0.0.1:{port}: ")), "{why}");
    assert!(d.daemon_stderr().contains(&why), "{}", d.daemon_stderr());
    // Once the port is free the next respawn attempt starts it.
    drop(squatter);
    d.wait_running("srv");
    wait_until(DEADLINE, "the port to answer again", || {
        TcpStream::connect(("127.0.0.1", port)).and_then(|mut s| s.read_to_string(&mut reply)).is_ok()
    });
}

/// The figures of docs/src/restarts.md: connections tried and refused
/// during each disruption, with and without `:::listen:`.
#[test]
#[ignore = "a measurement: run with --ignored --nocapture"]
fn measure_refusals() {
    if skip_without_python() {
        return;
    }
    let per_step = 2000;
    let mut rows = Vec::new();
    for held in [true, false] {
        let port = free_port();
        let tab = if held {
            "web:srv:1:respawn:python3 {dir}/serve.py {dir}/started\n:::listen:srv tcp:127.0.0.1:{port}\n"
        } else {
            "web:srv:1:respawn:python3 {dir}/serve.py {dir}/started {port}\n"
        };
        let d = daemon(tab, port, None);
        d.tell("web", "1");
        d.wait_running("srv");
        wait_until(DEADLINE, "the service to listen", || TcpStream::connect(("127.0.0.1", port)).is_ok());
        let load = Load::start(SocketAddr::from(([127, 0, 0, 1], port)), 2);
        let steps = disrupt(&d, &load, per_step, true);
        load.finish();
        for (name, t) in steps.into_iter().skip(1) {
            rows.push((if held { "held (:::listen:)" } else { "own bind" }, name, t));
        }
    }
    println!("| socket | disruption | connections | refused | answered | unanswered |");
    println!("| --- | --- | ---: | ---: | ---: | ---: |");
    for (socket, step, t) in &rows {
        println!("| {socket} | {step} | {} | {} | {} | {} |", t.attempted, t.refused, t.answered, t.unanswered);
    }
    let held: Vec<_> = rows.iter().filter(|r| r.0.starts_with("held")).map(|r| r.2).collect();
    assert_eq!(total(&held.iter().map(|t| ("", *t)).collect::<Vec<_>>()).refused, 0);
}

/// `upgrade.py DIR STRANGER`: the nginx binary upgrade in small. It forks
/// the new "master", which writes its pid to DIR/child and sleeps; then it
/// reports `MAINPID=STRANGER` (a process that is not the entry's: refused),
/// and `READY=1` with `MAINPID=` the child; then, once DIR/leave exists,
/// the old master exits.
const UPGRADE_PY: &str = r#"
import os, socket, sys, time
d, stranger = sys.argv[1], sys.argv[2]
def notify(msg):
    addr = os.environ["NOTIFY_SOCKET"]
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.sendto(msg.encode(), addr)
    s.close()
open(d + "/parent", "w").write("%d\n" % os.getpid())
r, w = os.pipe()
child = os.fork()
if child == 0:
    os.close(r)
    open(d + "/child", "w").write("%d\n" % os.getpid())
    os.close(w)
    while True:
        time.sleep(3600)
os.close(w)
os.read(r, 1)
notify("MAINPID=%s" % stranger)
notify("READY=1\nMAINPID=%d" % child)
while not os.path.exists(d + "/leave"):
    time.sleep(0.02)
"#;

#[test]
fn a_main_process_named_by_mainpid_is_followed_when_the_old_one_leaves() {
    if skip_without_python() {
        return;
    }
    let stranger = std::process::id();
    let tab = format!("g:web:1:notify:python3 {{dir}}/upgrade.py {{dir}} {stranger}\n");
    let mut d = TestDaemon::builder(&tab).respawn_pause(0.3).prepare();
    std::fs::write(d.path("upgrade.py"), UPGRADE_PY).expect("write upgrade.py");
    d.restart();
    d.tell("g", "1");
    wait_until(DEADLINE, "the new master", || !d.read("child").is_empty() && !d.read("parent").is_empty());
    let child: u32 = d.read("child").trim().parse().expect("child pid");
    let parent: i32 = d.read("parent").trim().parse().expect("parent pid");
    let row = d.wait_process("web", "following the new master", |p| p.pid == Some(child) && p.ready);
    assert_eq!(row.respawns, 0, "{row:?}");
    assert!(
        d.daemon_stderr().contains(&format!("MAINPID={stranger} ignored")),
        "a process that is not the entry's is refused: {}",
        d.daemon_stderr()
    );

    // The old master leaves: not an exit of the entry.
    std::fs::write(d.path("leave"), "").expect("leave");
    wait_until(DEADLINE, "the old master to be gone", || !std::path::Path::new(&format!("/proc/{parent}")).exists());
    let steady = isinit_e2e::wait::holds_for(Duration::from_millis(800), || {
        let p = d.process("web");
        p.pid == Some(child) && p.respawns == 0 && p.recent_exits.is_empty()
    });
    assert!(steady, "{:?}", d.process("web"));
    assert!(d.ok(&["status", "g"]).contains(&child.to_string()), "{}", d.ok(&["status", "g"]));

    // The new master's end is the entry's: it respawns.
    kill(Pid::from_raw(child as i32), Signal::SIGKILL).expect("SIGKILL the new master");
    let again = d.wait_process("web", "respawned", |p| p.respawns == 1 && p.pid.is_some_and(|p| p != child));
    assert_eq!(
        again.recent_exits.last().map(|e| e.status),
        Some(isinit_shared::protocol::ExitStatus::Signal(9)),
        "{again:?}"
    );
}
