//! SPEC §6: each process's output is kept (on disk and for `isinit logs`),
//! and a crash of the daemon neither kills nor blocks the writers.

use isinit_e2e::asserts::{assert_alive, pid_alive};
use isinit_e2e::fixtures::Background;
use isinit_e2e::{DEADLINE, TestDaemon, wait_for, wait_until};
use isinit_shared::protocol::GroupState;

/// Polls `isinit logs TAG -n N` until its last line is `last`.
fn wait_logs(d: &TestDaemon, tag: &str, n: &str, last: &str) -> Vec<String> {
    wait_for(DEADLINE, &format!("`isinit logs {tag}` to end with {last}"), || {
        let out = d.cli(&["logs", tag, "-n", n]);
        let lines: Vec<String> = out.stdout.lines().map(String::from).collect();
        if out.success() && lines.last().map(String::as_str) == Some(last) { Ok(lines) } else { Err(out.to_string()) }
    })
}

#[test]
fn logs_shows_the_last_lines_of_a_process() {
    let d = TestDaemon::start(
        "g:talk:1:once:for i in $(seq 1 300); do echo line$i; done; echo oops >&2; exec sleep 1000\ng:quiet:2:once:true\n",
    );
    d.tell("g", "1");
    let last3 = wait_logs(&d, "talk", "3", "oops");
    assert_eq!(last3, ["line299", "line300", "oops"]);
    let last200 = wait_logs(&d, "talk", "200", "oops");
    assert_eq!(last200.len(), 200, "at least 200 lines are kept");
    assert_eq!(last200[0], "line102");

    let stderr = d.fails(&["logs", "nosuch"]);
    assert!(stderr.contains("no such tag"), "{stderr}");
    assert_eq!(d.ok(&["logs", "quiet"]), "", "a known tag with no output");
}

#[test]
fn output_is_kept_on_disk_in_the_logdir() {
    let d = TestDaemon::start("g:disk:1:wait:echo to-stdout; echo to-stderr >&2\n");
    d.tell("g", "1");
    d.wait_group("g", "1", GroupState::Done);
    let file = d.logdir().join("disk.log");
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    assert_eq!(text, "to-stdout\nto-stderr\n");
}

#[test]
fn logs_follow_streams_new_lines() {
    let d = TestDaemon::start(
        "g:f:1:respawn:echo ready; while [ ! -e {dir}/go ]; do sleep 0.05; done; echo MARKER; exec sleep 1000\n",
    );
    d.tell("g", "1");
    wait_logs(&d, "f", "10", "ready");
    let err = std::fs::File::create(d.path("follow.err")).expect("stderr file");
    let mut follow = Background::spawn(d.command(&["logs", "f", "-n", "5", "-f"]), err);
    follow.wait_line("ready");
    std::fs::write(d.path("go"), "").expect("go");
    follow.wait_line("MARKER");
    assert!(pid_alive(follow.pid()), "-f keeps following");
    assert_eq!(follow.seen, ["ready", "MARKER"]);
}

#[test]
fn a_sigkilled_daemon_does_not_kill_or_block_a_writing_child() {
    let mut d = TestDaemon::start("g:tick:1:respawn:while :; do echo tick; sleep 0.02; done\n");
    d.tell("g", "1");
    let pid = d.wait_running("tick");
    let file = d.logdir().join("tick.log");
    let size = || std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    wait_until(DEADLINE, "the child to write", || size() > 0);

    d.kill_daemon();
    let at_kill = size();
    wait_until(DEADLINE, "the child's output to keep growing after the daemon died", || size() > at_kill + 50);
    assert_alive(pid, "the child of the SIGKILLed daemon");

    // Clean up ourselves: the daemon is gone.
    let killed = d.kill_leftovers();
    assert!(killed.iter().any(|s| s.pid == pid), "{killed:?}");
    wait_until(DEADLINE, "the orphaned child to be killed", || !pid_alive(pid));
}

/// Whether `dir` is on a tmpfs, where the daemon cannot rotate without
/// losing lines (no `FALLOC_FL_COLLAPSE_RANGE`; README "Output").
fn on_tmpfs(dir: &std::path::Path) -> bool {
    nix::sys::statfs::statfs(dir).is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::TMPFS_MAGIC)
}

#[test]
fn rotated_output_still_keeps_the_recent_lines() {
    // The output goes beside the build, not into TMPDIR, which is often a
    // tmpfs: there rotation is documented to lose lines now and then.
    let logdir = tempfile::Builder::new()
        .prefix("isinit-e2e-logs-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("a log directory");
    if on_tmpfs(logdir.path()) {
        eprintln!("note: {} is a tmpfs, where rotation may lose lines; skipped", logdir.path().display());
        return;
    }
    let mut d = TestDaemon::builder(
        "g:chatty:1:once:for i in $(seq 1 400); do echo line-$i-padding-padding; done; exec sleep 1000\n",
    )
    .prepare();
    let mut cmd = d.daemon_command();
    cmd.env("ISINIT_LOGDIR", logdir.path()).args(["--log-max-bytes", "4096"]);
    d.restart_with(cmd);
    d.tell("g", "1");
    let lines = wait_logs(&d, "chatty", "200", "line-400-padding-padding");
    assert_eq!(lines.len(), 200, "at least 200 lines are kept across rotations");
    assert_eq!(lines[0], "line-201-padding-padding");
    let current = std::fs::metadata(logdir.path().join("chatty.log")).map(|m| m.len()).unwrap_or(0);
    assert!(current <= 2 * 4096, "the file was rotated: {current} bytes");
    assert!(logdir.path().join("chatty.log.1").exists(), "the previous part is kept beside it");
}
