//! Driving `isinit-tui` in a private tmux server: starting it, pressing
//! keys, capturing the screen, and tearing it all down.

use crate::screen::{Screen, ensure, strip_ansi};
use isinit_e2e::asserts::pid_alive;
use isinit_e2e::fixtures::{self, run};
use isinit_e2e::{DEADLINE, TestDaemon, wait_for};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Terminal size of every console: the size the screenshots use too.
const WIDTH: u16 = 120;
const HEIGHT: u16 = 36;

/// How long the screen may take to show something (a loaded CI box runs
/// many daemons and consoles at once).
const SCREEN_DEADLINE: Duration = Duration::from_secs(20);

/// How often the screen is captured while waiting.
const SCREEN_POLL: Duration = Duration::from_millis(50);

/// The tmux session (one per server) that runs the console.
const SESSION: &str = "console";

/// One `isinit-tui` in a detached tmux session of a private tmux server.
/// Dropping it kills that server (and with it the console), also when the
/// test panicked.
pub(crate) struct Console {
    /// The `-L` name of the private tmux server.
    server: String,
    /// The tmux server's pid, for a last-resort SIGKILL.
    server_pid: Option<i32>,
    /// The server's socket file, which tmux leaves behind when it exits.
    server_socket: Option<PathBuf>,
    /// The console's pid (the pane's process: started without a shell).
    pub(crate) pid: i32,
}

impl Console {
    /// Starts the console on `d`'s socket in a fresh 120×36 tmux session and
    /// waits until it shows it is connected.
    #[track_caller]
    pub(crate) fn start(d: &TestDaemon) -> Console {
        let args = ["--socket".into(), d.socket().into_os_string(), "--config".into(), d.tab_path().into_os_string()];
        let console = Console::start_with(&args, &[]);
        console.wait("the console to connect", |s| s.text.contains("● connected"));
        console
    }

    /// Starts `isinit-tui ARGS` with `ENV` set, in a fresh 120×36 tmux
    /// session; the caller waits for what it should show.
    #[track_caller]
    pub(crate) fn start_with(args: &[std::ffi::OsString], env: &[(String, String)]) -> Console {
        require_tmux();
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let server = format!("isinit-e2e-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        // Where tmux puts `-L NAME` (it reports the same as `#{socket_path}`).
        let dir = std::env::var_os("TMUX_TMPDIR").filter(|d| !d.is_empty()).unwrap_or_else(|| "/tmp".into());
        let socket = PathBuf::from(dir).join(format!("tmux-{}", nix::unistd::getuid())).join(&server);
        let mut console = Console { server, server_pid: None, server_socket: Some(socket), pid: 0 };
        // One invocation, so the options hold before the console starts:
        // the pane stays (dead) after the console exits, so its exit status
        // can be read; no status bar, so the console gets all 36 rows.
        let (w, h) = (WIDTH.to_string(), HEIGHT.to_string());
        let tui = fixtures::isinit_tui();
        let mut cmd = console.command();
        cmd.args(["start-server", ";", "set-option", "-g", "remain-on-exit", "on", ";"])
            .args(["set-option", "-g", "status", "off", ";"])
            .args(["new-session", "-d", "-s", SESSION, "-x", &w, "-y", &h]);
        for (name, value) in env {
            cmd.arg("-e").arg(format!("{name}={value}"));
        }
        cmd.arg("--").arg(tui).args(args);
        run(cmd, DEADLINE).ok();
        console.server_pid = console.format("#{pid}").parse().ok();
        console.server_socket = Some(console.format("#{socket_path}").into());
        assert!(
            console.server_socket.as_ref().is_some_and(|s| s.exists()),
            "tmux socket at {:?}",
            console.server_socket
        );
        console.pid = console.format("#{pane_pid}").parse().expect("tmux reports the pane's pid");
        console
    }

    /// `tmux -L SERVER` with nothing inherited that points at another
    /// tmux (a test run from inside tmux must not drive the user's).
    fn command(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.env_remove("TMUX").env_remove("TMUX_PANE").args(["-u", "-L", &self.server, "-f", "/dev/null"]);
        cmd
    }

    /// Runs a tmux command, which must succeed; returns its stdout.
    #[track_caller]
    fn tmux(&self, args: &[&str]) -> String {
        let mut cmd = self.command();
        cmd.args(args);
        run(cmd, DEADLINE).ok()
    }

    /// A tmux format (`#{pane_dead}`, ...) evaluated for the console's pane.
    #[track_caller]
    pub(crate) fn format(&self, format: &str) -> String {
        self.tmux(&["display-message", "-p", "-t", SESSION, format]).trim_end().to_string()
    }

    /// What the screen shows now: with colour/attribute escape sequences,
    /// and as plain text (the same capture, stripped).
    #[track_caller]
    fn screen(&self) -> Screen {
        let ansi = self.tmux(&["capture-pane", "-p", "-e", "-t", SESSION]);
        Screen { text: strip_ansi(&ansi), ansi }
    }

    /// Presses keys, in tmux's names (`Enter`, `Escape`, `Down`, `j`, `C-c`).
    ///
    /// `Escape` must be sent alone and its effect waited for: tmux turns an
    /// Escape quickly followed by another key into Alt+key.
    #[track_caller]
    pub(crate) fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", SESSION];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    /// Types `text` literally.
    #[track_caller]
    pub(crate) fn type_text(&self, text: &str) {
        self.tmux(&["send-keys", "-t", SESSION, "-l", text]);
    }

    /// Polls the screen until `pred` holds; panics after
    /// [`SCREEN_DEADLINE`] showing the last screen.
    #[track_caller]
    pub(crate) fn wait(&self, what: &str, pred: impl Fn(&Screen) -> bool) -> Screen {
        self.wait_for(what, |s| ensure(pred(s), "not yet")).0
    }

    /// Polls the screen until `probe` returns `Ok`; panics after
    /// [`SCREEN_DEADLINE`] with the last error and the last screen.
    ///
    /// Every check of what the screen shows belongs in a probe, not in an
    /// assertion on one capture: the console draws a frame in several
    /// writes, and a capture can catch it half-drawn.
    #[track_caller]
    pub(crate) fn wait_for<T>(&self, what: &str, probe: impl Fn(&Screen) -> Result<T, String>) -> (Screen, T) {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            match probe(&screen) {
                Ok(v) => return (screen, v),
                Err(why) if start.elapsed() >= SCREEN_DEADLINE => panic!(
                    "timed out after {SCREEN_DEADLINE:?} waiting for the console to show {what}: {why}\nthe screen:\n{}",
                    screen.text
                ),
                Err(_) => std::thread::sleep(SCREEN_POLL),
            }
        }
    }

