//! Trends (SPEC §19): `P` shows each group's CPU, memory and restarts as
//! sparklines, noisiest first; usage is sampled only while it is open.

use isinit_shared::ProcessUsage;
use isinit_tui::app::{Action, App, Mode};
use isinit_tui::client::{ClientEvent, Command, Reply};
use isinit_tui::fixture::{self, NOW_MS};
use isinit_tui::ui;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn render(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("a test terminal");
    terminal.draw(|frame| ui::draw(frame, app)).expect("a frame");
    terminal
}

fn sample(postgres_cpu: f64, mta_cpu: f64, mta_mib: u64) -> Vec<ProcessUsage> {
    let row = |tag: &str, cpu, mib: u64| ProcessUsage {
        tag: tag.into(),
        processes: 1,
        cpu_time_ms: 1,
        cpu_percent: Some(cpu),
        rss_bytes: mib << 20,
    };
    vec![row("postgres", postgres_cpu, 140), row("mta", mta_cpu, mta_mib)]
}

fn usage_asked(app: &mut App) -> bool {
    app.take_commands().contains(&Command::Usage)
}

#[test]
fn pulses_sample_only_while_shown_noisiest_first() {
    let mut app = fixture::app(fixture::snapshot(), 100, 30);
    // `spare` shows nothing alive: the table asks for no usage.
    app.update(Action::Down);
    app.update(Action::Down);
    app.take_commands();
    app.update(Action::Tick(NOW_MS + 1_000));
    assert!(!usage_asked(&mut app), "nothing alive shown, nothing sampled");

    app.update(Action::Pulses);
    assert_eq!(app.mode(), &Mode::Pulses);
    for (i, (pg, mta, mib)) in
        [(1.0, 10.0, 80), (2.0, 30.0, 85), (1.5, 60.0, 90), (1.0, 45.0, 95)].into_iter().enumerate()
    {
        app.update(Action::Tick(NOW_MS + 2_000 + 1_000 * i as u64));
        assert!(usage_asked(&mut app), "sampled while the pulses are shown");
        app.update(Action::Client(ClientEvent::Reply(Reply::Usage(Ok(sample(pg, mta, mib))))));
    }
    assert_eq!(app.pulses().loudest_first()[0], "mail", "mta's CPU makes mail the loudest");
    insta::assert_snapshot!(render(&app, 100, 30).backend());

    app.update(Action::Pulses);
    assert_eq!(app.mode(), &Mode::Normal);
    app.update(Action::Tick(NOW_MS + 10_000));
    assert!(!usage_asked(&mut app), "closed: sampling stops");
}
