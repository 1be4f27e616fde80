//! Readiness for systemd (`Type=notify`): the daemon speaks sd_notify on
//! `$NOTIFY_SOCKET` — `READY=1` only once its control socket answers,
//! `STATUS=` as groups change state, `RELOADING=1` + `MONOTONIC_USEC=` then
//! `READY=1` around a reload, `STOPPING=1` at shutdown — and its children
//! never see the variable. A datagram socket of the test stands in for
//! systemd.

use isinit_e2e::fixtures::{Cli, run};
use isinit_e2e::{DEADLINE, TestDaemon};
use isinit_shared::protocol::GroupState;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::mpsc;
use std::time::Instant;

/// One datagram the daemon sent; for `READY=1`, also what an `isinit
/// status` run the very moment it arrived returned.
struct Message {
    text: String,
    status_at_ready: Option<Cli>,
}

/// Receives every datagram on `listener` until the test is done with them
/// (or none came for the whole deadline); at the first `READY=1` runs
/// `status` at once, with no retry.
fn listen(listener: UnixDatagram, status: std::process::Command, tx: mpsc::Sender<Message>) {
    listener.set_read_timeout(Some(DEADLINE)).expect("read timeout");
    let mut status = Some(status);
    let mut buf = vec![0u8; 4096];
    while let Ok(n) = listener.recv(&mut buf) {
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        let status_at_ready = match text.lines().any(|l| l == "READY=1") {
            true => status.take().map(|cmd| run(cmd, DEADLINE)),
            false => None,
        };
        if tx.send(Message { text, status_at_ready }).is_err() {
            return;
        }
    }
}

/// The next message, or a panic naming what was expected.
#[track_caller]
fn next(rx: &mpsc::Receiver<Message>, what: &str) -> Message {
    rx.recv_timeout(DEADLINE).unwrap_or_else(|_| panic!("no sd_notify message within {DEADLINE:?}; expected {what}"))
}

/// Messages until one satisfies `want`; the ones skipped are returned too.
#[track_caller]
fn until(rx: &mpsc::Receiver<Message>, what: &str, want: impl Fn(&str) -> bool) -> Vec<String> {
    let start = Instant::now();
    let mut seen = Vec::new();
    while start.elapsed() < DEADLINE {
        let m = next(rx, what);
        let done = want(&m.text);
        seen.push(m.text);
        if done {
            return seen;
        }
    }
    panic!("timed out waiting for {what}; saw {seen:?}");
}

fn monotonic_usec() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into the timespec we own.
    assert_eq!(unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) }, 0);
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1000
}

#[test]
fn ready_status_reloading_and_stopping_in_order() {
    let mut d = TestDaemon::builder(
        "g:env:1:once:echo \"${NOTIFY_SOCKET-unset}\" > {dir}/child-notify-socket\ng:r:1:respawn:exec sleep 1000\n",
    )
    .prepare();
    let notify_path = d.path("notify.sock");
    let listener = UnixDatagram::bind(&notify_path).expect("cannot bind the notify socket");
    let (tx, rx) = mpsc::channel();
    let status = d.command(&["status"]);
    std::thread::spawn(move || listen(listener, status, tx));

    let mut cmd = d.daemon_command();
    cmd.env("NOTIFY_SOCKET", &notify_path);
    d.restart_with(cmd);

    // READY=1 first, with a status line, and the socket answered at once.
    let ready = next(&rx, "READY=1");
    assert!(ready.text.starts_with("READY=1\nSTATUS="), "{:?}", ready.text);
    assert!(ready.text.contains("1 group: 1 CONFIGURED; 0 processes alive"), "{:?}", ready.text);
    let status = ready.status_at_ready.expect("status was run at READY=1");
    assert!(status.success(), "READY=1 came before the control socket answered: {status}");
    assert_eq!(status.stdout, "g - CONFIGURED\n");

    // STATUS= follows group state changes.
    d.tell("g", "1");
    d.wait_group("g", "1", GroupState::Done);
    until(&rx, "STATUS= with the group DONE", |m| m.starts_with("STATUS=1 group: 1 DONE;"));
    // A `once` does not hold its group: DONE can come before its line is written.
    let written = d.path("child-notify-socket");
    isinit_e2e::wait::wait_until(isinit_e2e::wait::DEADLINE, "the once entry's line", || {
        std::fs::read_to_string(&written).is_ok_and(|t| t.ends_with('\n'))
    });
    assert_eq!(d.read("child-notify-socket").trim(), "unset", "a child inherited NOTIFY_SOCKET");

    // A reload: RELOADING=1 with the monotonic clock, then READY=1.
    let before = monotonic_usec();
    d.ok(&["reload"]);
    let after = monotonic_usec();
    let seen = until(&rx, "RELOADING=1", |m| m.starts_with("RELOADING=1"));
    let reloading = seen.last().unwrap();
    let usec: u64 = reloading
        .strip_prefix("RELOADING=1\nMONOTONIC_USEC=")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("RELOADING=1 without MONOTONIC_USEC=: {reloading:?}"));
    assert!(before <= usec && usec <= after, "MONOTONIC_USEC={usec} not within {before}..{after}");
    assert_eq!(next(&rx, "READY=1 after the reload").text, "READY=1");

    // Shutdown: STOPPING=1, and never READY=1 again.
    d.ok(&["shutdown", "--wait"]);
    let seen = until(&rx, "STOPPING=1", |m| m == "STOPPING=1");
    assert!(seen.iter().all(|m| !m.contains("READY=1")), "{seen:?}");
    drop(d);
    // The daemon is gone; whatever it sent last is already queued.
    let rest: Vec<String> = rx.try_iter().map(|m| m.text).collect();
    assert!(rest.iter().all(|m| m.starts_with("STATUS=")), "after STOPPING=1: {rest:?}");
}

#[test]
fn an_abstract_notify_socket_is_spoken_to_as_well() {
    let mut d = TestDaemon::builder("g:r:1:respawn:exec sleep 1000\n").prepare();
    let name = format!("isinit-e2e-notify-{}", std::process::id());
    let addr = SocketAddr::from_abstract_name(name.as_bytes()).expect("abstract address");
    let listener = UnixDatagram::bind_addr(&addr).expect("cannot bind the abstract notify socket");
    let (tx, rx) = mpsc::channel();
    let status = d.command(&["status"]);
    std::thread::spawn(move || listen(listener, status, tx));
    let mut cmd = d.daemon_command();
    cmd.env("NOTIFY_SOCKET", format!("@{name}"));
    d.restart_with(cmd);
    let ready = next(&rx, "READY=1");
    assert!(ready.text.starts_with("READY=1\n"), "{:?}", ready.text);
    assert!(ready.status_at_ready.expect("status run at READY=1").success());
}
