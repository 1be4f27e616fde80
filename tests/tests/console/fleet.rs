//! The fleet console (`isinit-tui -H h1 -H h2 -H h3`) over real OpenSSH:
//! the hosts table, the groups × hosts matrix, drift, a lost host that
//! comes back by itself, and opening one host.

use crate::tmux::Console;
use isinit_e2e::TestDaemon;
use isinit_e2e::ssh::{Cluster, unavailable};
use isinit_shared::protocol::GroupState;

const TAB: &str = "web:srv:1:respawn:exec sleep 1000\nmail:mta:run:respawn:exec sleep 1000\n";
const OTHER_TAB: &str = "web:srv:1:respawn:exec sleep 1001\nmail:mta:run:respawn:exec sleep 1000\n";

/// The matrix row of `group` (its cells in host order).
fn matrix_row(text: &str, group: &str) -> Option<String> {
    text.lines().find(|l| l.trim_start_matches('│').trim_start().starts_with(&format!("{group} "))).map(String::from)
}

#[test]
fn fleet_screen_over_ssh_sees_changes_and_a_lost_host() {
    if let Some(why) = unavailable() {
        eprintln!("note: skipping the fleet console test: {why}");
        return;
    }
    let d1 = TestDaemon::start(TAB);
    let d2 = TestDaemon::start(OTHER_TAB);
    let mut d3 = TestDaemon::start(TAB);
    d1.tell("web", "1");
    d1.wait_group("web", "1", GroupState::Done);
    let mut cluster = Cluster::start(&[&d1, &d2, &d3]);
    let args = ["-H", "h1", "-H", "h2", "-H", "h3"].map(std::ffi::OsString::from);
    let c = Console::start_with(&args, &cluster.env());

    let s = c.wait("three hosts up, h2 drifted", |s| s.has("3 up") && s.has("1 DRIFT"));
    let h2 = s.text.lines().find(|l| l.contains(" h2 ")).expect("h2's row").to_string();
    assert!(h2.contains("DRIFT"), "{}", s.text);
    assert!(!s.text.lines().any(|l| (l.contains(" h1 ") || l.contains(" h3 ")) && l.contains("DRIFT")), "{}", s.text);
    c.wait("web on h1 at 1 DONE", |s| matrix_row(&s.text, "web").is_some_and(|r| r.contains("1 DONE")));

    // A change on one host shows up live.
    d3.tell("mail", "run");
    c.wait("mail run on h3", |s| matrix_row(&s.text, "mail").is_some_and(|r| r.contains("run DONE")));

    // h3 goes away (daemon and sshd): its row turns LOST, the others live on.
    d3.kill_daemon();
    cluster.stop_host(2);
    let s = c.wait("h3 lost", |s| s.has("1 LOST") && s.has("2 up"));
    let h3 = s.text.lines().find(|l| l.contains(" h3 ")).expect("h3's row").to_string();
    assert!(h3.contains("LOST"), "{}", s.text);
    d1.tell("mail", "run");
    c.wait("h1 still live", |s| {
        matrix_row(&s.text, "mail").is_some_and(|r| r.matches("run DONE").count() >= 1 && s.has("1 LOST"))
    });

    // It comes back by itself.
    cluster.start_host(2);
    d3.restart();
    c.wait("h3 reconnected", |s| s.has("3 up") && !s.has("LOST"));

    // Enter opens a host's own console; its level picker previews and
    // switches on that host only; Esc comes back.
    c.keys(&["Down", "Enter"]);
    c.wait("h2's single-host console", |s| s.has("● connected") && s.has("processes"));
    c.keys(&["Enter"]);
    c.wait("h2's preview of mail run", |s| {
        s.has("switch mail to a level") && s.preview("tell").as_deref() == Some("mail run")
    });
    c.keys(&["Enter"]);
    d2.wait_group("mail", "run", GroupState::Done);
    c.wait("the picker closed", |s| !s.has("switch mail to a level"));
    c.keys(&["Escape"]);
    c.wait("the fleet screen again", |s| s.has("isinit fleet"));
    c.keys(&["q"]);
    assert_eq!(c.wait_exit(), 0);
}

/// Two levels of web, so a rollout has somewhere to go.
const ROLL_TAB: &str =
    "web:srv:1:respawn:exec sleep 1000\nweb:srv2:2:respawn:exec sleep 1002\nmail:mta:run:respawn:exec sleep 1000\n";

/// Twelve hosts behind shared sshds (SPEC §16): `/` filters the table, `s`
/// sorts trouble first, and `:roll web 2 4` (healthy for 1 s) switches web
/// host by host in three waves of four, with the command line's own wave
/// and final lines on the screen — and on every daemon.
#[test]
fn fleet_screen_filters_sorts_and_rolls_a_group_over_twelve_hosts() {
    if let Some(why) = unavailable() {
        eprintln!("note: skipping the fleet rollout console test: {why}");
        return;
    }
    let daemons: Vec<TestDaemon> = (0..12).map(|_| TestDaemon::start(ROLL_TAB)).collect();
    for d in &daemons {
        d.tell("web", "1");
    }
    let cluster = isinit_e2e::ssh::Cluster::start_shared(&daemons.iter().collect::<Vec<_>>());
    let args = ["-H", "h[1-12]", "--fanout", "4"].map(std::ffi::OsString::from);
    let c = Console::start_with(&args, &cluster.env());
    c.wait("twelve hosts up", |s| s.has("12 up") && s.has(" Hosts 12 "));

    c.keys(&["/"]);
    c.type_text("h1");
    c.wait("h1, h10, h11, h12", |s| s.has("Hosts 4 of 12 · filter h1") && !s.has(" h2 "));
    c.keys(&["Escape"]);
    c.wait("the filter cleared", |s| s.has(" Hosts 12 ") && s.has(" h2 "));
    c.keys(&["s"]);
    c.wait("trouble first", |s| s.has("sort: trouble first"));

    c.keys(&[":"]);
    c.type_text("roll web 2 4");
    c.keys(&["Enter"]);
    c.wait("the form, filled in", |s| s.has("Rolling switch") && s.has("‹ web ›") && s.has("‹ 2 ›"));
    // Healthy for 1 s instead of 5, to keep the test short.
    c.keys(&["Tab", "BSpace"]);
    c.type_text("1");
    c.keys(&["Enter"]);
    c.wait("the rollout running", |s| s.has("Rollout web → 2 · 12 hosts · waves of 4"));
    let s = c.wait("the rollout done", |s| s.has("rolled h[1-12] (12)"));
    for line in ["wave 1/3 h[1-4]: ok", "wave 2/3 h[5-8]: ok", "wave 3/3 h[9-12]: ok"] {
        assert!(s.has(line), "{line}:\n{}", s.text);
    }
    for d in &daemons {
        d.wait_group("web", "2", GroupState::Done);
    }
    c.keys(&["q"]);
    assert_eq!(c.wait_exit(), 0);
}
