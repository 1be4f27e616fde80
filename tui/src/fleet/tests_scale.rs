//! The fleet screen at hundreds of hosts (SPEC §16): the table scrolls
//! with the selection, `/` filters, `s` sorts trouble first, the matrix
//! scrolls both ways, `:host NAME` jumps — all without a terminal or a
//! network. The rollout form and progress are in `tests_roll`.

use super::*;
use crate::fixture;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use isinit_shared::protocol::{GroupState, GroupStatus, ProcessState};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// A snapshot with nothing wrong: every group DONE, every process running.
pub(super) fn healthy() -> isinit_shared::Snapshot {
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
pub(super) fn fleet(n: usize, width: u16, height: u16) -> Fleet {
    let dests: Vec<Dest> = (1..=n).map(|i| Dest::new(&format!("web{i}")).unwrap()).collect();
    let mut f = Fleet::new(&dests, TimeZone::Utc);
    for i in 0..n {
        f.on_client_event(i, ClientEvent::Snapshot(Box::new(healthy())));
    }
    f.resize(Size { width, height });
    f
}

pub(super) fn screen(f: &Fleet) -> String {
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

pub(super) fn press(f: &mut Fleet, code: KeyCode) {
    f.on_key(KeyEvent::new(code, KeyModifiers::NONE));
}

pub(super) fn typed(f: &mut Fleet, text: &str) {
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
