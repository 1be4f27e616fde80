//! SPEC §7: the control socket. Hostile clients cannot crash, stall or
//! bloat the daemon (this file); subscribers get a snapshot then ordered
//! updates, and the JSON status is snake_case (`subscribe.rs`).

mod subscribe;

use isinit_client::frame::encode_frame;
use isinit_e2e::fixtures::{Cli, run};
use isinit_e2e::{DEADLINE, TestDaemon, procfs, wait_for};
use isinit_shared::protocol::codec::decode;
use isinit_shared::protocol::{GroupState, PROTOCOL_VERSION, Request, Response};
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

const TAB: &str = "g:r:1:respawn:exec sleep 1000\ng:w:2:wait:true\n";

/// How long `isinit status` may take while the daemon is under attack.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

fn connect(d: &TestDaemon) -> UnixStream {
    let s = UnixStream::connect(d.socket()).expect("connect");
    s.set_read_timeout(Some(DEADLINE)).expect("timeout");
    s
}

fn frame(msg: &Request) -> Vec<u8> {
    encode_frame(msg).expect("encode")
}

/// Reads one frame and decodes it as a response.
fn read_response(s: &mut UnixStream) -> Response {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).expect("a reply");
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).expect("a whole reply");
    decode(&body).expect("a well-formed reply")
}

/// Says hello and checks the daemon answered it.
fn hello(s: &mut UnixStream) {
    s.write_all(&frame(&Request::Hello { protocol: PROTOCOL_VERSION })).expect("hello");
    match read_response(s) {
        Response::Hello { protocol, .. } => assert_eq!(protocol, PROTOCOL_VERSION),
        other => panic!("expected a hello, got {other:?}"),
    }
}

/// Reads until the daemon closes the connection; panics if it keeps it
/// open past the deadline. Returns what it sent first.
#[track_caller]
fn expect_closed(mut s: UnixStream, what: &str) -> Vec<u8> {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return got,
            Err(e) => panic!("{what}: the daemon kept the connection open for {:?} ({e})", start.elapsed()),
        }
    }
}

/// `isinit status` answers promptly, and a tell still works.
#[track_caller]
fn assert_healthy(d: &TestDaemon, level: &str) {
    let out: Cli = run(d.command(&["status"]), ANSWER_WITHIN);
    assert!(out.success(), "status after a hostile client:\n{out}");
    d.tell("g", level);
    d.wait_group("g", level, GroupState::Done);
}

#[test]
fn garbage_bytes_are_refused() {
    let d = TestDaemon::start(TAB);
    let hello_frame = frame(&Request::Hello { protocol: PROTOCOL_VERSION });
    let mut random = Vec::new();
    let mut x: u32 = 0x2545_f491;
    for _ in 0..4096 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        random.push(x as u8);
    }
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("HTTP", b"GET / HTTP/1.1\r\nHost: isinit\r\n\r\n".to_vec()),
        ("random bytes", random),
        ("a small frame of garbage", [&[0, 0, 0, 16][..], &[0xff; 16]].concat()),
        ("an unknown request variant", [&[0, 0, 0, 2][..], &[0x7f, 0]].concat()),
        ("hello then garbage", [&hello_frame[..], &[0, 0, 0, 3, 0xfe, 0xfe, 0xfe]].concat()),
        (
            "hello with trailing bytes",
            [&[0, 0, 0, hello_frame.len() as u8 - 4 + 2][..], &hello_frame[4..], &[0, 0]].concat(),
        ),
    ];
    for (i, (what, bytes)) in cases.into_iter().enumerate() {
        let mut s = connect(&d);
        // The daemon may close before reading everything; that is fine.
        let _ = s.write_all(&bytes);
        expect_closed(s, what);
        assert_healthy(&d, if i % 2 == 0 { "2" } else { "1" });
    }
}

