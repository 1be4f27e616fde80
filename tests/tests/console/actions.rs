//! Issue 10 in the console: `R` restart / retry after a y/n question, `S`
//! the signal picker, the cpu%/rss columns, `s`/`I` sort, `/` `n` `N`
//! output search and `w` wrap — each checked against what the daemon says.

use crate::screen::ensure;
use crate::tmux::Console;
use isinit_e2e::asserts::wait_gone;
use isinit_e2e::{DEADLINE, TestDaemon, wait_until};
use isinit_shared::protocol::{GroupState, ProcessState};

/// `svc` notes every SIGINT and SIGHUP in files and says when its traps
/// are set; `idle` sleeps.
const TAB: &str = "g:svc:1:respawn:trap 'echo INT >> {dir}/ints; exit 0' INT; \
    trap 'echo HUP >> {dir}/hups' HUP; echo $$ > {dir}/ready.$$; while :; do sleep 0.1; done\n\
    g:idle:1:respawn:exec sleep 1000\n";

#[test]
fn r_restarts_after_a_confirmation_and_s_sends_a_signal() {
    let d = TestDaemon::start(TAB);
    d.tell("g", "1");
    d.wait_group("g", "1", GroupState::Done);
    let old = d.wait_running("svc");
    d.wait_file(&format!("ready.{old}"));
    let c = Console::start(&d);
    c.keys(&["Tab"]);
    c.wait("svc selected in the processes panel", |s| s.has("┌ svc respawn"));

    // n answers no: nothing happens.
    c.keys(&["R"]);
    c.wait("the restart question", |s| s.has("restart svc?") && s.has(&format!("Stops svc (pid {old})")));
    c.keys(&["n"]);
    c.wait("the question closed, nothing done", |s| {
        !s.has("restart svc?") && s.status_line().ends_with("nothing done")
    });
    assert_eq!(d.process("svc").pid, Some(old as u32));

    // y restarts; the status line and the audit strip say so.
    c.keys(&["R"]);
    c.wait("the restart question", |s| s.has("restart svc?"));
    c.keys(&["y"]);
    let new = d.wait_process("svc", "restarted", |p| p.pid.is_some_and(|p| p as i32 != old) && p.respawns == 1);
    let new = new.pid.expect("pid") as i32;
    c.wait_for("the daemon's answer and the audit record", |s| {
        let want = format!("✓ restarted svc: running as pid {new}");
        ensure(s.status_line().ends_with(&want), format!("status line {:?}, not {want:?}", s.status_line()))?;
        ensure(s.text.lines().any(|l| l.contains("uid 0") && l.ends_with("restart svc")), "no `uid 0 … restart svc`")
    });
    assert_eq!(d.lines("ints"), ["INT"], "stopped gracefully");
    wait_gone(old, "the old svc");
    d.wait_file(&format!("ready.{new}"));

    // S, Enter: HUP (the first signal offered) to the process group.
    c.keys(&["S"]);
    c.wait("the signal picker", |s| s.has(&format!("signal svc (process group {new})")) && s.has("› SIGHUP"));
    c.keys(&["Enter"]);
    wait_until(DEADLINE, "svc's HUP trap to run", || d.lines("hups").len() == 1);
    c.wait("the daemon's answer", |s| {
        s.status_line().ends_with(&format!("✓ sent SIGHUP to svc (process group {new})"))
    });
    // Down, Down: TERM; svc has no TERM trap, so it ends and is respawned.
    c.keys(&["S"]);
    c.wait("the signal picker", |s| s.has("› SIGHUP"));
    c.keys(&["Down", "Down"]);
    c.wait("TERM highlighted", |s| s.has("› SIGTERM"));
    c.keys(&["Enter"]);
    d.wait_process("svc", "respawned after SIGTERM", |p| p.pid.is_some_and(|p| p as i32 != new) && p.respawns == 2);
    c.wait("the audit strip", |s| s.text.lines().any(|l| l.ends_with("signal svc TERM")));
}

