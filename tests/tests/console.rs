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
        let mut console = Console { server, server_pid: None, pid: 0 };
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

    /// What the screen shows now: plain text, and with colour/attribute
    /// escape sequences.
    #[track_caller]
    fn screen(&self) -> Screen {
        let text = self.tmux(&["capture-pane", "-p", "-t", SESSION]);
        let ansi = self.tmux(&["capture-pane", "-p", "-e", "-t", SESSION]);
        Screen { text, ansi }
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
        self.wait_for(what, |s| if pred(s) { Some(()) } else { None }).0
    }

    /// Polls the screen until `probe` returns something; panics after
    /// [`SCREEN_DEADLINE`] showing the last screen.
    #[track_caller]
    fn wait_for<T>(&self, what: &str, probe: impl Fn(&Screen) -> Option<T>) -> (Screen, T) {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if let Some(v) = probe(&screen) {
                return (screen, v);
            }
            if start.elapsed() >= SCREEN_DEADLINE {
                panic!(
                    "timed out after {SCREEN_DEADLINE:?} waiting for the console to show {what}; the screen:\n{}",
                    screen.text
                );
            }
            std::thread::sleep(SCREEN_POLL);
        }
    }

    /// The console's exit status once it has exited and tmux has reaped it.
    fn exit_status(&self) -> Option<i32> {
        if self.format("#{pane_dead}") != "1" {
            return None;
        }
        self.format("#{pane_dead_status}").parse().ok()
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
    }
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

/// Whether `row` (from [`Screen::process_row`]) shows `state` and pid `pid`.
fn shows(row: &Option<BTreeMap<String, String>>, state: &str, pid: i64) -> bool {
    row.as_ref().is_some_and(|r| r["state"] == state && r["pid"] == pid.to_string())
}

fn words(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
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
    let s = c.wait("the three groups, CONFIGURED", |s| {
        ["beta", "mail", "zeta"].iter().all(|g| s.group_row(g).is_some_and(|r| r[1] == "-" && r[2] == "CONFIGURED"))
    });
    let rows: Vec<usize> = ["beta", "mail", "zeta"]
        .iter()
        .map(|g| s.text.lines().position(|l| l.starts_with(&format!("│{g} "))).expect("group row"))
        .collect();
    assert!(rows.windows(2).all(|w| w[0] < w[1]), "groups sorted by name:\n{}", s.text);
    assert_eq!(s.highlighted_group().as_deref(), Some("beta"), "first group by name selected:\n{}", s.text);
    assert_eq!(s.shown_group().as_deref(), Some("beta"), "{}", s.text);

    // Down to mail; Enter opens the picker with a preview of the first level.
    c.keys(&["Down"]);
    c.wait("mail selected", |s| s.shown_group().as_deref() == Some("mail"));
    c.keys(&["Enter"]);
    let s = c.wait("the level picker for mail, previewing run", |s| {
        s.has("switch mail to a level") && s.preview("tell").as_deref() == Some("mail run")
    });
    assert_eq!(s.preview("start").as_deref(), Some("prep, mta"), "{}", s.text);
    assert_eq!(s.preview("stop").as_deref(), Some("-"), "{}", s.text);
    assert_eq!(d.ok(&["status", "mail"]).lines().next(), Some("mail - CONFIGURED"), "a preview changes nothing");

    // Choose runmore; the preview follows the highlight.
    c.keys(&["Down"]);
    let s = c.wait("the preview of runmore", |s| s.preview("tell").as_deref() == Some("mail runmore"));
    c.wait("the preview's start line for runmore", |s| s.preview("start").as_deref() == Some("prep, mta, extra"));
    assert!(s.text.contains("› runmore"), "runmore highlighted:\n{}", s.text);

    // Enter switches: mail at runmore DONE, its respawn entries running.
    c.keys(&["Enter"]);
    let s = c.wait("mail runmore DONE with mta and extra running", |s| {
        s.group_row("mail").is_some_and(|r| r[1..3] == words(&["runmore", "DONE"]))
            && ["mta", "extra"]
                .iter()
                .all(|t| s.process_row(t).is_some_and(|r| r["state"] == "running" && r["pid"].parse::<u32>().is_ok()))
    });
    assert!(!s.has("switch mail to a level"), "the picker closed:\n{}", s.text);
    assert_eq!(s.group_row("mail").expect("row")[3], "2/3", "{}", s.text);
    let prep = s.process_row("prep").expect("prep row");
    assert_eq!((prep["state"].as_str(), prep["last exit"].as_str()), ("exited", "exit 0"), "{}", s.text);

    // The daemon agrees, pid for pid.
    d.wait_group("mail", "runmore", GroupState::Done);
    let status = d.ok(&["status"]);
    assert!(status.lines().any(|l| l == "mail runmore DONE"), "{status}");
    let mta = json_pid(&d, "mta").expect("mta has a pid");
    let extra = json_pid(&d, "extra").expect("extra has a pid");
    let s = c.wait("the pids of `isinit status`", |s| {
        shows(&s.process_row("mta"), "running", mta) && shows(&s.process_row("extra"), "running", extra)
    });
    assert!(s.has("tell mail runmore"), "the audit trail shows the tell:\n{}", s.text);
    assert_alive(mta as i32, "mta");

    // A typed level: `run` stops extra, keeps mta, does not re-run prep.
    c.keys(&["Enter"]);
    c.wait("the level picker", |s| s.has("switch mail to a level"));
    c.type_text("run");
    let s = c.wait("the preview of the typed level run", |s| {
        s.preview("tell").as_deref() == Some("mail run") && s.preview("stop").as_deref() == Some("extra")
    });
    assert!(s.has("other: run"), "typed into the free-text line:\n{}", s.text);
    assert_eq!(s.preview("keep").as_deref(), Some("mta"), "{}", s.text);
    assert_eq!(s.preview("done").as_deref(), Some("prep"), "{}", s.text);
    c.keys(&["Enter"]);
    let s = c.wait("mail run DONE, mta kept, extra stopped", |s| {
        s.group_row("mail").is_some_and(|r| r[1..4] == words(&["run", "DONE", "1/3"]))
            && shows(&s.process_row("mta"), "running", mta)
            && s.process_row("extra").is_some_and(|r| r["pid"] == "-")
    });
    d.wait_group("mail", "run", GroupState::Done);
    assert_eq!(json_pid(&d, "mta"), Some(mta), "mta kept running untouched");
    assert_eq!(json_pid(&d, "extra"), None);
    assert!(d.ok(&["status"]).lines().any(|l| l == "mail run DONE"));
    // Nothing else moved.
    for g in ["beta", "zeta"] {
        assert_eq!(s.group_row(g).expect("row")[1..3], words(&["-", "CONFIGURED"]), "{}", s.text);
    }
}

