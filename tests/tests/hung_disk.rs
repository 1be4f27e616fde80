//! SPEC §15: no file-system write runs on the supervisor's thread; a hung
//! disk delays only the state file, never respawns, stops, replies or the
//! console.
//!
//! The disk that hangs is real: the state file's directory is a `bindfs`
//! (FUSE) mount whose server process is stopped with SIGSTOP, as a stopped
//! NFS server or a stalled FUSE mount leaves it — every access to it
//! blocks in the kernel until the server runs again.

use isinit_e2e::fixtures::run;
use isinit_e2e::{DEADLINE, TestDaemon, wait_for, wait_until};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether this machine can stall a mount; says why not when it cannot.
fn can_stall_a_mount(test: &str) -> bool {
    let why = if !nix::unistd::geteuid().is_root() {
        Some("needs root (mounts a FUSE file system)")
    } else if !Path::new("/dev/fuse").exists() {
        Some("no /dev/fuse")
    } else if Command::new("bindfs").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_err() {
        Some("no bindfs (apt-get install bindfs)")
    } else {
        None
    };
    if let Some(why) = why {
        eprintln!("{test}: skipped: {why}");
    }
    why.is_none()
}

/// `from` mounted on `at` by a `bindfs` running in the foreground (so its
/// pid is the server's). Dropped: unmounted (lazily, so a daemon still
/// using it cannot make that fail) and its server ended.
struct Bindfs {
    at: PathBuf,
    server: Child,
}

impl Bindfs {
    #[track_caller]
    fn mount(from: &Path, at: &Path) -> Bindfs {
        std::fs::create_dir_all(from).expect("the directory to mount");
        std::fs::create_dir_all(at).expect("the mount point");
        let server =
            Command::new("bindfs").arg("-f").arg(from).arg(at).stdin(Stdio::null()).spawn().expect("cannot run bindfs");
        let mount = Bindfs { at: at.to_owned(), server };
        let shown = at.display().to_string();
        wait_until(DEADLINE, "the bindfs mount", || {
            std::fs::read_to_string("/proc/self/mountinfo").is_ok_and(|m| m.lines().any(|l| l.contains(&shown)))
        });
        mount
    }

    /// Stops the server: from now on every access to the mount hangs,
    /// until the returned guard is dropped.
    fn hang(&self) -> Hung {
        let pid = Pid::from_raw(self.server.id() as i32);
        kill(pid, Signal::SIGSTOP).expect("SIGSTOP bindfs");
        Hung(pid)
    }
}

impl Drop for Bindfs {
    fn drop(&mut self) {
        let pid = Pid::from_raw(self.server.id() as i32);
        let _ = kill(pid, Signal::SIGCONT);
        let _ = Command::new("umount").arg("-l").arg(&self.at).status();
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// A stopped file-system server, continued when dropped (first thing,
/// even when the test fails, so nothing stays blocked on the mount).
struct Hung(Pid);

impl Drop for Hung {
    fn drop(&mut self) {
        let _ = kill(self.0, Signal::SIGCONT);
    }
}

/// The level `group` has in a state file's text, if any.
fn saved_level(text: &str, group: &str) -> Option<String> {
    let state: serde_json::Value = serde_json::from_str(text).ok()?;
    let saved = state["groups"].as_array()?.iter().find(|g| g["group"] == group)?;
    saved["level"].as_str().map(String::from)
}

/// Runs `isinit ARGS` and says how long it took; fails the test if it
/// takes longer than a tell's bounded wait could explain.
#[track_caller]
fn timed(d: &TestDaemon, args: &[&str]) -> (String, Duration) {
    let start = Instant::now();
    let out = run(d.command(args), Duration::from_secs(8));
    let took = start.elapsed();
    assert!(out.success(), "{out}");
    (format!("{}{}", out.stdout, out.stderr), took)
}

#[test]
fn a_hung_state_disk_delays_only_the_state_file() {
    if !can_stall_a_mount("a_hung_state_disk_delays_only_the_state_file") {
        return;
    }
    let mut d =
        TestDaemon::builder("g:r:1:respawn:exec sleep 1000\nh:o:1,2,3:once:true\n").respawn_pause(0.2).prepare();
    let (disk, hung_dir) = (d.path("disk"), d.path("hung"));
    let mount = Bindfs::mount(&disk, &hung_dir);
    let state = hung_dir.join("state");
    let mut cmd = d.daemon_command();
    cmd.env("ISINIT_STATE", &state);
    d.restart_with(cmd);
    d.tell("g", "1");
    d.tell("h", "1");
    let r = d.wait_running("r");
    let text = std::fs::read_to_string(&state).expect("the state file is written before the reply");
    assert_eq!(saved_level(&text, "h").as_deref(), Some("1"), "{text}");

    let hung = mount.hang();
    // A tell returns after its bounded wait, with the warning; it stands.
    let (said, took) = timed(&d, &["tell", "h", "2"]);
    eprintln!("tell with the state disk hung: {took:?}: {said}");
    assert!(said.contains("warning") && said.contains("not written within"), "{said}");
    assert_eq!(d.snapshot().group("h").and_then(|g| g.level.clone()).as_deref(), Some("2"));
    // Status answers at once: nothing waits on the runtime thread.
    let (_, took) = timed(&d, &["status"]);
    assert!(took < Duration::from_secs(5), "status took {took:?}");
    // A killed respawn entry is restarted.
    kill(Pid::from_raw(r), Signal::SIGKILL).expect("kill r");
    let again = d.wait_process("r", "restarted", |p| p.pid.is_some_and(|p| p as i32 != r));
    assert!(again.pid.is_some());
    let (said, _) = timed(&d, &["tell", "h", "3"]);
    assert!(said.contains("warning"), "{said}");

    // The disk answers again: the newest state ends up in the file.
    drop(hung);
    wait_for(DEADLINE, "the last level in the state file", || {
        let text = std::fs::read_to_string(&state).map_err(|e| e.to_string())?;
        match saved_level(&text, "h") {
            Some(level) if level == "3" => Ok(()),
            _ => Err(text),
        }
    });
    wait_for(DEADLINE, "no temporary file left beside it", || {
        let names: Vec<_> = std::fs::read_dir(&disk)
            .map_err(|e| e.to_string())?
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect();
        if names == ["state"] { Ok(()) } else { Err(format!("{names:?}")) }
    });
    // A tell is on disk before its reply again.
    let (said, _) = timed(&d, &["tell", "h", "1"]);
    assert!(!said.contains("warning"), "{said}");
    let text = std::fs::read_to_string(&state).expect("state file");
    assert_eq!(saved_level(&text, "h").as_deref(), Some("1"), "{text}");
    // Shut down while the mount exists, so the file can be removed.
    drop(d);
    drop(mount);
}
