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

mod actions;
mod fleet;
mod inside;
mod screen;
mod tmux;

use isinit_e2e::TestDaemon;
use isinit_e2e::asserts::{assert_alive, pid_alive};
use isinit_shared::protocol::GroupState;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use screen::{Screen, ensure, group_is, shows};
use tmux::Console;

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
fn sigterm_quits_and_restores_the_terminal() {
    let d = TestDaemon::start("g:r:1:respawn:exec sleep 1000\n");
    let c = Console::start(&d);
    assert_eq!(c.format("#{alternate_on}"), "1", "the console draws on the alternate screen");
    kill(Pid::from_raw(c.pid), Signal::SIGTERM).expect("SIGTERM the console");
    assert_eq!(c.wait_exit(), 0, "SIGTERM quits like q");
    assert_eq!(c.format("#{alternate_on}"), "0", "the terminal is restored (alternate screen left)");
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
