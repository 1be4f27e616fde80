//! SPEC §9: the console (`isinit-tui`), driven as a person would drive it.
//!
//! Each test starts a real daemon ([`TestDaemon`]) and the real console in a
//! detached tmux session of its own tmux server (`tmux -L <unique name>`),
//! so tests run in parallel and never touch the user's tmux. Keys go in with
//! `tmux send-keys`; what the console shows comes back with `tmux
//! capture-pane`, polled every 50 ms until the expected content appears or a
//! deadline passes — never a fixed sleep. What the screen shows is checked
//! against the daemon's own answer (`isinit status`).
//!
//! tmux must be installed (`apt-get install tmux`; CI installs it).

use isinit_e2e::asserts::{assert_alive, pid_alive};
use isinit_e2e::fixtures::{self, run};
use isinit_e2e::{DEADLINE, TestDaemon, wait_for};
use isinit_shared::protocol::GroupState;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::collections::BTreeMap;
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

// ---- the console in tmux ----------------------------------------------------

/// One `isinit-tui` in a detached tmux session of a private tmux server.
/// Dropping it kills that server (and with it the console), also when the
/// test panicked.
struct Console {
    /// The `-L` name of the private tmux server.
    server: String,
    /// The tmux server's pid, for a last-resort SIGKILL.
    server_pid: Option<i32>,
    /// The server's socket file, which tmux leaves behind when it exits.
    server_socket: Option<PathBuf>,
    /// The console's pid (the pane's process: started without a shell).
    pid: i32,
}

