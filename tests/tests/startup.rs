//! Issue 6 defects of the daemon's start: two daemons racing for one
//! socket (3e), a signal while a previous daemon's processes are stopped
//! (3f), and colour escapes in a log that is not a terminal (3i).

use isinit_e2e::asserts::wait_gone;
use isinit_e2e::{DEADLINE, TestDaemon, wait_for, wait_until};
use isinit_shared::protocol::GroupState;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Stdio};

/// Starts the fixture's daemon command as a plain child, output appended
/// to `daemon.err`.
fn spawn_daemon(d: &TestDaemon) -> Child {
    let err = std::fs::OpenOptions::new().create(true).append(true).open(d.path("daemon.err")).expect("daemon.err");
    d.daemon_command().stdin(Stdio::null()).stdout(Stdio::null()).stderr(err).spawn().expect("spawn daemon")
}

#[test]
fn two_daemons_racing_for_a_stale_socket_leave_exactly_one() {
    for round in 0..8 {
        let d = TestDaemon::builder("g:r:1:respawn:exec sleep 1000\n").prepare();
        // A stale socket: bound, then abandoned (as by a SIGKILLed daemon).
        drop(std::os::unix::net::UnixListener::bind(d.socket()).expect("bind"));
        let mut a = spawn_daemon(&d);
        let mut b = spawn_daemon(&d);
        let (loser, mut winner) = wait_for(DEADLINE, "one of two racing daemons to give up", || {
            match (a.try_wait().expect("a"), b.try_wait().expect("b")) {
                (Some(_), Some(_)) => panic!("round {round}: both daemons exited:\n{}", d.daemon_stderr()),
                (Some(s), None) => Ok((s, 1)),
                (None, Some(s)) => Ok((s, 0)),
                (None, None) => Err(d.daemon_stderr()),
            }
        });
        assert!(!loser.success(), "round {round}");
        assert!(d.daemon_stderr().contains("already running"), "round {round}:\n{}", d.daemon_stderr());
        let winner_child = if winner == 0 { &mut a } else { &mut b };
        let snap = d.snapshot();
        assert_eq!(snap.daemon.pid, winner_child.id(), "round {round}: the socket belongs to the survivor");
        assert!(winner_child.try_wait().expect("winner").is_none(), "round {round}: the survivor runs");
        d.ok(&["shutdown", "--wait"]);
        winner = winner_child.wait().expect("winner exits").code().unwrap_or(-1);
        assert_eq!(winner, 0, "round {round}");
    }
}

#[test]
fn a_sigterm_while_leftovers_are_stopped_shuts_down_cleanly() {
    let mut d = TestDaemon::builder("g:t:1:respawn:trap '' INT; touch {dir}/ready; while :; do sleep 0.1; done\n")
        .term_after(3.0)
        .start();
    d.tell("g", "1");
    let t = d.wait_running("t");
    d.wait_file("ready");
    d.kill_daemon();
    // No state file: the new daemon stops the leftover (3 s, it ignores SIGINT).
    std::fs::remove_file(d.state_file()).expect("state file");
    let mut daemon = spawn_daemon(&d);
    wait_until(DEADLINE, "the new daemon to start stopping the leftover", || {
        d.daemon_stderr().contains("stopping them")
    });
    kill(Pid::from_raw(daemon.id() as i32), Signal::SIGTERM).expect("SIGTERM");
    let status = wait_for(DEADLINE, "the daemon to exit", || daemon.try_wait().expect("wait").ok_or(String::new()));
    assert_eq!(status.signal(), None, "killed by the signal instead of handling it:\n{}", d.daemon_stderr());
    assert!(status.success(), "{status}:\n{}", d.daemon_stderr());
    wait_gone(t, "the leftover");
}

#[test]
fn no_colour_escapes_in_a_log_that_is_not_a_terminal() {
    let mut d = TestDaemon::builder("g:r:1:respawn:exec sleep 1000\n").prepare();
    let mut cmd = d.daemon_command();
    cmd.env_remove("NO_COLOR").arg("--log").arg(d.path("daemon.log"));
    d.restart_with(cmd);
    d.tell("g", "1");
    d.wait_group("g", "1", GroupState::Done);
    // The file is written by a thread of its own: wait for the line.
    wait_until(DEADLINE, "the audit line in the log file", || d.read("daemon.log").contains("audit"));
    for name in ["daemon.err", "daemon.log"] {
        let text = d.read(name);
        assert!(text.contains("audit"), "{name} has the log:\n{text}");
        assert!(!text.contains('\u{1b}'), "{name} has colour escapes:\n{text:?}");
    }
}
