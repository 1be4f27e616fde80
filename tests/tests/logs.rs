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

/// Defect 3c: output capture is an actor. A FIFO where a tag's output file
/// belongs used to hang `logs` — and with it the whole daemon, which read
/// the file on its one runtime thread — on `open`. Now the file is read by
/// the output actor alone, which refuses anything but a regular file.
#[test]
fn logs_of_a_file_that_would_block_stalls_nothing() {
    let d = TestDaemon::builder("g:stall:9:once:true\ng:beat:1:respawn:echo beat; exec sleep 1000\n").prepare();
    std::fs::create_dir_all(d.logdir()).expect("log directory");
    nix::unistd::mkfifo(&d.logdir().join("stall.log"), nix::sys::stat::Mode::from_bits_truncate(0o600))
        .expect("mkfifo");
    let mut d = d;
    d.restart();
    d.tell("g", "1");
    wait_logs(&d, "beat", "1", "beat");
    // Returns at once (the fixture fails the test past its request timeout).
    assert_eq!(d.ok(&["logs", "stall"]), "");
    // And the daemon still answers and supervises.
    let pid = d.wait_running("beat");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL).expect("kill");
    d.wait_process("beat", "respawned", |p| p.pid.is_some_and(|p| p as i32 != pid));
}

/// Defect 3d: a tag that leaves the isinittab is no longer captured: its
/// followers' streams end on the reload instead of following nothing
/// forever, and its lines are dropped from memory.
#[test]
fn a_tag_removed_by_a_reload_is_no_longer_captured() {
    let d = TestDaemon::start("g:gone:1:once:echo hello\ng:stay:1:once:echo still\n");
    d.tell("g", "1");
    wait_logs(&d, "gone", "5", "hello");
    let err = std::fs::File::create(d.path("follow.err")).expect("stderr file");
    let mut follow = Background::spawn(d.command(&["logs", "gone", "-f"]), err);
    follow.wait_line("hello");
    d.write_tab("g:stay:1:once:echo still\n");
    d.ok(&["reload"]);
    follow.wait_exit();
    assert!(d.fails(&["logs", "gone"]).contains("no such tag"));
    wait_logs(&d, "stay", "5", "still");
}

/// Defect 3d: any `*.log` dropped into the log directory used to become a
/// tag, read and held in memory (500 lines each). Only the daemon's own
/// tags are captured now: stray files cost it nothing.
#[test]
fn stray_files_in_the_log_directory_are_not_captured() {
    let d = TestDaemon::start("g:known:1:once:echo first; exec sleep 1000\n");
    d.tell("g", "1");
    wait_logs(&d, "known", "1", "first");
    let rss = || {
        isinit_e2e::procfs::status_field(d.pid(), "VmRSS")
            .and_then(|v| v.split_whitespace().next().and_then(|kb| kb.parse::<u64>().ok()))
            .expect("the daemon's VmRSS")
    };
    // A line in a known tag's file: once it shows, every earlier event of
    // the directory has been handled.
    let mut marks = 0;
    let mut sync = || {
        use std::io::Write;
        marks += 1;
        let mut known = std::fs::OpenOptions::new().append(true).open(d.logdir().join("known.log")).expect("known");
        known.write_all(format!("mark {marks}\n").as_bytes()).expect("write");
        wait_logs(&d, "known", "1", &format!("mark {marks}"));
    };
    // First a line in each stray file, so that a capture of strays would
    // start at their beginning, then 40 × 500 lines of 4000 bytes: 80 MB
    // the daemon would hold.
    let strays: Vec<_> = (0..40).map(|i| d.logdir().join(format!("stray{i}.log"))).collect();
    for path in &strays {
        std::fs::write(path, "first\n").expect("stray file");
    }
    sync();
    let before = rss();
    let text = format!("{}\n", "s".repeat(3999)).repeat(500);
    for path in &strays {
        use std::io::Write;
        std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .expect("append");
    }
    sync();
    let grown_kb = rss().saturating_sub(before);
    assert!(grown_kb < 20 * 1024, "the daemon grew by {grown_kb} KiB reading stray files");
    assert!(d.fails(&["logs", "stray0"]).contains("no such tag"));
}
