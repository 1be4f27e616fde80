//! Snapshot tests of whole frames on ratatui's `TestBackend`, built from
//! the hand-made fixture with a fixed clock and UTC times, so every frame
//! is reproducible. Review changes with `INSTA_UPDATE=always cargo test -p
//! isinit-tui` and read the `.snap` diffs.

use isinit_shared::{Plan, Update};
use isinit_tui::app::{Action, App};
use isinit_tui::client::{ClientEvent, Reply};
use isinit_tui::fixture::{self, NOW_MS};
use isinit_tui::ui;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::{Color, Modifier};

fn render(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("a test terminal");
    terminal.draw(|frame| ui::draw(frame, app)).expect("a frame");
    terminal
}

/// The fixture, with the throttle notice seen and a usage sample
/// received ([`on_mta`] streams output).
fn app(width: u16, height: u16) -> App {
    let mut app = fixture::app(fixture::snapshot(), width, height);
    app.update(Action::Client(ClientEvent::Update(Box::new(fixture::nginx_notice()))));
    app.update(Action::Client(ClientEvent::Reply(Reply::Usage(Ok(fixture::usage())))));
    app
}

/// Selects `mail` / `mta`, whose output is streaming.
fn on_mta(app: &mut App) {
    app.update(Action::Down);
    app.update(Action::FocusNext);
    app.update(Action::Down);
    app.update(Action::Down);
    let id = app.take_commands().into_iter().rev().find_map(|c| match c {
        isinit_tui::client::Command::Follow { id, .. } => Some(id),
        _ => None,
    });
    let id = id.expect("a follow command");
    app.update(Action::Client(ClientEvent::Logs { id, lines: fixture::output("mta", 30) }));
}

#[test]
fn overview() {
    let mut app = app(100, 30);
    on_mta(&mut app);
    insta::assert_snapshot!(render(&app, 100, 30).backend());
}

#[test]
fn overview_80x24() {
    let mut app = app(80, 24);
    on_mta(&mut app);
    insta::assert_snapshot!(render(&app, 80, 24).backend());
}

#[test]
fn backoff_and_start_error() {
    let mut app = app(100, 30);
    app.update(Action::Bottom); // web
    app.update(Action::FocusNext);
    app.update(Action::Down); // nginx, throttled
    insta::assert_snapshot!(render(&app, 100, 30).backend());
}

#[test]
fn picker_with_a_preview() {
    let mut app = app(100, 30);
    app.update(Action::Down); // mail at run
    app.update(Action::Confirm);
    app.update(Action::Down); // runmore
    let plan = Plan {
        group: "mail".into(),
        level: "runmore".into(),
        stop: vec![],
        keep: vec!["mta".into()],
        start: vec!["extra".into()],
        done: vec!["spool".into(), "cf".into()],
        error: None,
    };
    let reply = Reply::Preview { group: "mail".into(), level: "runmore".into(), outcome: Ok(plan) };
    app.update(Action::Client(ClientEvent::Reply(reply)));
    insta::assert_snapshot!(render(&app, 100, 30).backend());
}

#[test]
fn picker_typing_a_level() {
    let mut app = app(100, 30);
    app.update(Action::Confirm); // db
    for c in "maint2".chars() {
        app.update(Action::Input(c));
    }
    insta::assert_snapshot!(render(&app, 100, 30).backend());
}

#[test]
fn help_overlay() {
    let mut app = app(100, 30);
    app.update(Action::ToggleHelp);
    insta::assert_snapshot!(render(&app, 100, 30).backend());
}

#[test]
fn disconnected() {
    let mut app = app(100, 30);
    on_mta(&mut app);
    let reason = "/var/run/is/init.s: connection refused";
    app.update(Action::Client(ClientEvent::Disconnected { at_ms: NOW_MS + 4_000, reason: reason.into() }));
    let terminal = render(&app, 100, 30);
    insta::assert_snapshot!(terminal.backend());

    let buf = terminal.backend().buffer();
    assert_eq!(buf[(1, 1)].bg, Color::Red, "the banner is red");
    assert!(buf[(5, 5)].modifier.contains(Modifier::DIM), "stale data is dimmed");
}

#[test]
fn connecting_before_any_daemon() {
    let app = App::new("/var/run/is/init.s".into(), isinit_tui::clock::TimeZone::Utc);
    insta::assert_snapshot!(render(&app, 80, 24).backend());
}

#[test]
fn reload_errors_popup() {
    let mut app = app(100, 30);
    let failure = isinit_tui::client::Failure {
        message: "invalid isinittab".into(),
        details: vec![
            "/etc/isinittab:3: unknown mode \"respwan\"".into(),
            "/etc/isinittab:7: duplicate tag \"mta\" (first at line 4)".into(),
        ],
    };
    app.update(Action::Client(ClientEvent::Reply(Reply::Reloaded(Err(failure)))));
    insta::assert_snapshot!(render(&app, 100, 30).backend());
}

#[test]
fn filtered() {
    let mut app = app(100, 30);
    app.update(Action::StartFilter);
    for c in "p".chars() {
        app.update(Action::Input(c));
    }
    insta::assert_snapshot!(render(&app, 100, 30).backend());
}

#[test]
fn a_thousand_processes_scroll() {
    let mut app = fixture::app(fixture::big_snapshot(1000), 100, 30);
    app.update(Action::Down); // farm
    app.update(Action::FocusNext);
    for _ in 0..3 {
        app.update(Action::PageDown);
    }
    app.update(Action::Up);
    insta::assert_snapshot!(render(&app, 100, 30).backend());
}

