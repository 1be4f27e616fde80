//! The fleet screen at hundreds of hosts (SPEC §16): the table scrolls
//! with the selection, `/` filters, `s` sorts trouble first, the matrix
//! scrolls both ways, `:host NAME` jumps, and the rollout form and its
//! progress — all without a terminal or a network.

use super::roll::RollMessage;
use super::*;
use crate::fixture;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use isinit_client::fleet::rollout::Batch;
use isinit_client::fleet::rollout::Tally;
use isinit_client::fleet::rollout::drive::{Event, HostStep, Outcome};
use isinit_shared::protocol::{GroupState, GroupStatus, ProcessState};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::sync::atomic::Ordering;

/// A snapshot with nothing wrong: every group DONE, every process running.
fn healthy() -> isinit_shared::Snapshot {
    let mut s = fixture::snapshot();
    for g in &mut s.groups {
        g.state = GroupState::Done;
    }
    for p in &mut s.processes {
        if matches!(p.state, ProcessState::Backoff | ProcessState::FailedToStart) {
            p.state = ProcessState::Running;
        }
    }
    s
}

/// `n` hosts `web1`…, all answering, on a `width`×`height` screen.
fn fleet(n: usize, width: u16, height: u16) -> Fleet {
    let dests: Vec<Dest> = (1..=n).map(|i| Dest::new(&format!("web{i}")).unwrap()).collect();
    let mut f = Fleet::new(&dests, TimeZone::Utc);
    for i in 0..n {
        f.on_client_event(i, ClientEvent::Snapshot(Box::new(healthy())));
    }
    f.resize(Size { width, height });
    f
}

fn screen(f: &Fleet) -> String {
    let size = f.size();
    let mut t = Terminal::new(TestBackend::new(size.width, size.height)).unwrap();
    t.draw(|frame| view::draw(frame, f)).unwrap();
    let buf = t.backend().buffer().clone();
    (0..buf.area.height)
        .map(|y| {
            (0..buf.area.width).map(|x| buf[(x, y)].symbol().to_string()).collect::<String>().trim_end().to_string()
                + "\n"
        })
        .collect()
}

fn press(f: &mut Fleet, code: KeyCode) {
    f.on_key(KeyEvent::new(code, KeyModifiers::NONE));
}

fn typed(f: &mut Fleet, text: &str) {
    for c in text.chars() {
        press(f, KeyCode::Char(c));
    }
}

fn names(f: &Fleet) -> Vec<String> {
    f.order().iter().map(|i| f.hosts()[*i].dest.to_string()).collect()
}

