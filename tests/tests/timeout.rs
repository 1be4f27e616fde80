//! Every client request has a deadline (`--timeout`, `ISINIT_TIMEOUT`,
//! default 10 s): a stopped daemon still accepts connections — the kernel
//! completes them — so without one `status` and `tell` would hang forever.

use isinit_e2e::{TestDaemon, wait_until};
use isinit_shared::protocol::GroupState;
use nix::sys::signal::Signal;
use std::time::{Duration, Instant};

/// Resumes the daemon even if an assertion fails, so the teardown can stop it.
struct Resume<'a>(&'a TestDaemon);

impl Drop for Resume<'_> {
    fn drop(&mut self) {
        self.0.signal(Signal::SIGCONT);
    }
}

/// Whether `pid` is stopped (`T` in `/proc/PID/stat`).
fn stopped(pid: i32) -> bool {
    isinit_e2e::procfs::stat(pid).is_some_and(|s| s.state == 'T')
}

#[test]
fn requests_to_a_stopped_daemon_end_at_the_deadline() {
    let d = TestDaemon::start("g:s:1:respawn:sleep 1000\n");
    d.signal(Signal::SIGSTOP);
    let _resume = Resume(&d);
    wait_until(isinit_e2e::DEADLINE, "the daemon to be stopped", || stopped(d.pid()));
    let want = format!("isinit: daemon at {} did not answer within 0.5 s\n", d.socket().display());
    for args in
        [&["--timeout", "0.5", "status"][..], &["tell", "--timeout", "0.5", "g", "1"], &["reload", "--timeout=0.5"]]
    {
        let started = Instant::now();
        let stderr = d.fails(args);
        let took = started.elapsed();
        assert_eq!(stderr, want, "{args:?}");
        assert!(took >= Duration::from_millis(500), "{args:?} gave up early: {took:?}");
        // Generous for a loaded machine, far below "forever".
        assert!(took < Duration::from_secs(8), "{args:?} took {took:?}");
    }
    let mut env = d.command(&["status"]);
    env.env("ISINIT_TIMEOUT", "0.5");
    let cli = isinit_e2e::fixtures::run(env, isinit_e2e::DEADLINE);
    assert_eq!(cli.clone().fails(), want, "ISINIT_TIMEOUT: {cli}");

    // Resumed, the daemon answers the same command, and the tells above
    // were never applied.
    d.signal(Signal::SIGCONT);
    wait_until(isinit_e2e::DEADLINE, "the daemon to run again", || !stopped(d.pid()));
    assert!(d.ok(&["--timeout", "5", "status"]).starts_with("g - "), "g was never told");
    d.tell("g", "1");
    d.wait_group("g", "1", GroupState::Done);
}

/// A client that said hello, then sent a request the stopped daemon could
/// not read before the client gave up and left: resumed, the daemon drops
/// the request instead of carrying it out for no one.
#[test]
fn a_request_whose_client_left_is_not_carried_out() {
    use isinit_client::frame::encode_frame;
    use isinit_shared::protocol::{PROTOCOL_VERSION, Request};
    use std::io::{Read, Write};
    let d = TestDaemon::start("g:s:1:respawn:sleep 1000\n");
    let mut s = std::os::unix::net::UnixStream::connect(d.socket()).expect("connect");
    s.write_all(&encode_frame(&Request::Hello { protocol: PROTOCOL_VERSION }).unwrap()).expect("hello");
    s.set_read_timeout(Some(isinit_e2e::DEADLINE)).expect("timeout");
    let mut reply = [0u8; 4];
    s.read_exact(&mut reply).expect("the hello's reply");
    d.signal(Signal::SIGSTOP);
    let _resume = Resume(&d);
    wait_until(isinit_e2e::DEADLINE, "the daemon to be stopped", || stopped(d.pid()));
    let tell = Request::Tell { group: "g".into(), level: "1".into(), dry_run: false };
    s.write_all(&encode_frame(&tell).unwrap()).expect("tell");
    // Shut, not only closed: a child another test of this process is
    // starting may hold a copy of the descriptor between its clone and
    // its exec, and a close is not the last one then (CI failed so once).
    s.shutdown(std::net::Shutdown::Both).expect("shutdown");
    drop(s);
    d.signal(Signal::SIGCONT);
    wait_until(isinit_e2e::DEADLINE, "the daemon to run again", || !stopped(d.pid()));
    for _ in 0..3 {
        assert!(d.ok(&["status"]).starts_with("g - "), "g was told by a client that had left");
    }
}

#[test]
fn nonsense_timeouts_are_refused() {
    let d = TestDaemon::start("g:s:1:once:true\n");
    for bad in ["0", "-1", "nan", "1e19", "soon"] {
        let flag = format!("--timeout={bad}");
        let stderr = d.fails(&[&flag, "status"]);
        assert!(stderr.contains("--timeout"), "{bad}: {stderr}");
    }
}