#[test]
fn r_on_a_throttled_process_retries_it_now() {
    let tab = "g:flap:1:respawn:echo start >> {dir}/starts; exit 1\n";
    let d = TestDaemon::builder(tab).respawn_pause(600.0).start();
    d.tell("g", "1");
    d.wait_state("flap", ProcessState::Backoff);
    let c = Console::start(&d);
    c.keys(&["Tab"]);
    c.wait("flap in backoff", |s| s.process_row("flap").is_some_and(|r| r["state"] == "backoff"));
    c.keys(&["R"]);
    c.wait("the retry question", |s| s.has("retry flap now?") && s.has("throttled"));
    c.keys(&["y"]);
    wait_until(DEADLINE, "flap started again at once", || d.lines("starts").len() > 6);
    c.wait("the daemon's answer", |s| s.status_line().contains("✓ retried flap"));
    c.wait("the audit strip", |s| s.text.lines().any(|l| l.ends_with("retry flap")));
}

#[test]
fn resource_columns_sort_search_and_wrap() {
    let long = "x".repeat(150);
    let tab = format!(
        "g:busy:1:respawn:while :; do :; done\ng:idle:1:respawn:exec sleep 1000\n\
         g:talk:1:respawn:for i in 1 2 3 4 5 6 7 8; do echo \"line $i needle\"; echo \"filler $i\"; done; \
         echo {long}END; exec sleep 1000\n"
    );
    let d = TestDaemon::start(&tab);
    d.tell("g", "1");
    d.wait_group("g", "1", GroupState::Done);
    let c = Console::start(&d);
    let number = |v: &str| v.parse::<f64>().ok();

    // cpu% and rss appear by themselves while the processes are shown.
    c.wait_for("cpu% and rss of busy and idle", |s| {
        let busy = s.process_row("busy").ok_or("no row for busy")?;
        let idle = s.process_row("idle").ok_or("no row for idle")?;
        ensure(number(&busy["cpu%"]).is_some_and(|p| p > 5.0), format!("busy: {busy:?}"))?;
        ensure(number(&idle["cpu%"]).is_some_and(|p| p < 5.0), format!("idle: {idle:?}"))?;
        ensure(idle["rss"].ends_with('K') || idle["rss"].ends_with('M'), format!("idle rss: {idle:?}"))
    });

    // s five times: tag, state, uptime, respawns, cpu — busiest first.
    c.keys(&["Tab"]);
    c.keys(&["s", "s", "s", "s", "s"]);
    c.wait_for("sorted by cpu, busiest first", |s| {
        let header = s.process_header().ok_or("no header")?;
        ensure(header.contains("cpu%▼"), format!("header {header:?}"))?;
        ensure(s.process_tags().first().map(String::as_str) == Some("busy"), format!("rows {:?}", s.process_tags()))
    });
    c.keys(&["I"]);
    c.wait_for("reversed", |s| {
        let header = s.process_header().ok_or("no header")?;
        ensure(header.contains("cpu%▲"), format!("header {header:?}"))?;
        ensure(s.process_tags().last().map(String::as_str) == Some("busy"), format!("rows {:?}", s.process_tags()))
    });

    // The output of talk: search it, then wrap its long line.
    c.keys(&["s"]); // rss
    c.keys(&["s"]); // file order again
    c.wait("file order", |s| s.process_tags() == ["busy", "idle", "talk"]);
    c.keys(&["Down", "Down"]);
    c.wait("talk's output", |s| s.has("┌ talk respawn") && s.has("filler 8"));
    c.keys(&["Tab"]);
    c.keys(&["/"]);
    c.wait("the search prompt", |s| s.status_line().starts_with("search output:"));
    c.type_text("needle");
    c.keys(&["Enter"]);
    c.wait("a match reported", |s| s.status_line().contains("/needle: matching line"));
    c.keys(&["n"]);
    c.wait("the next match", |s| s.status_line().contains("/needle: matching line"));
    c.wait_for("the matches highlighted (yellow or light cyan background)", |s| {
        let highlighted = s.ansi.match_indices("needle").filter(|(at, _)| {
            let before = &s.ansi[at.saturating_sub(24)..*at];
            // The last SGR before the word; tmux writes palette colours as
            // 48;5;N (yellow 3, light cyan 14).
            let sgr = before.rsplit('\x1b').next().unwrap_or_default();
            matches!(sgr, "[43m" | "[106m" | "[48;5;3m" | "[48;5;14m")
        });
        ensure(highlighted.count() >= 2, "fewer than two highlighted matches")
    });
    c.keys(&["w"]);
    c.wait("wrapped", |s| s.has("wrapped") && s.has("xEND"));
}
