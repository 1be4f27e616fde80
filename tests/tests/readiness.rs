//! SPEC §11: `notify` entries. The group's next entry starts only once the
//! process reported `READY=1` on the `NOTIFY_SOCKET` the daemon gave it;
//! messages from other process groups do not count; `STATUS=` is shown;
//! no `READY=1` in time restarts the process like a respawn.
//!
//! The children are `sh` + `python3` sending real datagrams, as a service
//! linked with libsystemd would.

use isinit_e2e::services::skip_without_python;
use isinit_e2e::{DEADLINE, TestDaemon, wait_until};
use isinit_shared::protocol::{GroupState, ProcessState};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A child that speaks sd_notify. Steps, in order: `send:TEXT` (`\n` for a
/// newline) to `$NOTIFY_SOCKET` or to the address set by `to:ADDR`,
/// `wait:FILE` until the file exists, `env:FILE` to write what
/// `NOTIFY_SOCKET` it got. Then it becomes `sleep 1000`, keeping its pid.
const NOTIFY_PY: &str = r#"
import os, socket, sys, time
target = os.environ.get("NOTIFY_SOCKET")
for step in sys.argv[1:]:
    kind, _, arg = step.partition(":")
    if kind == "to":
        target = arg
    elif kind == "send":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.sendto(arg.replace("\\n", "\n").encode(), "\0" + target[1:] if target.startswith("@") else target)
        s.close()
    elif kind == "wait":
        while not os.path.exists(arg):
            time.sleep(0.02)
    elif kind == "env":
        with open(arg, "w") as f:
            f.write(os.environ.get("NOTIFY_SOCKET", "unset"))
os.execvp("sleep", ["sleep", "1000"])
"#;

fn daemon(tab: &str, ready_timeout: Option<f64>) -> TestDaemon {
    let mut d = TestDaemon::builder(tab).prepare();
    std::fs::write(d.path("notify.py"), NOTIFY_PY).expect("write notify.py");
    let mut cmd = d.daemon_command();
    if let Some(secs) = ready_timeout {
        cmd.env("ISINIT_READY_TIMEOUT", secs.to_string());
    }
    d.restart_with(cmd);
    d
}

#[test]
fn the_group_waits_for_ready_and_shows_the_status_text() {
    if skip_without_python() {
        return;
    }
    let d = daemon(
        "g:db:1:notify:exec python3 {dir}/notify.py env:{dir}/db-env 'send:STATUS=warming up' \
         wait:{dir}/more 'send:STATUS=still warming' wait:{dir}/go 'send:READY=1\\nSTATUS=serving 3 clients'\n\
         g:app:1:respawn:echo \"${NOTIFY_SOCKET-unset}\" > {dir}/app-env; exec sleep 1000\n",
        None,
    );
    d.tell("g", "1");
    let db = d.wait_process("db", "db to report its status", |p| p.status_text.as_deref() == Some("warming up"));
    assert_eq!((db.state, db.ready), (ProcessState::Running, false), "{db:?}");
    assert_eq!(d.read("db-env"), format!("{}.notify", d.socket().display()), "NOTIFY_SOCKET beside the socket");
    let line = d.ok(&["status", "g"]);
    let shown = line.contains("db notify running not_ready") && line.contains("status=\"warming up\"");
    assert!(shown, "{line}");
    // Anchor: the daemon has taken in db's second message, sent after its
    // first and after db started, so a start of app that a message or
    // db's start would wrongly cause has happened by now.
    std::fs::write(d.path("more"), "").expect("more");
    let db = d.wait_process("db", "db's second message", |p| p.status_text.as_deref() == Some("still warming"));
    assert!(!db.ready, "{db:?}");
    let snap = d.snapshot();
    let app = isinit_e2e::fixtures::find(&snap, "app").map(|p| (p.state, p.started_at_ms));
    let g = snap.groups.iter().find(|g| g.name == "g").map(|g| g.state);
    let waiting = app == Some((ProcessState::NotStarted, None)) && g == Some(GroupState::Starting);
    assert!(waiting, "app started before db was ready: {}", isinit_e2e::fixtures::summary(&snap));

    std::fs::write(d.path("go"), "").expect("go");
    d.wait_group("g", "1", GroupState::Done);
    let db = d.wait_process("db", "db ready", |p| p.ready);
    assert_eq!(db.status_text.as_deref(), Some("serving 3 clients"));
    d.wait_running("app");
    wait_until(DEADLINE, "app to write its environment", || !d.read("app-env").is_empty());
    assert_eq!(d.read("app-env").trim(), "unset", "only notify entries get NOTIFY_SOCKET");

    let json: serde_json::Value = serde_json::from_str(&d.ok(&["status", "--json"])).expect("json");
    let rows = json["processes"].as_array().expect("processes");
    let row = |tag: &str| rows.iter().find(|p| p["tag"] == tag).expect("row").clone();
    assert_eq!((row("db")["ready"].clone(), row("db")["mode"].clone()), (true.into(), "notify".into()));
    assert_eq!(row("db")["status_text"], "serving 3 clients");
    assert_eq!(row("app")["ready"], true, "a running respawn process is ready");
    assert!(d.daemon_stderr().contains("db: ready (READY=1)"), "{}", d.daemon_stderr());

    // Killed: respawned, and not ready until it says so again.
    let pid = d.wait_running("db");
    std::fs::remove_file(d.path("go")).expect("rm go");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL).expect("kill db");
    let again = d.wait_process("db", "db respawned", |p| p.pid.is_some_and(|new| new as i32 != pid));
    assert!(!again.ready && again.respawns == 1, "{again:?}");
    std::fs::write(d.path("go"), "").expect("go");
    d.wait_process("db", "db ready again", |p| p.ready);
}