/// The host rows of the table on screen (`›` marks the selection).
fn table_rows(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.contains("● up") || l.contains("✕ LOST"))
        .map(|l| l.trim_start_matches(['│', '›', ' ']).split_whitespace().next().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn the_hosts_table_scrolls_with_the_selection() {
    let mut f = fleet(200, 120, 40);
    let rows = view::table_rows(40, 200);
    assert_eq!(rows, 17, "half the screen, less border and header");
    assert_eq!(table_rows(&screen(&f)).first().map(String::as_str), Some("web1"));
    press(&mut f, KeyCode::End);
    let text = screen(&f);
    let shown = table_rows(&text);
    assert_eq!(shown.len(), rows);
    assert_eq!(shown.last().map(String::as_str), Some("web200"), "the selection stays in view:\n{text}");
    assert!(text.contains("│›web200"), "{text}");
    assert!(text.contains(" Hosts 200 · 184-200 "), "{text}");
    // Moving back up one row at a time scrolls only once it leaves the top.
    for _ in 0..rows {
        press(&mut f, KeyCode::Up);
    }
    assert_eq!(f.top(), 200 - rows - 1);
    assert_eq!(table_rows(&screen(&f)).first().map(String::as_str), Some("web183"));
    press(&mut f, KeyCode::Home);
    assert_eq!((f.selected(), f.top()), (0, 0));
}

#[test]
fn slash_filters_by_a_name_part_or_a_host_set_and_esc_clears() {
    let mut f = fleet(200, 120, 40);
    press(&mut f, KeyCode::Char('/'));
    typed(&mut f, "web19");
    assert!(f.filtering());
    assert_eq!(
        names(&f),
        ["web19", "web190", "web191", "web192", "web193", "web194", "web195", "web196", "web197", "web198", "web199"]
    );
    assert_eq!(f.hosts()[f.selected()].dest.as_str(), "web19", "the selection moves onto a host shown");
    press(&mut f, KeyCode::Enter);
    assert!(!f.filtering());
    let text = screen(&f);
    assert!(text.contains(" Hosts 11 of 200 · filter web19 "), "{text}");
    // A host set: brackets and commas.
    press(&mut f, KeyCode::Char('/'));
    for _ in 0..5 {
        press(&mut f, KeyCode::Backspace);
    }
    typed(&mut f, "web[1-3,150]");
    assert_eq!(names(&f), ["web1", "web2", "web3", "web150"]);
    press(&mut f, KeyCode::Esc);
    assert_eq!((f.filter(), f.filtering(), f.order().len()), ("", false, 200), "Esc clears");
    // Esc on the screen clears a kept filter too.
    press(&mut f, KeyCode::Char('/'));
    typed(&mut f, "web7");
    press(&mut f, KeyCode::Enter);
    assert_eq!(f.order().len(), 11, "web7, web70…web79");
    press(&mut f, KeyCode::Esc);
    assert_eq!(f.order().len(), 200);
}

#[test]
fn s_sorts_lost_failed_backoff_drift_first_then_by_name() {
    let mut f = fleet(7, 140, 40);
    let mut drifted = healthy();
    drifted.daemon.config_sha256 = "77".repeat(32);
    f.on_client_event(1, ClientEvent::Snapshot(Box::new(drifted)));
    f.on_client_event(6, ClientEvent::Disconnected { at_ms: 0, reason: "Connection refused".into() });
    let mut failed = healthy();
    failed.groups[0].state = GroupState::Failed;
    f.on_client_event(3, ClientEvent::Snapshot(Box::new(failed)));
    let mut backoff = healthy();
    backoff.processes[0].state = ProcessState::Backoff;
    f.on_client_event(4, ClientEvent::Snapshot(Box::new(backoff)));
    assert_eq!(f.sort(), HostSort::Given);
    assert!(screen(&f).contains("sort: as given"));
    press(&mut f, KeyCode::Char('s'));
    assert_eq!(names(&f), ["web7", "web4", "web5", "web2", "web1", "web3", "web6"]);
    let text = screen(&f);
    assert!(text.contains("sort: trouble first"), "{text}");
    assert_eq!(table_rows(&text), names(&f), "the table shows that order");
    press(&mut f, KeyCode::Char('s'));
    assert_eq!(f.sort(), HostSort::Name);
    assert!(screen(&f).contains("sort: by name"));
    press(&mut f, KeyCode::Char('s'));
    assert_eq!(f.sort(), HostSort::Given);
}

/// `n` groups on every host.
fn many_groups(f: &mut Fleet, n: usize) {
    for i in 0..f.hosts().len() {
        let mut s = healthy();
        s.groups = (0..n)
            .map(|g| GroupStatus {
                name: format!("group{g:02}"),
                level: Some("run".into()),
                state: GroupState::Done,
                since_ms: 0,
                levels: vec!["run".into()],
                in_file: true,
                owner: None,
            })
            .collect();
        f.on_client_event(i, ClientEvent::Snapshot(Box::new(s)));
    }
}

#[test]
fn the_matrix_scrolls_both_ways() {
    let mut f = fleet(40, 120, 40);
    many_groups(&mut f, 50);
    let columns = view::matrix_columns(120);
    assert_eq!(columns, 6);
    let header = |f: &Fleet| screen(f).lines().find(|l| l.contains("GROUP ")).unwrap_or_default().to_string();
    assert!(header(&f).contains("web1 ") && header(&f).contains("web6") && !header(&f).contains("web7"));
    for _ in 0..3 {
        press(&mut f, KeyCode::Right);
    }
    assert!(
        header(&f).contains("web4 ") && header(&f).contains("web9") && !header(&f).contains("web3 "),
        "{}",
        header(&f)
    );
    assert!(screen(&f).contains("hosts 4-9 of 40"), "{}", screen(&f));
    press(&mut f, KeyCode::Left);
    assert_eq!(f.column(), 2);
    // Selecting a host off to the right brings its column into view.
    for _ in 0..20 {
        press(&mut f, KeyCode::Down);
    }
    assert!(header(&f).contains("web21"), "{}", header(&f));
    // Groups scroll by page.
    let text = screen(&f);
    assert!(text.contains("group00") && !text.contains("group40"), "{text}");
    for _ in 0..5 {
        press(&mut f, KeyCode::PageDown);
    }
    let text = screen(&f);
    assert!(text.contains("group49") && !text.contains("group00"), "{text}");
}

#[test]
fn palette_host_completes_and_opens_the_host() {
    let mut f = fleet(40, 120, 30);
    press(&mut f, KeyCode::Char('/'));
    typed(&mut f, "web1");
    press(&mut f, KeyCode::Enter);
    press(&mut f, KeyCode::Char(':'));
    typed(&mut f, "ho");
    press(&mut f, KeyCode::Tab);
    typed(&mut f, "web3");
    press(&mut f, KeyCode::Tab);
    let p = f.palette().expect("open");
    assert_eq!(p.text, "host web3");
    assert_eq!(p.candidates.len(), 11, "web3 and web30…web39: {:?}", p.candidates);
    assert!(screen(&f).contains("web30  web31"), "the choices are listed");
    typed(&mut f, "4");
    press(&mut f, KeyCode::Tab);
    assert_eq!(f.palette().map(|p| p.text.as_str()), Some("host web34 "));
    press(&mut f, KeyCode::Enter);
    assert_eq!(f.view(), View::Host(33));
    assert_eq!(f.filter(), "", "the filter that hid it is cleared");
    press(&mut f, KeyCode::Esc);
    press(&mut f, KeyCode::Char(':'));
    typed(&mut f, "host nowhere");
    press(&mut f, KeyCode::Enter);
    assert!(screen(&f).contains("no such host: nowhere"));
    press(&mut f, KeyCode::Char(':'));
    press(&mut f, KeyCode::Up);
    assert_eq!(f.palette().map(|p| p.text.as_str()), Some("host nowhere"), "history");
}

#[test]
fn the_rollout_form_rolls_the_hosts_shown() {
    let mut f = fleet(12, 120, 36);
    press(&mut f, KeyCode::Char('/'));
    typed(&mut f, "web[1-8]");
    press(&mut f, KeyCode::Enter);
    press(&mut f, KeyCode::Char('s'));
    press(&mut f, KeyCode::Char('R'));
    let form = f.form().expect("the form");
    assert_eq!((form.set.as_str(), form.hosts.len()), ("web[1-8]", 8));
    let groups = form.groups.clone();
    assert!(groups.contains(&"web".to_string()), "{groups:?}");
    while f.form().is_some_and(|form| form.groups[form.group] != "web") {
        press(&mut f, KeyCode::Right);
    }
    press(&mut f, KeyCode::Tab);
    assert_eq!(
        f.form().map(|form| form.levels.clone()),
        Some(vec!["1", "2", "3", "123", "0"].into_iter().map(String::from).collect())
    );
    press(&mut f, KeyCode::Right);
    press(&mut f, KeyCode::Right);
    press(&mut f, KeyCode::Tab);
    press(&mut f, KeyCode::Backspace);
    typed(&mut f, "25%");
    press(&mut f, KeyCode::Tab);
    press(&mut f, KeyCode::Backspace);
    typed(&mut f, "2");
    insta::assert_snapshot!("rollout_form", screen(&f));
    press(&mut f, KeyCode::Enter);
    assert!(f.form().is_none());
    let start = f.take_start().expect("a rollout to run");
    assert_eq!((start.plan.group.as_str(), start.plan.level.as_str()), ("web", "3"));
    assert_eq!(start.plan.batch, Batch::Percent(25));
    assert_eq!(start.plan.healthy_for, std::time::Duration::from_secs(2));
    let hosts: Vec<&str> = start.hosts.iter().map(|d| d.as_str()).collect();
    assert_eq!(hosts, ["web1", "web2", "web3", "web4", "web5", "web6", "web7", "web8"], "as given, not as sorted");
    // A bad batch is refused in the form.
    press(&mut f, KeyCode::Esc);
    f.rollout = None;
    press(&mut f, KeyCode::Char('R'));
    press(&mut f, KeyCode::Tab);
    press(&mut f, KeyCode::Tab);
    press(&mut f, KeyCode::Backspace);
    typed(&mut f, "0");
    press(&mut f, KeyCode::Enter);
    assert!(f.form().and_then(|form| form.error.clone()).is_some_and(|e| e.contains("not a batch size")));
    assert!(f.take_start().is_none());
}

#[test]
fn palette_roll_fills_the_form_in() {
    let mut f = fleet(12, 120, 36);
    press(&mut f, KeyCode::Char(':'));
    typed(&mut f, "roll w");
    press(&mut f, KeyCode::Tab);
    typed(&mut f, "1");
    press(&mut f, KeyCode::Tab);
    assert_eq!(
        f.palette().map(|p| p.candidates.clone()),
        Some(vec!["1".to_string(), "123".to_string()]),
        "web's levels"
    );
    typed(&mut f, "23 4");
    press(&mut f, KeyCode::Enter);
    let form = f.form().expect("the form, filled in");
    assert_eq!(
        (form.groups[form.group].as_str(), form.levels[form.level].as_str(), form.batch.as_str()),
        ("web", "123", "4")
    );
    assert_eq!(form.hosts.len(), 12);
    press(&mut f, KeyCode::Enter);
    let start = f.take_start().expect("started");
    assert_eq!((start.plan.level.as_str(), start.plan.batch), ("123", Batch::Hosts(4)));
    assert!(screen(&f).contains("Rollout web → 123 · 12 hosts · waves of 4"));
    // A level the group does not have is said, not guessed.
    f.on_rollout(RollMessage::Done(Outcome { tally: Tally::default(), success: true, interrupted: false }));
    press(&mut f, KeyCode::Char(':'));
    typed(&mut f, "roll web 9");
    press(&mut f, KeyCode::Enter);
    assert_eq!(f.form().and_then(|form| form.error.clone()).as_deref(), Some("web has no level 9"));
}

#[test]
fn the_rollout_progress_shows_waves_hosts_and_the_final_line() {
    let mut f = fleet(40, 120, 36);
    press(&mut f, KeyCode::Char('R'));
    while f.form().is_some_and(|form| form.groups[form.group] != "web") {
        press(&mut f, KeyCode::Right);
    }
    press(&mut f, KeyCode::Tab);
    press(&mut f, KeyCode::Tab);
    press(&mut f, KeyCode::Backspace);
    typed(&mut f, "10");
    press(&mut f, KeyCode::Enter);
    let start = f.take_start().expect("started");
    let wave = |n: usize| (10 * n - 9..=10 * n).map(|i| format!("web{i}")).collect::<Vec<_>>();
    let event = |f: &mut Fleet, e: Event| f.on_rollout(RollMessage::Event(e));
    event(&mut f, Event::Wave { n: 1, of: 4, hosts: wave(1) });
    for host in wave(1) {
        event(&mut f, Event::Host { host, step: HostStep::Healthy });
    }
    event(&mut f, Event::WaveDone("wave 1/4 web[1-10]: ok".into()));
    event(&mut f, Event::Wave { n: 2, of: 4, hosts: wave(2) });
    event(&mut f, Event::Host { host: "web11".into(), step: HostStep::Healthy });
    event(&mut f, Event::Host { host: "web12".into(), step: HostStep::Settling });
    event(&mut f, Event::Host { host: "web13".into(), step: HostStep::Failed("FAILED".into()) });
    event(&mut f, Event::Host { host: "web14".into(), step: HostStep::Waiting("STARTING".into()) });
    let text = screen(&f);
    assert!(text.contains("Rollout web → 1 · 40 hosts · waves of 10"), "{text}");
    assert!(text.contains("wave 2/4 web[11-20]") && text.contains("running"), "{text}");
    assert!(
        text.contains("✓ web11 healthy")
            && text.contains("… web12 up, settling")
            && text.contains("✕ web13 FAILED")
            && text.contains("… web14 STARTING"),
        "{text}"
    );
    assert!(text.contains("wave 1/4 web[1-10]: ok"), "{text}");
    insta::assert_snapshot!("rollout_progress", text);
    // q asks again while it runs.
    press(&mut f, KeyCode::Char('q'));
    assert!(f.is_running());
    assert!(screen(&f).contains("a rollout is running: q again quits now"));
    // S: stop after this wave.
    press(&mut f, KeyCode::Char('S'));
    assert!(start.stop.load(Ordering::SeqCst));
    assert!(screen(&f).contains("stopping after this wave"));
    event(&mut f, Event::WaveDone("wave 2/4 web[11-20]: failed web13 (FAILED)".into()));
    let tally = Tally {
        rolled: (1..=20).filter(|i| *i != 13).map(|i| format!("web{i}")).collect(),
        failed: vec!["web13".into()],
        reverted: Vec::new(),
        not_told: (21..=40).map(|i| format!("web{i}")).collect(),
    };
    f.on_rollout(RollMessage::Done(Outcome { tally, success: false, interrupted: true }));
    let text = screen(&f);
    assert!(text.contains("wave 1/4 web[1-10]: ok"), "every wave line stays: {text}");
    assert!(text.contains("wave 2/4 web[11-20]: failed web13 (FAILED)"), "{text}");
    assert!(text.contains("stopped after the current wave"), "{text}");
    assert!(text.contains("rolled web[1-12,14-20] (19); failed web13 (1); not told web[21-40] (20)"), "{text}");
    // Esc gives the matrix back once it is done.
    press(&mut f, KeyCode::Esc);
    assert!(f.rollout().is_none());
    assert!(screen(&f).contains("Groups × hosts"));
}

#[test]
fn a_finished_rollout_keeps_every_wave_line_and_the_matrix_below() {
    let mut f = fleet(12, 120, 40);
    press(&mut f, KeyCode::Char(':'));
    typed(&mut f, "roll web 2 4");
    press(&mut f, KeyCode::Enter);
    press(&mut f, KeyCode::Enter);
    assert!(f.take_start().is_some());
    for n in 1..=3 {
        let hosts: Vec<String> = (4 * n - 3..=4 * n).map(|i| format!("web{i}")).collect();
        f.on_rollout(RollMessage::Event(Event::Wave { n, of: 3, hosts: hosts.clone() }));
        for host in hosts {
            f.on_rollout(RollMessage::Event(Event::Host { host, step: HostStep::Healthy }));
        }
        f.on_rollout(RollMessage::Event(Event::WaveDone(format!("wave {n}/3 web[{}-{}]: ok", 4 * n - 3, 4 * n))));
    }
    let tally = Tally { rolled: (1..=12).map(|i| format!("web{i}")).collect(), ..Tally::default() };
    f.on_rollout(RollMessage::Done(Outcome { tally, success: true, interrupted: false }));
    let text = screen(&f);
    for line in ["wave 1/3 web[1-4]: ok", "wave 2/3 web[5-8]: ok", "wave 3/3 web[9-12]: ok", "rolled web[1-12] (12)"] {
        assert!(text.contains(line), "{line}:\n{text}");
    }
    assert!(text.contains("done") && text.contains("rolled 12 · failed 0 · not told 0"), "{text}");
    assert!(text.contains("Groups × hosts"), "the matrix keeps the rest:\n{text}");
}