#[test]
fn a_huge_length_prefix_is_refused_without_allocating() {
    let d = TestDaemon::start(TAB);
    let peak_before = procfs::status_field(d.pid(), "VmPeak").expect("VmPeak");
    let kib = |s: &str| s.split_whitespace().next().and_then(|n| n.parse::<u64>().ok()).expect("kB");
    for (what, prefix, after_hello) in [
        ("0xFFFFFFFF before hello", [0xff; 4], false),
        ("0xFFFFFFFF after hello", [0xff; 4], true),
        ("1 MiB + 1 after hello", ((1u32 << 20) + 1).to_be_bytes(), true),
    ] {
        let mut s = connect(&d);
        if after_hello {
            hello(&mut s);
        }
        s.write_all(&prefix).expect("prefix");
        let _ = s.write_all(&[0u8; 1024]);
        // Refused at once: the daemon does not wait for gigabytes to come.
        expect_closed(s, what);
    }
    assert_healthy(&d, "2");
    let peak_after = procfs::status_field(d.pid(), "VmPeak").expect("VmPeak");
    let grown = kib(&peak_after).saturating_sub(kib(&peak_before));
    assert!(grown < 256 * 1024, "the daemon's peak virtual size grew by {grown} KiB");
}

#[test]
fn truncated_frames_are_harmless() {
    let d = TestDaemon::start(TAB);
    // A frame announcing 100 bytes, 10 sent, then the client closes.
    let mut s = connect(&d);
    s.write_all(&[0, 0, 0, 100]).expect("prefix");
    s.write_all(&[1; 10]).expect("part");
    drop(s);
    assert_healthy(&d, "1");
    // Half a length prefix.
    let mut s = connect(&d);
    s.write_all(&[0, 0]).expect("prefix");
    drop(s);
    assert_healthy(&d, "2");
    // Half a tell after the hello.
    let mut s = connect(&d);
    hello(&mut s);
    let tell = frame(&Request::Tell { group: "g".into(), level: "0".into(), dry_run: false });
    s.write_all(&tell[..tell.len() / 2]).expect("half a tell");
    drop(s);
    assert_healthy(&d, "1");
    assert_eq!(d.snapshot().group("g").and_then(|g| g.level.clone()).as_deref(), Some("1"), "half a tell did nothing");
}

#[test]
fn a_silent_client_does_not_stall_anyone_and_is_dropped() {
    let d = TestDaemon::start(TAB);
    let silent = connect(&d);
    let mut silent_after_hello = connect(&d);
    hello(&mut silent_after_hello);
    assert_healthy(&d, "1");
    assert_healthy(&d, "2");
    // The one that never said hello is let go after a while.
    expect_closed(silent, "a client that never says hello");
    drop(silent_after_hello);
    assert_healthy(&d, "1");
}

#[test]
fn a_wrong_protocol_version_gets_version_mismatch() {
    let d = TestDaemon::start(TAB);
    let mut s = connect(&d);
    s.write_all(&frame(&Request::Hello { protocol: PROTOCOL_VERSION + 41 })).expect("hello");
    match read_response(&mut s) {
        Response::VersionMismatch { daemon, client } => {
            assert_eq!((daemon, client), (PROTOCOL_VERSION, PROTOCOL_VERSION + 41));
        }
        other => panic!("expected VersionMismatch, got {other:?}"),
    }
    expect_closed(s, "after a version mismatch");

    // A first message that is not a hello is refused too.
    let mut s = connect(&d);
    s.write_all(&frame(&Request::Status)).expect("status");
    assert!(matches!(read_response(&mut s), Response::Error(_)), "a connection must start with hello");
    expect_closed(s, "after a request without hello");
    assert_healthy(&d, "1");
}

