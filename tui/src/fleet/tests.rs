//! The fleet model and screen, without a terminal or a network.

use super::*;
use crate::client::ClientEvent;
use crate::fixture;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn fleet(n: usize) -> Fleet {
    let dests: Vec<Dest> = (1..=n).map(|i| Dest::new(&format!("web{i}")).unwrap()).collect();
    Fleet::new(&dests, TimeZone::Utc)
}

fn screen(f: &Fleet) -> String {
    let mut t = Terminal::new(TestBackend::new(120, 30)).unwrap();
    t.draw(|frame| view::draw(frame, f)).unwrap();
    let buf = t.backend().buffer().clone();
    (0..buf.area.height)
        .map(|y| (0..buf.area.width).map(|x| buf[(x, y)].symbol().to_string()).collect::<String>() + "\n")
        .collect()
}

fn feed(f: &mut Fleet, host: usize, snapshot: isinit_shared::Snapshot) {
    f.on_client_event(host, ClientEvent::Snapshot(Box::new(snapshot)));
}

#[test]
fn a_drifted_and_a_lost_host_are_marked() {
    let mut f = fleet(3);
    let snap = fixture::snapshot();
    let mut other = snap.clone();
    other.daemon.config_sha256 = "77aa00".repeat(10);
    feed(&mut f, 0, snap.clone());
    feed(&mut f, 1, other);
    feed(&mut f, 2, snap);
    f.on_client_event(2, ClientEvent::Disconnected { at_ms: 0, reason: "Connection refused".into() });
    let majority = majority_sha(f.hosts());
    let rows: Vec<HostSummary> = f.hosts().iter().map(|h| HostSummary::of(h, majority.as_deref())).collect();
    assert_eq!(rows.iter().map(|r| r.drift).collect::<Vec<_>>(), [false, true, false]);
    assert!(matches!(rows[2].link, Link::Lost { .. }));
    let text = screen(&f);
    assert!(text.contains("1 LOST") && text.contains("1 DRIFT"), "{text}");
    assert!(text.contains("Connection refused"), "{text}");
    let web2 = text.lines().find(|l| l.contains(" web2 ")).expect("web2's row");
    assert!(web2.contains("DRIFT"), "{web2}");
}

#[test]
fn enter_opens_a_host_and_esc_comes_back() {
    let mut f = fleet(2);
    feed(&mut f, 0, fixture::snapshot());
    feed(&mut f, 1, fixture::snapshot());
    let key = |code| KeyEvent::new(code, KeyModifiers::NONE);
    f.on_key(key(KeyCode::Down));
    f.on_key(key(KeyCode::Enter));
    assert_eq!(f.view(), View::Host(1));
    assert!(screen(&f).contains("processes"), "the single-host console");
    f.on_key(key(KeyCode::Esc));
    assert_eq!(f.view(), View::Fleet { help: false });
    f.on_key(key(KeyCode::Char('?')));
    assert!(screen(&f).contains("Fleet keys"));
    f.on_key(key(KeyCode::Esc));
    f.on_key(key(KeyCode::Char('q')));
    assert!(!f.is_running());
}

#[test]
fn hosts_off_screen_hold_their_output_stream() {
    let mut f = fleet(2);
    feed(&mut f, 0, fixture::snapshot());
    feed(&mut f, 1, fixture::snapshot());
    let commands = f.take_commands();
    assert!(commands.iter().all(|(_, c)| !matches!(c, Command::Follow { .. } | Command::Usage)), "{commands:?}");
    f.open(1);
    let commands = f.take_commands();
    assert!(commands.iter().any(|(i, c)| *i == 1 && matches!(c, Command::Follow { tag: Some(_), .. })), "{commands:?}");
}

#[test]
fn the_matrix_shows_every_group_of_every_host() {
    let mut f = fleet(2);
    let snap = fixture::snapshot();
    let first = snap.groups[0].name.clone();
    feed(&mut f, 0, snap);
    let text = screen(&f);
    let row = text.lines().find(|l| l.contains(&format!(" {first} "))).expect("a matrix row");
    assert!(row.contains('·'), "web2 has no snapshot yet: {row}");
    assert_eq!(view::count_order()[0], isinit_shared::GroupState::Failed);
    assert_eq!(summary::uptime(3 * 3_600_000 + 5 * 60_000), "3h05m");
}