#[test]
fn a_respawned_process_shows_up_by_itself() {
    let d = TestDaemon::start("g:r:1:respawn:exec sleep 1000\n");
    let c = Console::start(&d);
    d.tell("g", "1");
    d.wait_group("g", "1", GroupState::Done);
    let old = json_pid(&d, "r").expect("r has a pid");
    let s = c.wait("r running with its pid", |s| shows(&s.process_row("r"), "running", old));
    assert_eq!(s.process_row("r").expect("row")["↻"], "0", "{}", s.text);

    kill(Pid::from_raw(old as i32), Signal::SIGKILL).expect("kill r");
    // No key pressed: the console learns of the restart from the daemon.
    let (s, new) = c.wait_for("r with a new pid and one respawn", |s| {
        let row = s.process_row("r")?;
        let pid: i64 = row["pid"].parse().ok()?;
        (row["state"] == "running" && pid != old && row["↻"] == "1").then_some(pid)
    });
    assert_eq!(json_pid(&d, "r"), Some(new), "the pid the daemon reports:\n{}", s.text);
    assert_eq!(s.process_row("r").expect("row")["last exit"], "signal 9", "{}", s.text);
    assert_alive(new as i32, "the respawned r");
}

#[test]
fn the_console_survives_a_daemon_restart() {
    let tab = "a:a1:1:respawn:exec sleep 1000\nb:b1:1:respawn:exec sleep 1000\nc:c1:1:respawn:exec sleep 1000\n";
    let mut d = TestDaemon::start(tab);
    let c = Console::start(&d);
    d.tell("b", "1");
    c.keys(&["Down"]);
    let b1 = i64::from(d.wait_running("b1"));
    let s = c.wait("b selected, b1 running", |s| {
        s.shown_group().as_deref() == Some("b") && shows(&s.process_row("b1"), "running", b1)
    });
    let old = d.pid();
    assert_eq!(s.header_pid(), Some(old), "{}", s.text);

    // The daemon goes away: the console says so, keeps the last state.
    d.ok(&["shutdown", "--wait"]);
    d.wait_exit();
    let s = c.wait("the DISCONNECTED banner", |s| s.has("DISCONNECTED") && s.has("reconnecting"));
    assert!(!s.has("● connected"), "{}", s.text);
    assert!(s.has("STALE"), "the last known state is marked stale:\n{}", s.text);
    assert!(s.group_row("b").is_some(), "the last known groups stay on screen:\n{}", s.text);

    // It does not freeze while the daemon is away: keys still work.
    c.keys(&["Down"]);
    c.wait("c selected while disconnected", |s| s.shown_group().as_deref() == Some("c"));
    c.keys(&["Up"]);
    c.wait("b selected again", |s| s.shown_group().as_deref() == Some("b"));

    // A new daemon on the same socket: the console reconnects by itself.
    d.restart();
    let new = d.pid();
    assert_ne!(new, old);
    let s = c.wait("connected to the new daemon", |s| {
        s.has("● connected") && !s.has("DISCONNECTED") && s.header_pid() == Some(new)
    });
    assert!(!s.has("STALE"), "{}", s.text);
    assert_eq!(s.shown_group().as_deref(), Some("b"), "the same group still selected:\n{}", s.text);
    assert_eq!(s.highlighted_group().as_deref(), Some("b"), "{}", s.text);
    assert_eq!(s.group_row("b").expect("row")[1..3], words(&["-", "CONFIGURED"]), "{}", s.text);

    // And it is live: a tell shows up.
    d.tell("b", "1");
    let pid = i64::from(d.wait_running("b1"));
    c.wait("b1 running under the new daemon", |s| shows(&s.process_row("b1"), "running", pid));
}