#[test]
fn a_message_from_another_process_group_does_not_count() {
    if skip_without_python() {
        return;
    }
    let d = daemon(
        "g:db:1:notify:exec python3 {dir}/notify.py 'send:STATUS=waiting for go' wait:{dir}/go send:READY=1\n\
         g:app:1:respawn:exec sleep 1000\n\
         h:spoof:1:once:exec python3 {dir}/notify.py to:{dir}/init.s.notify 'send:READY=1\\nSTATUS=spoofed' \
         env:{dir}/spoof-env\n",
        None,
    );
    d.tell("g", "1");
    d.wait_process("db", "db to say it waits", |p| p.status_text.is_some());
    d.tell("h", "1");
    wait_until(DEADLINE, "spoof to have sent", || !d.read("spoof-env").is_empty());
    let spoof = d.wait_running("spoof");
    let refused = format!("its process group {spoof} is not that of a running notify entry");
    wait_until(DEADLINE, "the daemon to log the refusal", || d.daemon_stderr().contains(&refused));
    let db = d.process("db");
    assert_eq!((db.ready, db.status_text.as_deref()), (false, Some("waiting for go")), "{db:?}");
    assert_eq!(d.process("app").state, ProcessState::NotStarted);
    assert_eq!(d.read("spoof-env"), "unset", "a once entry gets no NOTIFY_SOCKET");

    std::fs::write(d.path("go"), "").expect("go");
    d.wait_group("g", "1", GroupState::Done);
    assert!(d.process("db").ready);
}

#[test]
fn no_ready_within_the_timeout_restarts_it_like_a_respawn() {
    if skip_without_python() {
        return;
    }
    // The first run never reports; the second reports after a second, as
    // the one-liner of the README does.
    let d = daemon(
        "g:db:1:notify:echo start >> {dir}/db-starts; \
         if [ $(wc -l < {dir}/db-starts) -lt 2 ]; then exec sleep 1000; fi; \
         exec python3 -c 'import os,socket,time; time.sleep(1); s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); \
         s.sendto(b\"READY=1\", os.environ[\"NOTIFY_SOCKET\"]); time.sleep(1000)'\n\
         g:app:1:respawn:exec sleep 1000\n",
        Some(1.5),
    );
    d.tell("g", "1");
    let first = d.wait_running("db");
    let said = "db did not report READY=1 within 1.5 seconds: stopping it to start it again";
    wait_until(DEADLINE, "the daemon to log the timeout", || d.daemon_stderr().contains(said));
    let again = d.wait_process("db", "db started again", |p| p.pid.is_some_and(|p| p as i32 != first));
    assert_eq!((again.respawns, again.ready), (1, false), "{again:?}");
    assert!(d.snapshot().notices.iter().any(|n| n.message == said), "the console's notices say why");
    assert_eq!(d.process("app").state, ProcessState::NotStarted, "still waiting for db");
    d.wait_group("g", "1", GroupState::Done);
    assert!(d.process("db").ready);
    d.wait_running("app");
    assert_eq!(d.lines("db-starts").len(), 2);
}

#[test]
fn the_ready_timeout_is_bounded() {
    let d = TestDaemon::builder("g:db:1:notify:exec sleep 1000\n").prepare();
    for bad in ["0", "-1", "1e300", "NaN"] {
        let mut cmd = d.daemon_command();
        cmd.arg(format!("--ready-timeout={bad}"));
        let out = isinit_e2e::fixtures::run(cmd, DEADLINE);
        assert!(!out.status.success(), "--ready-timeout {bad} accepted");
        assert!(out.stderr.contains("--ready-timeout"), "{out}");
    }
}

/// CPU time (user + system) of thread `tid` of `pid`, in clock ticks.
fn thread_cpu_ticks(pid: i32, tid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).expect("thread stat");
    let fields: Vec<&str> = stat[stat.rfind(')').expect("comm") + 2..].split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat(5); 11 and 12 after the state.
    fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
}

