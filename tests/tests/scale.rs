//! Issue 22: the host limits a daemon of many entries meets first. The
//! daemon raises its descriptor limit at start (soft to hard), needs no
//! descriptor per entry, and when descriptors do run out it says so — the
//! limit, its value, what to raise — in its log and as a notice in
//! `status`, retries the starts that failed, and keeps supervising the
//! rest: never a silent stall.
//!
//! Setting another process's hard limit below ours needs no privilege,
//! but raising it back does; these tests lower limits with `ulimit` in
//! the daemon's own shell, so they run as any user.

use isinit_e2e::{DEADLINE, TestDaemon, wait_for};
use isinit_shared::protocol::{Request, Response};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// The soft and hard "Max open files" of a process.
fn open_files_limit(pid: i32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("limits");
    let line = limits.lines().find(|l| l.starts_with("Max open files")).expect("Max open files").to_string();
    let mut fields = line["Max open files".len()..].split_whitespace();
    (fields.next().unwrap_or_default().to_string(), fields.next().unwrap_or_default().to_string())
}

#[test]
fn the_soft_descriptor_limit_is_raised_to_the_hard_one_at_start() {
    let d = TestDaemon::builder("g:a:1:once:true\n").shell_prelude("ulimit -S -n 100; ulimit -H -n 3000").start();
    assert_eq!(open_files_limit(d.pid()), ("3000".to_string(), "3000".to_string()));
    let stderr = d.daemon_stderr();
    assert!(stderr.contains("RLIMIT_NOFILE raised from 100 to 3000"), "{stderr}");
}

#[test]
fn with_64_descriptors_300_entries_run_and_running_out_is_said_not_stalled() {
    let tab: String = (0..300).map(|i| format!("g:e{i}:1:respawn:exec sleep 1000\n")).collect();
    let d = TestDaemon::builder(&tab).shell_prelude("ulimit -n 64").start();
    assert_eq!(open_files_limit(d.pid()), ("64".to_string(), "64".to_string()));
    // Supervising an entry takes no descriptor: 300 entries under 64. And
    // the daemon's own parallel starts fit the limit: each starts at once.
    d.tell("g", "1");
    for i in 0..300 {
        d.wait_running(&format!("e{i}"));
    }
    let stderr = d.daemon_stderr();
    assert!(!stderr.contains("cannot start") && !stderr.contains("Too many open files"), "{stderr}");
    let victims: Vec<i32> = (0..5).map(|i| d.process(&format!("e{i}")).pid.expect("running") as i32).collect();
    let mut client = d.block_on(d.client());
    // Connections take what descriptors are left (the rest wait in the
    // listen backlog), held until stdin closes.
    let holder = d.exhaust_descriptors();
    // Each respawn now needs a descriptor for its output file.
    for pid in &victims {
        let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
    }
    // The notice names the limit and its value, over a connection made
    // before the descriptors ran out.
    let notice = wait_for(DEADLINE, "a notice naming the descriptor limit", || {
        let reply = d.block_on(async {
            tokio::time::timeout(std::time::Duration::from_secs(10), client.request(&Request::Status)).await
        });
        match reply {
            Ok(Ok(Response::Snapshot(snap))) => snap
                .notices
                .iter()
                .find(|n| n.message.contains("out of file descriptors"))
                .map(|n| n.message.clone())
                .ok_or_else(|| format!("{:#?}", snap.notices)),
            other => Err(format!("{other:?}")),
        }
    });
    assert!(notice.contains("RLIMIT_NOFILE is 64"), "{notice}");
    assert!(notice.contains("could not start") && notice.contains("retried"), "{notice}");
    let stderr = d.daemon_stderr();
    assert!(stderr.contains("out of file descriptors"), "said in the log too: {stderr}");
    // Once descriptors are back every entry runs again, the 295 others
    // never having stopped.
    drop(holder);
    for i in 0..300 {
        d.wait_running(&format!("e{i}"));
    }
    let status = d.ok(&["status", "--json"]);
    assert!(status.contains("out of file descriptors"), "`status --json` shows the notice: {status}");
}