#[test]
fn group_states_are_coloured() {
    let app = app(100, 30);
    let terminal = render(&app, 100, 30);
    let buf = terminal.backend().buffer();
    let colour_of = |word: &str| {
        (0..buf.area.height).find_map(|y| {
            let row: String = (0..33).map(|x| buf[(x, y)].symbol()).collect();
            row.find(word).map(|x| buf[(u16::try_from(x).expect("narrow"), y)].fg)
        })
    };
    assert_eq!(colour_of("DONE"), Some(Color::Green));
    assert_eq!(colour_of("FAILED"), Some(Color::Red));
    assert_eq!(colour_of("CONFIGURED"), Some(Color::DarkGray));
}

#[test]
fn every_size_renders_without_panicking() {
    let mut app = app(100, 30);
    on_mta(&mut app);
    app.update(Action::Client(ClientEvent::Update(Box::new(Update { seq: 43, event: isinit_shared::Event::Halting }))));
    for (w, h) in [(1, 1), (10, 5), (40, 12), (80, 24), (132, 43), (250, 80)] {
        app.update(Action::Resize(ui::viewport(ratatui::layout::Size { width: w, height: h })));
        render(&app, w, h);
        app.update(Action::ToggleHelp);
        render(&app, w, h);
        app.update(Action::Cancel);
    }
}

#[test]
fn confirm_restart() {
    let mut app = app(100, 30);
    on_mta(&mut app);
    app.update(Action::Restart);
    insta::assert_snapshot!(render(&app, 100, 30).backend());
}

#[test]
fn confirm_retry_of_a_throttled_process() {
    let mut app = app(100, 30);
    app.update(Action::Bottom); // web
    app.update(Action::FocusNext);
    app.update(Action::Down); // nginx, throttled
    app.update(Action::Restart);
    insta::assert_snapshot!(render(&app, 100, 30).backend());
}

#[test]
fn restart_done_shows_in_the_status_line_and_the_audit_strip() {
    let mut app = app(100, 30);
    on_mta(&mut app);
    app.update(Action::Restart);
    app.update(Action::Input('y'));
    let action = isinit_tui::client::ProcessAction::Restart { tag: "mta".into() };
    assert!(app.take_commands().contains(&isinit_tui::client::Command::Act(action.clone())));
    let audit = isinit_shared::AuditRecord { at_ms: NOW_MS, uid: 0, pid: Some(4400), request: "restart mta".into() };
    app.update(Action::Client(ClientEvent::Update(Box::new(Update {
        seq: 43,
        event: isinit_shared::Event::Audit(audit),
    }))));
    let outcome = Ok("restarted mta: running as pid 4243".to_string());
    app.update(Action::Client(ClientEvent::Reply(Reply::Acted { action, outcome })));
    insta::assert_snapshot!(render(&app, 100, 30).backend());
}

#[test]
fn signal_picker() {
    let mut app = app(100, 30);
    on_mta(&mut app);
    app.update(Action::Signal);
    app.update(Action::Down);
    insta::assert_snapshot!(render(&app, 100, 30).backend());
}

#[test]
fn sorted_by_cpu_busiest_first() {
    let mut app = fixture::app(fixture::big_snapshot(1000), 100, 30);
    app.update(Action::Client(ClientEvent::Reply(Reply::Usage(Ok(fixture::usage())))));
    app.update(Action::Down); // farm
    app.update(Action::FocusNext);
    for _ in 0..5 {
        app.update(Action::CycleSort); // tag, state, uptime, respawns, cpu
    }
    app.update(Action::Top); // the selection stays on its process: go to the busiest
    insta::assert_snapshot!(render(&app, 100, 30).backend());
}

#[test]
fn output_search_highlights_matches() {
    let mut app = app(100, 30);
    on_mta(&mut app);
    app.update(Action::FocusNext); // output
    app.update(Action::StartFilter); // `/` searches here
    for c in "RELAY=node03".chars() {
        app.update(Action::Input(c));
    }
    app.update(Action::Confirm);
    app.update(Action::PrevMatch);
    let terminal = render(&app, 100, 30);
    insta::assert_snapshot!(terminal.backend());
    let buf = terminal.backend().buffer();
    let highlighted = (0..buf.area.height)
        .flat_map(|y| (0..buf.area.width).map(move |x| (x, y)))
        .filter(|&(x, y)| buf[(x, y)].bg == Color::Yellow || buf[(x, y)].bg == Color::LightCyan)
        .count();
    assert!(highlighted >= "relay=node03".len() * 2, "matches are highlighted: {highlighted} cells");
}

#[test]
fn output_wrapped() {
    let mut app = app(100, 30);
    on_mta(&mut app);
    app.update(Action::ToggleWrap);
    insta::assert_snapshot!(render(&app, 100, 30).backend());
}

#[test]
fn a_notify_process_shows_readiness_and_its_status_text() {
    let mut snap = fixture::snapshot();
    let pg = snap.processes.iter_mut().find(|p| p.tag == "postgres").expect("postgres in the fixture");
    pg.mode = isinit_shared::config::Mode::Notify;
    pg.state = isinit_shared::ProcessState::Running;
    pg.pid = Some(4321);
    pg.ready = false;
    pg.status_text = Some("replaying WAL 40%".into());
    let mut app = fixture::app(snap, 120, 30);
    app.update(Action::FocusNext);
    app.update(Action::Down);
    let screen = render(&app, 120, 30).backend().to_string();
    assert!(screen.contains("postgres") && screen.contains("not ready"), "{screen}");
    assert!(screen.contains("status: replaying WAL 40%"), "{screen}");
}
