//! Faults of the host the daemon must ride out (issue 6 §6): a full log
//! directory, a low descriptor limit, the daemon stopped for a while, a
//! read-only status-file directory, a child that leaves a thousand orphans.
//!
//! Most need root (mounts, `prlimit` on another process); they skip with a
//! printed reason otherwise.

use isinit_e2e::{DEADLINE, TestDaemon, procfs, wait_for, wait_until};
use isinit_shared::protocol::{GroupState, ProcessState, Request, Response};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Whether the test may go on; prints why not otherwise.
fn root(test: &str) -> bool {
    let root = nix::unistd::geteuid().is_root();
    if !root {
        eprintln!("{test}: skipped: needs root (mounts a tmpfs)");
    }
    root
}

/// A tmpfs mounted for one test, unmounted (lazily, so a daemon still using
/// it cannot make the unmount fail) when dropped. Tests drop their daemon
/// first, so that it shuts down with its files in place.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(at).expect("mount point");
        mount(&["-t", "tmpfs", "-o", &format!("size={size},mode=0755"), "tmpfs", &at.display().to_string()]);
        Tmpfs(at.to_owned())
    }

    fn remount(&self, how: &str) {
        mount(&["-o", &format!("remount,{how}"), &self.0.display().to_string()]);
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[track_caller]
fn mount(args: &[&str]) {
    let status = Command::new("mount").args(args).status().expect("run mount");
    assert!(status.success(), "mount {args:?}: {status}");
}

/// A stand-in for Pacemaker on this machine, for the node health task
/// (SPEC §18): a process named `pacemaker-attrd` (what the daemon looks
/// for before it runs the updater) and an `attrd_updater` that writes down
/// what it is asked, in `DIR/attrd.calls`. The process is stopped when
/// dropped.
struct FakePacemaker {
    attrd: std::process::Child,
    updater: PathBuf,
    calls: PathBuf,
}

impl FakePacemaker {
    fn start(dir: &Path) -> FakePacemaker {
        let attrd_bin = dir.join("pacemaker-attrd");
        std::fs::copy("/bin/sleep", &attrd_bin).expect("copy sleep");
        let attrd = Command::new(&attrd_bin).arg("1000").spawn().expect("start the stand-in attrd");
        let calls = dir.join("attrd.calls");
        let updater = dir.join("attrd_updater");
        std::fs::write(&updater, format!("#!/bin/sh\necho \"$*\" >> {}\n", calls.display())).expect("updater");
        std::fs::set_permissions(&updater, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
        FakePacemaker { attrd, updater, calls }
    }

    /// Waits until the updater was last asked to set `color`.
    #[track_caller]
    fn wait_color(&self, color: &str) {
        wait_for(DEADLINE, &format!("#health-isinit set to {color}"), || {
            let text = std::fs::read_to_string(&self.calls).unwrap_or_default();
            let last = text.lines().rfind(|l| l.contains(" -U ")).unwrap_or_default().to_string();
            if last.ends_with(&format!("-U {color}")) { Ok(()) } else { Err(text) }
        });
    }
}

impl Drop for FakePacemaker {
    fn drop(&mut self) {
        let _ = self.attrd.kill();
        let _ = self.attrd.wait();
    }
}

/// The number in the last `line N` of `isinit logs TAG`.
fn last_line_number(d: &TestDaemon, tag: &str) -> Option<u64> {
    d.cli(&["logs", tag, "-n", "1"]).stdout.trim().strip_prefix("line ")?.parse().ok()
}

/// Waits until the snapshot carries a notice containing `needle`.
#[track_caller]
fn wait_notice(d: &TestDaemon, needle: &str) -> String {
    wait_for(DEADLINE, &format!("a notice containing {needle:?}"), || {
        let snap = d.try_snapshot()?;
        snap.notices
            .iter()
            .find(|n| n.message.contains(needle))
            .map(|n| n.message.clone())
            .ok_or_else(|| format!("{:#?}", snap.notices))
    })
}

#[test]
fn a_full_log_directory_is_noticed_and_capture_resumes_when_space_is_back() {
    if !root("log directory full") {
        return;
    }
    let mut d =
        TestDaemon::builder("g:talk:1:respawn:i=0; while :; do i=$((i+1)); echo line $i; sleep 0.05; done\n").prepare();
    let _tmpfs = Tmpfs::mount(&d.logdir(), "1m");
    // The node's health follows the output capture's judgement (red while
    // the directory is full), without polling the disk itself.
    let pacemaker = FakePacemaker::start(d.dir());
    let mut cmd = d.daemon_command();
    cmd.env("ISINIT_ATTRD_UPDATER", &pacemaker.updater);
    d.restart_with(cmd);
    d.tell("g", "1");
    let pid = d.wait_running("talk");
    pacemaker.wait_color("green");
    wait_until(DEADLINE, "output to be captured", || last_line_number(&d, "talk").is_some());

    // Fill the directory: the children's writes now fail with ENOSPC.
    let filler = d.logdir().join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).expect("filler");
        let block = vec![0u8; 64 * 1024];
        while f.write_all(&block).is_ok() {}
    }
    let notice = wait_notice(&d, "is full");
    assert!(notice.contains("keep running"), "{notice}");
    pacemaker.wait_color("red");
    let before = last_line_number(&d, "talk").expect("lines before the disk filled");
    let p = d.process("talk");
    assert_eq!((p.state, p.pid), (ProcessState::Running, Some(pid as u32)), "the child keeps running");

    std::fs::remove_file(&filler).expect("free the space");
    wait_notice(&d, "has room again");
    pacemaker.wait_color("green");
    wait_until(DEADLINE, "capture to resume", || last_line_number(&d, "talk").is_some_and(|n| n > before + 2));
    assert_eq!(d.process("talk").pid, Some(pid as u32), "the same child throughout");
    drop(d);
}