#[test]
fn reload_of_a_broken_file_shows_the_errors_and_changes_nothing() {
    let good = "g:r:1:respawn:exec sleep 1000\ng:o:1:once:exec sleep 1000\n";
    let d = TestDaemon::start(good);
    let c = Console::start(&d);
    d.tell("g", "1");
    d.wait_group("g", "1", GroupState::Done);
    let (r, o) = (json_pid(&d, "r").expect("r pid"), json_pid(&d, "o").expect("o pid"));
    c.wait("r and o running", |s| shows(&s.process_row("r"), "running", r) && shows(&s.process_row("o"), "running", o));

    // Lines 3 and 4 are broken; line 5 would add a process if it were applied.
    d.write_tab(&format!("{good}g:x:1:sometimes:true\n:y:1:once:true\ng:new:1:respawn:exec sleep 1000\n"));
    let tab = d.tab_path().display().to_string();
    let check = d.fails(&["check"]);
    let errors: Vec<&str> = check.lines().filter(|l| l.starts_with(&format!("{tab}:"))).collect();
    assert_eq!(errors.len(), 2, "{check}");

    c.keys(&["r"]);
    let s = c.wait("the reload errors in a popup", |s| s.has("reload failed") && errors.iter().all(|e| s.has(e)));
    for (line, e) in [3, 4].iter().zip(&errors) {
        assert!(e.starts_with(&format!("{tab}:{line}: ")), "PATH:LINE: message: {e}");
    }
    assert!(!s.has(&format!("{tab}:1:")) && !s.has(&format!("{tab}:5:")), "only the bad lines:\n{}", s.text);

    // Nothing changed: same processes, same pids, no `new`.
    assert_eq!((json_pid(&d, "r"), json_pid(&d, "o")), (Some(r), Some(o)));
    assert!(status_json(&d)["processes"].as_array().expect("processes").iter().all(|p| p["tag"] != "new"));
    assert_alive(r as i32, "r");
    assert_alive(o as i32, "o");

    // Esc closes the popup; the screen still shows the same pids, and the
    // status line the failure.
    c.keys(&["Escape"]);
    let s = c.wait("the popup closed, the same pids", |s| {
        !errors.iter().any(|e| s.has(e))
            && shows(&s.process_row("r"), "running", r)
            && shows(&s.process_row("o"), "running", o)
    });
    assert!(s.process_row("new").is_none(), "{}", s.text);
    assert!(s.text.lines().any(|l| l.contains("reload failed")), "the status line tells:\n{}", s.text);
}

#[test]
fn q_quits_and_restores_the_terminal() {
    let d = TestDaemon::start("g:r:1:respawn:exec sleep 1000\n");
    d.tell("g", "1");
    let r = d.wait_running("r");
    let c = Console::start(&d);
    c.wait("r running", |s| shows(&s.process_row("r"), "running", i64::from(r)));
    assert_eq!(c.format("#{alternate_on}"), "1", "the console draws on the alternate screen");

    c.keys(&["q"]);
    let status = wait_for(DEADLINE, "the console to exit", || {
        c.exit_status().ok_or_else(|| format!("pane_dead={} screen:\n{}", c.format("#{pane_dead}"), c.screen().text))
    });
    assert_eq!(status, 0, "q exits 0");
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
    c.type_text("q");
    // `q` is text here, not quit.
    c.wait("q typed as a level", |s| s.preview("tell").as_deref() == Some("g q"));
    assert_eq!(c.exit_status(), None, "q while typing does not quit");
    c.keys(&["C-c"]);
    let status =
        wait_for(DEADLINE, "the console to exit", || c.exit_status().ok_or_else(|| c.screen().text.to_string()));
    assert_eq!(status, 0);
    assert_eq!(d.ok(&["status"]), "g - CONFIGURED\n", "nothing was told");
}

/// The helpers themselves, on a fixed screen (no tmux needed).
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
    let mta = s.process_row("mta").expect("mta");
    assert_eq!((mta["state"].as_str(), mta["pid"].as_str(), mta["↻"].as_str()), ("running", "4242", "12"));
    assert_eq!(mta["last exit"], "signal 9");
    assert_eq!(s.process_row("spool").expect("spool")["state"], "not started");
    assert_eq!(s.shown_group().as_deref(), Some("mail"));
    assert_eq!(s.highlighted_group().as_deref(), Some("mail"));
    assert_eq!(s.header_pid(), Some(548));
}