    /// The console's exit code once it has exited (`None` while it runs).
    ///
    /// tmux reports it as `#{pane_dead_status}` once it has reaped the
    /// console. But tmux 3.3a, on a loaded machine, now and then misses the
    /// SIGCHLD and leaves the exited console a zombie for good (the pane is
    /// dead, its status empty); a zombie's exit status is in its
    /// `/proc/PID/stat` (field 52, as `waitpid` reports it), so it is read
    /// from there then.
    pub(crate) fn exit_status(&self) -> Option<i32> {
        if self.format("#{pane_dead}") != "1" {
            return None;
        }
        if let Ok(code) = self.format("#{pane_dead_status}").parse() {
            return Some(code);
        }
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok()?;
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        if fields.first() != Some(&"Z") {
            return None;
        }
        let status: i32 = fields.get(52 - 3)?.parse().ok()?;
        // Exited normally: the code; killed by a signal: 128 + signal, as a shell says.
        Some(if status & 0x7f == 0 { (status >> 8) & 0xff } else { 128 + (status & 0x7f) })
    }

    /// Waits until the console has exited; returns its exit status.
    #[track_caller]
    pub(crate) fn wait_exit(&self) -> i32 {
        wait_for(DEADLINE, "the console to exit", || {
            self.exit_status().ok_or_else(|| {
                format!(
                    "pane_dead={:?} pane_dead_status={:?}; the console process: {}; the screen:\n{}",
                    self.format("#{pane_dead}"),
                    self.format("#{pane_dead_status}"),
                    describe_process(self.pid),
                    self.screen().text
                )
            })
        })
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        let mut cmd = self.command();
        cmd.arg("kill-server").stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        if let Ok(mut child) = cmd.spawn() {
            let deadline = Instant::now() + Duration::from_secs(5);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        // Should kill-server not have worked: SIGKILL what is ours, checked
        // by name so that a recycled pid is left alone.
        for (pid, name) in [(self.server_pid, "tmux"), (Some(self.pid), "isinit-tui")] {
            if let Some(pid) = pid.filter(|&p| p > 0)
                && pid_alive(pid)
                && std::fs::read_to_string(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.contains(name))
            {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
        if let Some(socket) = &self.server_socket {
            let _ = std::fs::remove_file(socket);
        }
    }
}

/// What `/proc` says about `pid` and its threads, for failure messages.
fn describe_process(pid: i32) -> String {
    let Some(stat) = isinit_e2e::procfs::stat(pid) else { return format!("pid {pid} is gone") };
    let mut out = stat.to_string();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            let path = task.path();
            let read = |name: &str| std::fs::read_to_string(path.join(name)).unwrap_or_default().trim().to_string();
            let state = read("stat").rsplit(')').next().unwrap_or_default().split_whitespace().next().map(String::from);
            out.push_str(&format!(
                "\n  thread {} {:?} state {} wchan {}",
                task.file_name().to_string_lossy(),
                read("comm"),
                state.unwrap_or_default(),
                read("wchan")
            ));
        }
    }
    out
}

/// Fails with a clear message when tmux is missing.
#[track_caller]
fn require_tmux() {
    match Command::new("tmux").arg("-V").stdin(Stdio::null()).output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!("`tmux -V` failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "tmux is not installed: the console tests run isinit-tui in tmux. \
             Install it with `apt-get install tmux` (CI installs it)."
        ),
        Err(e) => panic!("cannot run tmux: {e}"),
    }
}