#[test]
fn with_64_descriptors_and_200_entries_the_daemon_serves_and_says_why_a_spawn_failed() {
    if !root("ulimit -n 64") {
        return;
    }
    let tab: String = (0..200).map(|i| format!("g:e{i}:1:respawn:exec sleep 1000\n")).collect();
    let d = TestDaemon::builder(&tab).shell_prelude("ulimit -n 64").start();
    let limit = std::fs::read_to_string(format!("/proc/{}/limits", d.pid())).expect("limits");
    assert!(limit.lines().any(|l| l.starts_with("Max open files") && l.contains(" 64 ")), "{limit}");
    d.tell("g", "1");
    for i in 0..200 {
        d.wait_running(&format!("e{i}"));
    }
    let victims: Vec<i32> = (0..5).map(|i| d.process(&format!("e{i}")).pid.expect("running") as i32).collect();
    // A connection made before the descriptors run out keeps being served.
    let mut client = d.block_on(d.client());
    // Take every descriptor the daemon has left with idle connections
    // (the extra ones wait in the listen backlog), held until stdin closes.
    let holder = d.exhaust_descriptors();
    // Now make respawns need a descriptor each.
    for pid in &victims {
        let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
    }
    wait_until(DEADLINE, "a spawn to fail for want of descriptors", || {
        d.daemon_stderr().contains("Too many open files")
    });
    // Said in `status` too, over the connection that was already open.
    let why = wait_for(DEADLINE, "status to say why a spawn failed", || {
        let reply =
            d.block_on(async { tokio::time::timeout(Duration::from_secs(10), client.request(&Request::Status)).await });
        match reply {
            Ok(Ok(Response::Snapshot(snap))) => snap
                .processes
                .iter()
                .find_map(|p| p.start_error.clone().filter(|e| e.contains("Too many open files")))
                .ok_or_else(|| "no start error yet".to_string()),
            other => Err(format!("{other:?}")),
        }
    });
    assert!(why.contains("cannot open"), "{why}");
    // Give the descriptors back: the daemon serves again, and every entry
    // runs again.
    drop(holder);
    for i in 0..200 {
        d.wait_running(&format!("e{i}"));
    }
    let stderr = d.daemon_stderr();
    assert!(stderr.contains("accepting connections again"), "{stderr}");
}