fn rss_kib(pid: i32) -> u64 {
    let rss = isinit_e2e::procfs::status_field(pid, "VmRSS").expect("VmRSS");
    rss.split_whitespace().next().and_then(|n| n.parse().ok()).expect("VmRSS in kB")
}

/// Sends datagrams to `target` from this (the test) process as fast as it
/// can until dropped; a local user who is no child of the daemon.
struct Flood {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Flood {
    fn start(target: PathBuf, message: String) -> Flood {
        let (stop, sent) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
        let (s, n) = (stop.clone(), sent.clone());
        let thread = std::thread::spawn(move || {
            let socket = UnixDatagram::unbound().expect("socket");
            socket.set_nonblocking(true).expect("nonblocking");
            while !s.load(Ordering::Relaxed) {
                if socket.send_to(message.as_bytes(), &target).is_ok() {
                    n.fetch_add(1, Ordering::Relaxed);
                } else {
                    std::thread::yield_now(); // the queue is full
                }
            }
        });
        Flood { stop, sent, thread: Some(thread) }
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Issue 16: the readiness socket is mode 0666. A flood from a process that
/// is not the daemon's child (this test), forging `READY=1` with the
/// waiting entry's `MAINPID`, never makes it ready, costs the runtime's
/// thread next to nothing (the reader drops it on its own thread), and
/// delays neither a tell's reply nor the real child's `READY=1`.
#[test]
fn a_flood_from_a_stranger_never_counts_and_does_not_reach_the_runtime() {
    if skip_without_python() {
        return;
    }
    let d = daemon(
        "g:db:1:notify:exec python3 {dir}/notify.py 'send:STATUS=waiting for go' wait:{dir}/go \
         'send:READY=1\\nSTATUS=serving'\n\
         h:other:1:respawn:exec sleep 1000\n",
        None,
    );
    d.tell("g", "1");
    let db = d.wait_process("db", "db to say it waits", |p| p.status_text.is_some());
    let db_pid = db.pid.expect("db runs");
    let forged = format!("READY=1\nMAINPID={db_pid}\nSTATUS=forged");
    let (daemon_pid, rss_before) = (d.pid(), rss_kib(d.pid()));
    let cpu_before = thread_cpu_ticks(daemon_pid, daemon_pid);
    let started = Instant::now();
    let flood = Flood::start(d.path("init.s.notify"), forged);

    // Anchor: the daemon has judged our datagrams (it logs the first ones).
    let refused = format!("notify message from pid {} ignored", std::process::id());
    wait_until(DEADLINE, "the daemon to refuse the flood", || d.daemon_stderr().contains(&refused));
    wait_until(DEADLINE, "a sizeable flood", || flood.sent.load(Ordering::Relaxed) >= 20_000);
    let db = d.process("db");
    assert!(!db.ready && db.status_text.as_deref() == Some("waiting for go"), "the forgery counted: {db:?}");

    // A tell is answered, and the real child's READY=1 counts, mid-flood.
    let asked = Instant::now();
    d.tell("h", "1");
    let tell_took = asked.elapsed();
    std::fs::write(d.path("go"), "").expect("go");
    d.wait_group("g", "1", GroupState::Done);
    let db = d.wait_process("db", "db ready", |p| p.ready);
    assert_eq!(db.status_text.as_deref(), Some("serving"));
    d.wait_running("other");
    // Keep flooding a while longer, so the CPU figure covers a real flood.
    wait_until(DEADLINE, "a second of flood", || started.elapsed() >= Duration::from_secs(1));
    let sent = flood.sent.load(Ordering::Relaxed);
    drop(flood);
    let wall = started.elapsed();
    let ticks = thread_cpu_ticks(daemon_pid, daemon_pid) - cpu_before;
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok().flatten().unwrap_or(100) as f64;
    let runtime_cpu = ticks as f64 / hz;
    let rss_after = rss_kib(daemon_pid);
    eprintln!(
        "flood: {sent} datagrams in {wall:?}; runtime thread CPU {runtime_cpu:.2} s; tell {tell_took:?}; \
         RSS {rss_before} -> {rss_after} KiB"
    );
    // Generous bounds for a loaded 2-core machine; a runtime thread that
    // reads every datagram spends most of the flood's wall time on it.
    assert!(runtime_cpu < wall.as_secs_f64() * 0.1, "the flood reached the runtime thread");
    assert!(tell_took < Duration::from_secs(5), "the tell waited behind the flood: {tell_took:?}");
    assert!(rss_after < rss_before + 16 * 1024, "the daemon grew: {rss_before} -> {rss_after} KiB");
    let log = d.daemon_stderr();
    let lines =
        log.lines().filter(|l| l.contains("notify message from pid") || l.contains("datagrams dropped")).count();
    assert!(lines <= 12, "one log line per datagram: {lines} lines for {sent} datagrams");
}