#[test]
fn the_cli_reports_a_version_mismatch_clearly() {
    let d = TestDaemon::builder(TAB).prepare();
    let fake = d.path("fake.s");
    let listener = std::os::unix::net::UnixListener::bind(&fake).expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let server = std::thread::spawn(move || {
        // Bounded, so that a client that never connects fails the test
        // instead of hanging it in `join`.
        let mut s = wait_for(DEADLINE, "the client to connect to the fake daemon", || {
            listener.accept().map(|(s, _)| s).map_err(|e| e.to_string())
        });
        s.set_nonblocking(false).expect("blocking");
        s.set_read_timeout(Some(DEADLINE)).expect("timeout");
        let mut len = [0u8; 4];
        s.read_exact(&mut len).expect("hello length");
        let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
        s.read_exact(&mut body).expect("hello");
        let reply = Response::VersionMismatch { daemon: PROTOCOL_VERSION + 1, client: PROTOCOL_VERSION };
        s.write_all(&encode_frame(&reply).expect("encode")).expect("reply");
    });
    let fake = fake.display().to_string();
    let stderr = d.fails(&["--socket", &fake, "status"]);
    server.join().expect("fake daemon");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("version"), "{stderr}");
    assert!(stderr.contains(&(PROTOCOL_VERSION + 1).to_string()), "names the daemon's version: {stderr}");
}

/// `isinit status` asks for the groups only; a daemon from before that
/// request (still running while its package is upgraded) refuses it as a
/// bad request, and the command asks it for the whole snapshot instead.
#[test]
fn status_asks_an_older_daemon_for_the_whole_snapshot() {
    let d = TestDaemon::start(TAB);
    d.tell("g", "1");
    d.wait_group("g", "1", GroupState::Done);
    let snapshot = d.snapshot();
    let expected = d.ok(&["status"]);
    let fake = d.path("older.s");
    let listener = std::os::unix::net::UnixListener::bind(&fake).expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let server = std::thread::spawn(move || {
        let mut asked = Vec::new();
        for _ in 0..2 {
            let mut s = wait_for(DEADLINE, "the client to connect to the fake daemon", || {
                listener.accept().map(|(s, _)| s).map_err(|e| e.to_string())
            });
            s.set_nonblocking(false).expect("blocking");
            s.set_read_timeout(Some(DEADLINE)).expect("timeout");
            let mut read_request = || {
                let mut len = [0u8; 4];
                s.read_exact(&mut len).expect("length");
                let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
                s.read_exact(&mut body).expect("body");
                decode::<Request>(&body).expect("a request")
            };
            let (_hello, request) = (read_request(), read_request());
            let hello = Response::Hello { protocol: PROTOCOL_VERSION, daemon: snapshot.daemon.clone() };
            let reply = match request {
                // What a daemon that cannot decode the request answers.
                Request::Groups => Response::Error(isinit_shared::protocol::ErrorReply::new(
                    isinit_shared::protocol::ErrorKind::Rejected,
                    "bad request: malformed message: unexpected variant index",
                )),
                _ => Response::Snapshot(Box::new(snapshot.clone())),
            };
            let mut out = encode_frame(&hello).expect("encode");
            out.extend(encode_frame(&reply).expect("encode"));
            s.write_all(&out).expect("reply");
            asked.push(request);
        }
        asked
    });
    let fake = fake.display().to_string();
    let out = d.ok(&["--socket", &fake, "status"]);
    assert_eq!(server.join().expect("fake daemon"), [Request::Groups, Request::Status]);
    assert_eq!(out, expected, "the same lines from the whole snapshot");
    assert!(out.starts_with("g 1 DONE"), "{out}");
}