impl Console {
    /// Starts the console on `d`'s socket in a fresh 120×36 tmux session and
    /// waits until it shows it is connected.
    #[track_caller]
    fn start(d: &TestDaemon) -> Console {
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
        let (socket, tab) = (d.socket(), d.tab_path());
        let mut cmd = console.command();
        cmd.args(["start-server", ";", "set-option", "-g", "remain-on-exit", "on", ";"])
            .args(["set-option", "-g", "status", "off", ";"])
            .args(["new-session", "-d", "-s", SESSION, "-x", &w, "-y", &h, "--"])
            .arg(tui)
            .arg("--socket")
            .arg(socket)
            .arg("--config")
            .arg(tab);
        run(cmd, DEADLINE).ok();
        console.server_pid = console.format("#{pid}").parse().ok();
        console.server_socket = Some(console.format("#{socket_path}").into());
        assert!(
            console.server_socket.as_ref().is_some_and(|s| s.exists()),
            "tmux socket at {:?}",
            console.server_socket
        );
        console.pid = console.format("#{pane_pid}").parse().expect("tmux reports the pane's pid");
        console.wait("the console to connect", |s| s.text.contains("● connected"));
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
    fn format(&self, format: &str) -> String {
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
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", SESSION];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    /// Types `text` literally.
    #[track_caller]
    fn type_text(&self, text: &str) {
        self.tmux(&["send-keys", "-t", SESSION, "-l", text]);
    }

    /// Polls the screen until `pred` holds; panics after
    /// [`SCREEN_DEADLINE`] showing the last screen.
    #[track_caller]
    fn wait(&self, what: &str, pred: impl Fn(&Screen) -> bool) -> Screen {
        self.wait_for(what, |s| ensure(pred(s), "not yet")).0
    }

    /// Polls the screen until `probe` returns `Ok`; panics after
    /// [`SCREEN_DEADLINE`] with the last error and the last screen.
    ///
    /// Every check of what the screen shows belongs in a probe, not in an
    /// assertion on one capture: the console draws a frame in several
    /// writes, and a capture can catch it half-drawn.
    #[track_caller]
    fn wait_for<T>(&self, what: &str, probe: impl Fn(&Screen) -> Result<T, String>) -> (Screen, T) {
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
    fn exit_status(&self) -> Option<i32> {
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
    fn wait_exit(&self) -> i32 {
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

// ---- reading the screen ---------------------------------------------------

/// One capture of the console's screen.
#[derive(Debug, Clone)]
struct Screen {
    /// Plain text, one line per row.
    text: String,
    /// The same with SGR escape sequences (colours, reverse video).
    ansi: String,
}

impl Screen {
    /// Whether the screen shows `needle` anywhere.
    fn has(&self, needle: &str) -> bool {
        self.text.contains(needle)
    }

    /// The cells of each row: the row split at the panels' vertical borders.
    fn cells(&self) -> impl Iterator<Item = Vec<&str>> {
        self.text.lines().map(|l| l.split('│').collect())
    }

    /// The words of the groups table row of `group` (`[name, level, state,
    /// procs]`, plus `!` when flapping), if it is on screen.
    fn group_row(&self, group: &str) -> Option<Vec<String>> {
        self.cells().find_map(|cells| {
            let words: Vec<String> = cells.get(1)?.split_whitespace().map(String::from).collect();
            (words.first().map(String::as_str) == Some(group)).then_some(words)
        })
    }

    /// The processes table row of `tag`, by column name (`tag`, `mode`,
    /// `levels`, `state`, `pid`, `uptime`, `↻`, `last exit`, ...), the
    /// columns cut where the header puts them. `None` if the table or the
    /// row is not on screen (e.g. covered by a popup).
    fn process_row(&self, tag: &str) -> Option<BTreeMap<String, String>> {
        const COLUMNS: [&str; 9] = ["tag", "mode", "levels", "state", "pid", "uptime", "↻", "last exit", "start error"];
        let rows: Vec<Vec<char>> = self.cells().filter_map(|c| Some(c.get(3)?.chars().collect())).collect();
        let header = rows.iter().position(|r| r.iter().collect::<String>().starts_with("tag "))?;
        let head: String = rows[header].iter().collect();
        // Column starts, in characters (the header has multi-byte `↻`).
        let mut starts: Vec<(usize, &str)> = COLUMNS
            .iter()
            .filter_map(|name| {
                let byte = format!(" {head} ").find(&format!(" {name} "))?;
                Some((head[..byte].chars().count(), *name))
            })
            .collect();
        starts.sort();
        let row = rows[header + 1..].iter().find(|r| {
            let s: String = r.iter().collect();
            s.split_whitespace().next() == Some(tag)
        })?;
        let mut fields = BTreeMap::new();
        for (i, (start, name)) in starts.iter().enumerate() {
            let end = starts.get(i + 1).map_or(row.len(), |(e, _)| *e).min(row.len());
            let value: String = row[(*start).min(end)..end].iter().collect();
            fields.insert(name.to_string(), value.trim().to_string());
        }
        Some(fields)
    }

    /// The group whose processes the processes panel shows (its title).
    fn shown_group(&self) -> Option<String> {
        let at = self.text.find("processes of ")? + "processes of ".len();
        self.text[at..].split_whitespace().next().map(String::from)
    }

    /// The group whose row in the groups table is highlighted (reverse
    /// video from the panel's left border on).
    fn highlighted_group(&self) -> Option<String> {
        self.ansi.lines().find_map(|line| {
            let at = line.find("\x1b[7m")?;
            if strip_ansi(&line[..at]) != "│" {
                return None;
            }
            strip_ansi(&line[at..]).split_whitespace().next().map(String::from)
        })
    }

    /// The level picker's preview line starting with `label` (`tell`,
    /// `stop`, `keep`, `start`, `done`): the rest of it, trimmed.
    fn preview(&self, label: &str) -> Option<String> {
        self.cells().find_map(|cells| {
            cells.iter().find_map(|c| {
                let rest = c.trim().strip_prefix(label)?;
                rest.starts_with(' ').then(|| rest.trim().to_string())
            })
        })
    }

    /// The daemon pid the header shows.
    fn header_pid(&self) -> Option<i32> {
        let first = self.text.lines().next()?;
        let mut words = first.split_whitespace();
        words.find(|w| *w == "pid")?;
        words.next()?.parse().ok()
    }
}

/// `text` without escape sequences (CSI sequences such as SGR).
fn strip_ansi(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if ('\x40'..='\x7e').contains(&c) {
                        break;
                    }
                }
            } else {
                chars.next();
            }
        } else {
            out.push(c);
        }
    }
    out
}

// ---- the daemon's view, to compare with the screen ---------------------------

/// `status --json` of `d`.
#[track_caller]
fn status_json(d: &TestDaemon) -> serde_json::Value {
    serde_json::from_str(&d.ok(&["status", "--json"])).expect("`status --json` prints JSON")
}

/// The pid `status --json` shows for `tag`.
#[track_caller]
fn json_pid(d: &TestDaemon, tag: &str) -> Option<i64> {
    let json = status_json(d);
    let row = json["processes"].as_array().expect("processes").iter().find(|p| p["tag"] == tag).cloned();
    row.unwrap_or_else(|| panic!("no row for {tag} in {json}"))["pid"].as_i64()
}

/// Whether the row of `tag` shows `state` and pid `pid`.
fn shows(s: &Screen, tag: &str, state: &str, pid: i64) -> Result<(), String> {
    let row = s.process_row(tag).ok_or_else(|| format!("no row for {tag}"))?;
    ensure(row["state"] == state && row["pid"] == pid.to_string(), format!("{tag} shows {row:?}, not {state} {pid}"))
}

/// Whether the groups table row of `group` starts with `want`.
fn group_is(s: &Screen, group: &str, want: &[&str]) -> Result<(), String> {
    let row = s.group_row(group).ok_or_else(|| format!("no row for group {group}"))?;
    ensure(row.len() >= want.len() && row[..want.len()] == words(want), format!("group row {row:?}, not {want:?}"))
}

/// Waits until the level picker previews `tell` (`GROUP LEVEL`) with every
/// `(label, value)` line of `want`: the preview is the daemon's dry run, so
/// it arrives a moment after the highlight moves.
#[track_caller]
fn wait_preview(c: &Console, tell: &str, want: &[(&str, &str)]) -> Screen {
    let what = format!("the preview of `tell {tell}`: {want:?}");
    c.wait(&what, |s| {
        s.preview("tell").as_deref() == Some(tell) && want.iter().all(|(l, v)| s.preview(l).as_deref() == Some(*v))
    })
}

fn words(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// `Ok` if `cond` holds, else `Err(why)`: the step of a screen probe.
fn ensure(cond: bool, why: impl std::fmt::Display) -> Result<(), String> {
    if cond { Ok(()) } else { Err(why.to_string()) }
}

// ---- the tests ---------------------------------------------------------------

/// Groups in file order zeta, mail, beta: the console sorts them by name.
const TAB_SWITCH: &str = "\
zeta:z1:1:respawn:exec sleep 1000
mail:prep:run,runmore:wait:true
mail:mta:run,runmore:respawn:exec sleep 1000
mail:extra:runmore:respawn:exec sleep 1000
beta:probe:1:test:true
";

#[test]
fn switch_a_group_from_the_level_picker() {
    let d = TestDaemon::start(TAB_SWITCH);
    let c = Console::start(&d);

    // Every group of the file, never told, sorted by name; the first selected.
    c.wait_for("the three groups, CONFIGURED, sorted, beta selected", |s| {
        let mut rows = Vec::new();
        for g in ["beta", "mail", "zeta"] {
            group_is(s, g, &[g, "-", "CONFIGURED"])?;
            rows.push(s.text.lines().position(|l| l.starts_with(&format!("│{g} "))));
        }
        ensure(rows.windows(2).all(|w| w[0] < w[1]), format!("groups not sorted by name: rows {rows:?}"))?;
        ensure(s.highlighted_group().as_deref() == Some("beta"), "beta, first by name, not highlighted")?;
        ensure(s.shown_group().as_deref() == Some("beta"), "the processes of beta not shown")
    });

    // Down to mail; Enter opens the picker with the preview of the first level.
    c.keys(&["Down"]);
    c.wait("mail selected", |s| s.shown_group().as_deref() == Some("mail"));
    c.keys(&["Enter"]);
    c.wait("the level picker for mail", |s| s.has("switch mail to a level"));
    let s = wait_preview(&c, "mail run", &[("stop", "-"), ("keep", "-"), ("start", "prep, mta"), ("done", "-")]);
    assert!(s.has("› run"), "run highlighted:\n{}", s.text);
    assert_eq!(d.ok(&["status", "mail"]).lines().next(), Some("mail - CONFIGURED"), "a preview changes nothing");

    // Choose runmore: the preview follows the highlight.
    c.keys(&["Down"]);
    let s = wait_preview(&c, "mail runmore", &[("stop", "-"), ("keep", "-"), ("start", "prep, mta, extra")]);
    assert!(s.has("› runmore"), "runmore highlighted:\n{}", s.text);

    // Enter switches: mail at runmore DONE, its respawn entries running.
    c.keys(&["Enter"]);
    d.wait_group("mail", "runmore", GroupState::Done);
    let status = d.ok(&["status"]);
    assert!(status.lines().any(|l| l == "mail runmore DONE"), "{status}");
    let mta = json_pid(&d, "mta").expect("mta has a pid");
    let extra = json_pid(&d, "extra").expect("extra has a pid");
    c.wait_for("mail runmore DONE, the pids of `isinit status`", |s| {
        ensure(!s.has("switch mail to a level"), "the picker is still open")?;
        group_is(s, "mail", &["mail", "runmore", "DONE", "2/3"])?;
        shows(s, "mta", "running", mta)?;
        shows(s, "extra", "running", extra)?;
        let prep = s.process_row("prep").ok_or("no row for prep")?;
        ensure(prep["state"] == "exited" && prep["last exit"] == "exit 0", format!("prep: {prep:?}"))?;
        ensure(s.has("tell mail runmore"), "the audit trail does not show the tell")
    });
    assert_alive(mta as i32, "mta");

    // A typed level: `run` stops extra, keeps mta, does not re-run prep.
    c.keys(&["Enter"]);
    c.wait("the level picker", |s| s.has("switch mail to a level"));
    c.type_text("run");
    let s = wait_preview(&c, "mail run", &[("stop", "extra"), ("keep", "mta"), ("start", "-"), ("done", "prep")]);
    assert!(s.has("other: run"), "typed into the free-text line:\n{}", s.text);
    c.keys(&["Enter"]);
    d.wait_group("mail", "run", GroupState::Done);
    assert!(d.ok(&["status"]).lines().any(|l| l == "mail run DONE"));
    assert_eq!(json_pid(&d, "mta"), Some(mta), "mta kept running untouched");
    assert_eq!(json_pid(&d, "extra"), None);
    c.wait_for("mail run DONE, mta kept, extra stopped, nothing else moved", |s| {
        group_is(s, "mail", &["mail", "run", "DONE", "1/3"])?;
        shows(s, "mta", "running", mta)?;
        let extra = s.process_row("extra").ok_or("no row for extra")?;
        ensure(extra["pid"] == "-", format!("extra: {extra:?}"))?;
        group_is(s, "beta", &["beta", "-", "CONFIGURED"])?;
        group_is(s, "zeta", &["zeta", "-", "CONFIGURED"])
    });
}

#[test]
fn a_respawned_process_shows_up_by_itself() {
    let d = TestDaemon::start("g:r:1:respawn:exec sleep 1000\n");
    let c = Console::start(&d);
    d.tell("g", "1");
    d.wait_group("g", "1", GroupState::Done);
    let old = json_pid(&d, "r").expect("r has a pid");
    c.wait_for("r running with its pid, never respawned", |s| {
        shows(s, "r", "running", old)?;
        ensure(s.process_row("r").is_some_and(|r| r["↻"] == "0"), "respawn count not 0")
    });

    kill(Pid::from_raw(old as i32), Signal::SIGKILL).expect("kill r");
    let new = d.wait_process("r", "restarted", |p| p.pid.is_some_and(|p| i64::from(p) != old)).pid.expect("pid");
    let new = i64::from(new);
    // No key pressed: the console learns of the restart from the daemon.
    c.wait_for("r with the new pid, one respawn, killed by signal 9", |s| {
        shows(s, "r", "running", new)?;
        let row = s.process_row("r").ok_or("no row for r")?;
        ensure(row["↻"] == "1" && row["last exit"] == "signal 9", format!("r: {row:?}"))
    });
    assert_eq!(json_pid(&d, "r"), Some(new));
    assert_alive(new as i32, "the respawned r");
}

#[test]
fn the_console_survives_a_daemon_restart() {
    let tab = "a:a1:1:respawn:exec sleep 1000\nb:b1:1:respawn:exec sleep 1000\nc:c1:1:respawn:exec sleep 1000\n";
    let mut d = TestDaemon::start(tab);
    let c = Console::start(&d);
    d.tell("b", "1");
    let b1 = i64::from(d.wait_running("b1"));
    c.keys(&["Down"]);
    let old = d.pid();
    c.wait_for("b selected, b1 running, the daemon's pid", |s| {
        ensure(s.shown_group().as_deref() == Some("b"), "b not selected")?;
        shows(s, "b1", "running", b1)?;
        ensure(s.header_pid() == Some(old), format!("header pid {:?}, not {old}", s.header_pid()))
    });

    // The daemon goes away: the console says so, keeps the last state.
    d.ok(&["shutdown", "--wait"]);
    d.wait_exit();
    c.wait_for("the DISCONNECTED banner over the last known state", |s| {
        ensure(s.has("DISCONNECTED") && s.has("reconnecting"), "no DISCONNECTED banner")?;
        ensure(!s.has("● connected"), "still says connected")?;
        ensure(s.has("STALE"), "the last known state is not marked STALE")?;
        ensure(s.group_row("b").is_some(), "the last known groups are gone")
    });

    // It does not freeze while the daemon is away: keys still work.
    c.keys(&["Down"]);
    c.wait("c selected while disconnected", |s| s.shown_group().as_deref() == Some("c") && s.has("DISCONNECTED"));
    c.keys(&["Up"]);
    c.wait("b selected again", |s| s.shown_group().as_deref() == Some("b"));

    // A new daemon on the same socket: the console reconnects by itself.
    d.restart();
    let new = d.pid();
    assert_ne!(new, old);
    c.wait_for("connected to the new daemon, b still selected", |s| {
        ensure(s.has("● connected") && !s.has("DISCONNECTED"), "not connected")?;
        ensure(s.header_pid() == Some(new), format!("header pid {:?}, not {new}", s.header_pid()))?;
        ensure(!s.has("STALE"), "still marked STALE")?;
        ensure(s.shown_group().as_deref() == Some("b"), "b's processes not shown")?;
        ensure(s.highlighted_group().as_deref() == Some("b"), "b not highlighted")?;
        for g in ["a", "b", "c"] {
            group_is(s, g, &[g, "-", "CONFIGURED"])?;
        }
        Ok(())
    });

    // And it is live: a tell shows up.
    d.tell("b", "1");
    let pid = i64::from(d.wait_running("b1"));
    c.wait_for("b1 running under the new daemon", |s| shows(s, "b1", "running", pid));
}

#[test]
fn reload_of_a_broken_file_shows_the_errors_and_changes_nothing() {
    let good = "g:r:1:respawn:exec sleep 1000\ng:o:1:once:exec sleep 1000\n";
    let d = TestDaemon::start(good);
    let c = Console::start(&d);
    d.tell("g", "1");
    d.wait_group("g", "1", GroupState::Done);
    let (r, o) = (json_pid(&d, "r").expect("r pid"), json_pid(&d, "o").expect("o pid"));
    c.wait_for("r and o running", |s| shows(s, "r", "running", r).and(shows(s, "o", "running", o)));

    // Lines 3 and 4 are broken; line 5 would add a process if it were applied.
    d.write_tab(&format!("{good}g:x:1:sometimes:true\n:y:1:once:true\ng:new:1:respawn:exec sleep 1000\n"));
    let tab = d.tab_path().display().to_string();
    let check = d.fails(&["check"]);
    let errors: Vec<&str> = check.lines().filter(|l| l.starts_with(&format!("{tab}:"))).collect();
    assert_eq!(errors.len(), 2, "{check}");
    for (line, e) in [3, 4].iter().zip(&errors) {
        assert!(e.starts_with(&format!("{tab}:{line}: ")), "PATH:LINE: message: {e}");
    }

    c.keys(&["r"]);
    c.wait_for("the errors of the file, as `isinit check` prints them, in a popup", |s| {
        ensure(s.has("reload failed"), "no `reload failed`")?;
        for e in &errors {
            ensure(s.has(e), format!("missing {e:?}"))?;
        }
        ensure(!s.has(&format!("{tab}:1:")) && !s.has(&format!("{tab}:5:")), "a good line reported")
    });

    // Nothing changed: same processes, same pids, no `new`.
    assert_eq!((json_pid(&d, "r"), json_pid(&d, "o")), (Some(r), Some(o)));
    assert!(status_json(&d)["processes"].as_array().expect("processes").iter().all(|p| p["tag"] != "new"));
    assert_alive(r as i32, "r");
    assert_alive(o as i32, "o");

    // Esc closes the popup; the screen still shows the same pids, and the
    // status line the failure.
    c.keys(&["Escape"]);
    c.wait_for("the popup closed, the same pids, the failure on the status line", |s| {
        ensure(!errors.iter().any(|e| s.has(e)), "the popup is still open")?;
        shows(s, "r", "running", r)?;
        shows(s, "o", "running", o)?;
        ensure(s.process_row("new").is_none(), "a row for `new`")?;
        ensure(s.has("✗ reload failed"), "the status line does not say `✗ reload failed`")
    });
}

#[test]
fn q_quits_and_restores_the_terminal() {
    let d = TestDaemon::start("g:r:1:respawn:exec sleep 1000\n");
    d.tell("g", "1");
    let r = d.wait_running("r");
    let c = Console::start(&d);
    c.wait_for("r running", |s| shows(s, "r", "running", i64::from(r)));
    assert_eq!(c.format("#{alternate_on}"), "1", "the console draws on the alternate screen");

    c.keys(&["q"]);
    assert_eq!(c.wait_exit(), 0, "q exits 0");
    assert!(!pid_alive(c.pid), "the console process is gone");
    assert_eq!(c.format("#{alternate_on}"), "0", "the terminal is restored (alternate screen left)");

    // Quitting the console changes nothing in the daemon.
    assert_eq!(json_pid(&d, "r"), Some(i64::from(r)));
    assert_alive(r, "r");
}

#[test]
fn ctrl_c_quits_even_while_typing_a_level() {
    let d = TestDaemon::start("g:r:1:respawn:exec sleep 1000\n");
    let c = Console::start(&d);
    c.keys(&["Enter"]);
    c.wait("the level picker", |s| s.has("switch g to a level"));
    // `q` is text here, not quit.
    c.type_text("q");
    wait_preview(&c, "g q", &[("stop", "-"), ("start", "-")]);
    assert_eq!(c.exit_status(), None, "q while typing does not quit");
    c.keys(&["C-c"]);
    assert_eq!(c.wait_exit(), 0, "Ctrl-C exits 0");
    assert_eq!(d.ok(&["status"]), "g - CONFIGURED\n", "nothing was told");
}

/// The screen helpers themselves, on a fixed screen (no tmux needed).
#[test]
fn screen_parsing() {
    let text = "\
 isinit  vm  pid 548  v0.1.0  /tmp/x/tab sha256:9981962d
 ● connected  4 groups, 13 processes, 2 alive
┌ groups (2) ──────┐┌ processes of mail 1/4 ────────────────────────────────────────┐
│group level state ││tag    mode    levels      state       pid     uptime ↻   last exit│
│db    -     DONE  ││spool  wait    run,runmore not started -       -      0   -        │
│mail  run   DONE  ││mta    respawn run,runmore running     4242    1s     12  signal 9 │
";
    let ansi = "│db    \n│\x1b[7m\x1b[39mmail  run\x1b[0m\n";
    let s = Screen { text: text.to_string(), ansi: ansi.to_string() };
    assert_eq!(s.group_row("mail"), Some(words(&["mail", "run", "DONE"])));
    assert_eq!(group_is(&s, "db", &["db", "-"]), Ok(()));
    assert!(group_is(&s, "db", &["db", "run"]).is_err());
    let mta = s.process_row("mta").expect("mta");
    assert_eq!((mta["state"].as_str(), mta["pid"].as_str(), mta["↻"].as_str()), ("running", "4242", "12"));
    assert_eq!(mta["last exit"], "signal 9");
    assert_eq!(shows(&s, "mta", "running", 4242), Ok(()));
    assert!(shows(&s, "mta", "running", 4243).is_err());
    assert_eq!(s.process_row("spool").expect("spool")["state"], "not started");
    assert_eq!(s.shown_group().as_deref(), Some("mail"));
    assert_eq!(s.highlighted_group().as_deref(), Some("mail"));
    assert_eq!(s.header_pid(), Some(548));
    assert_eq!(strip_ansi("a\x1b[38;5;8mb\x1b[0mc"), "abc");
}