#[test]
fn exits_while_the_daemon_is_stopped_are_all_handled_after() {
    let mut tab = String::new();
    for i in 0..5 {
        // The first run waits for `go` and fails; the respawned one stays.
        tab += &format!(
            "g:r{i}:1:respawn:[ -e {{dir}}/go ] && exec sleep 1000; while [ ! -e {{dir}}/go ]; do sleep 0.05; done; exit 3\n"
        );
    }
    tab += "g:w:1:wait:while [ ! -e {dir}/go ]; do sleep 0.05; done\n";
    tab += "g:after:1:respawn:exec sleep 1000\n";
    let d = TestDaemon::builder(&tab).respawn_pause(0.5).start();
    d.tell("g", "1");
    let first: Vec<i32> = (0..5).map(|i| d.wait_running(&format!("r{i}"))).collect();
    let w = d.wait_running("w");

    let stopped_at = Instant::now();
    d.signal(Signal::SIGSTOP);
    std::fs::write(d.path("go"), "").expect("go");
    // Every one of them exits while the daemon is stopped: zombies, since
    // nobody reaps them.
    wait_until(DEADLINE, "the children to exit during the stop", || {
        first.iter().chain([&w]).all(|pid| procfs::stat(*pid).is_some_and(|s| s.state == 'Z'))
    });
    // The fault is a 10-second stop (not a wait for some state).
    std::thread::sleep(Duration::from_secs(10).saturating_sub(stopped_at.elapsed()));
    d.signal(Signal::SIGCONT);

    for (i, old) in first.iter().enumerate() {
        let p = d.wait_process(&format!("r{i}"), "respawned", |p| {
            p.pid.is_some_and(|p| p as i32 != *old) && p.state == ProcessState::Running
        });
        assert!(p.respawns >= 1, "{p:?}");
    }
    d.wait_running("after");
    d.wait_group("g", "1", GroupState::Done);
    let zombies: Vec<_> = procfs::children_of(d.pid()).into_iter().filter(|s| s.state == 'Z').collect();
    assert!(zombies.is_empty(), "unreaped: {zombies:?}");
}

#[test]
fn a_read_only_status_file_directory_is_logged_and_supervision_goes_on() {
    if !root("read-only status directory") {
        return;
    }
    let mut d = TestDaemon::builder("g:svc:1,2,3:respawn:exec sleep 1000\n").prepare();
    let run = d.path("run");
    let tmpfs = Tmpfs::mount(&run, "1m");
    let initstat = run.join("initstat");
    let mut cmd = d.daemon_command();
    cmd.env("ISINIT_INITSTAT", &initstat);
    d.restart_with(cmd);
    d.tell("g", "1");
    let pid = d.wait_running("svc");
    wait_until(DEADLINE, "the status file", || std::fs::read_to_string(&initstat).is_ok_and(|s| s.contains("g 1")));

    tmpfs.remount("ro");
    d.tell("g", "2");
    d.tell("g", "3");
    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    let respawned = d.wait_process("svc", "respawned", |p| p.pid.is_some_and(|p| p as i32 != pid));
    assert_eq!(respawned.state, ProcessState::Running);
    wait_until(DEADLINE, "the failure to be logged", || d.daemon_stderr().contains("cannot write status file"));
    let said = d.daemon_stderr().matches("cannot write status file").count();
    assert_eq!(said, 1, "said once, not on every change:\n{}", d.daemon_stderr());

    tmpfs.remount("rw");
    d.tell("g", "1");
    wait_until(DEADLINE, "the status file to be written again", || {
        std::fs::read_to_string(&initstat).is_ok_and(|s| s.contains("g 1"))
    });
    assert!(d.daemon_stderr().contains("written again"));
    // Shut down while the mount exists, so the file can be removed.
    drop(d);
}

#[test]
fn a_child_that_leaves_1000_orphans_has_them_all_reaped() {
    let d = TestDaemon::start(
        "g:fork:1:once:for i in $(seq 1000); do sleep 2 & done; exit 0\ng:svc:1:respawn:exec sleep 1000\n",
    );
    d.tell("g", "1");
    let svc = d.wait_running("svc");
    // The orphans are re-parented to the daemon (its child subreaper).
    wait_until(DEADLINE, "the orphans to be the daemon's", || procfs::children_of(d.pid()).len() > 500);
    wait_for(Duration::from_secs(60), "every orphan to be reaped", || {
        let left: Vec<_> = procfs::children_of(d.pid()).into_iter().filter(|s| s.pid != svc).collect();
        if left.is_empty() { Ok(()) } else { Err(format!("{} left, e.g. {}", left.len(), left[0])) }
    });
    d.wait_group("g", "1", GroupState::Done);
    assert_eq!(d.process("svc").pid, Some(svc as u32), "supervision unaffected");
}