/// The command line sends its request with its hello; both replies then
/// come back in one write, so the client is woken once.
#[test]
fn a_request_sent_with_the_hello_is_answered_with_it() {
    let d = TestDaemon::start(TAB);
    let mut s = connect(&d);
    let mut opening = frame(&Request::Hello { protocol: PROTOCOL_VERSION });
    opening.extend(frame(&Request::Tell { group: "g".into(), level: "1".into(), dry_run: false }));
    s.write_all(&opening).expect("hello and tell");
    let mut got = vec![0u8; 64 * 1024];
    let n = s.read(&mut got).expect("the replies");
    let mut replies = &got[..n];
    let mut read = Vec::new();
    while !replies.is_empty() {
        let len = u32::from_be_bytes(replies[..4].try_into().unwrap()) as usize;
        read.push(decode::<Response>(&replies[4..4 + len]).expect("a whole reply in the same read"));
        replies = &replies[4 + len..];
    }
    assert!(matches!(read.as_slice(), [Response::Hello { .. }, Response::Ok { .. }]), "{read:?}");
    d.wait_group("g", "1", GroupState::Done);
    // A hello on its own is still answered at once.
    let mut s = connect(&d);
    hello(&mut s);
}

#[test]
fn a_client_vanishing_mid_request_is_harmless() {
    let d = TestDaemon::start(TAB);
    d.tell("g", "1");
    d.wait_running("r");
    let requests = [
        Request::Status,
        Request::Subscribe,
        Request::Logs { tag: "r".into(), lines: 10, follow: true },
        Request::Logs { tag: "r".into(), lines: 10, follow: false },
        Request::Tell { group: "g".into(), level: "2".into(), dry_run: true },
    ];
    for (i, request) in requests.iter().enumerate() {
        for _ in 0..5 {
            let mut s = connect(&d);
            hello(&mut s);
            s.write_all(&frame(request)).expect("request");
            drop(s); // gone before the reply
        }
        assert_healthy(&d, if i % 2 == 0 { "2" } else { "1" });
    }
}

#[test]
fn many_idle_connections_without_hello_do_not_lock_out_the_operator() {
    let d = TestDaemon::start(TAB);
    let idle: Vec<UnixStream> = (0..300).map(|_| connect(&d)).collect();
    let start = Instant::now();
    wait_for(DEADLINE, "`isinit status` to answer with 300 idle connections open", || {
        let out = run(d.command(&["status"]), ANSWER_WITHIN);
        if out.success() { Ok(()) } else { Err(out.to_string()) }
    });
    eprintln!("status answered after {:?} with 300 silent connections open", start.elapsed());
    d.tell("g", "1");
    d.wait_group("g", "1", GroupState::Done);
    drop(idle);
    assert_healthy(&d, "2");
}

/// Runs `hold-connections` as uid 65534 with `n` connections; returns the
/// running helper (holding them until dropped) and how many it holds.
fn hold_as_nobody(d: &TestDaemon, n: usize, mode: &str) -> (std::process::Child, usize) {
    let mut child = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_hold-connections"))
        .arg(d.socket())
        .arg(n.to_string())
        .arg(mode)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run hold-connections");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("piped");
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).expect("held K");
    let held = line.trim().strip_prefix("held ").and_then(|k| k.parse().ok()).unwrap_or_else(|| panic!("{line:?}"));
    (child, held)
}

#[test]
fn a_flood_of_unprivileged_idle_readers_does_not_lock_out_the_operator() {
    if !nix::unistd::geteuid().is_root() || std::process::Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("note: needs root and setpriv (util-linux) to connect as another user; skipped");
        return;
    }
    let d = TestDaemon::start(TAB);
    std::fs::set_permissions(d.dir(), std::fs::Permissions::from_mode(0o755)).expect("chmod dir");
    std::fs::set_permissions(d.socket(), std::fs::Permissions::from_mode(0o666)).expect("chmod socket");
    for mode in ["hello", "silent"] {
        let (mut helper, held) = hold_as_nobody(&d, 300, mode);
        assert!(held >= 200, "{mode}: the flood is real: {held} connections held");
        // Root is served at once, however many readers hold their slots.
        assert_healthy(&d, if mode == "hello" { "1" } else { "2" });
        drop(helper.stdin.take());
        let _ = helper.wait();
    }
}
