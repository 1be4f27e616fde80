//! The `:` command palette (SPEC §19): Tab completion from the daemon's
//! groups, levels, tags and signals; history with ↑ ↓; each command does
//! what its key does.

use isinit_tui::app::{Action, App, Focus, Mode, SortKey};
use isinit_tui::client::{Command, ProcessAction};
use isinit_tui::fixture;
use isinit_tui::ui;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn render(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("a test terminal");
    terminal.draw(|frame| ui::draw(frame, app)).expect("a frame");
    terminal
}

fn app() -> App {
    let mut app = fixture::app(fixture::snapshot(), 100, 30);
    app.take_commands();
    app
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        app.update(Action::Input(c));
    }
}

fn line(app: &App) -> String {
    match app.mode() {
        Mode::Palette(p) => p.text.clone(),
        other => panic!("the palette is not open: {other:?}"),
    }
}

/// Opens the palette, types `text`, runs it.
fn run(app: &mut App, text: &str) {
    app.update(Action::OpenPalette);
    typed(app, text);
    app.update(Action::Confirm);
}

#[test]
fn tab_completes_commands_groups_and_levels() {
    let mut app = app();
    app.update(Action::OpenPalette);
    typed(&mut app, "te");
    app.update(Action::FocusNext);
    assert_eq!(line(&app), "tell ");
    typed(&mut app, "w");
    app.update(Action::FocusNext);
    assert_eq!(line(&app), "tell web ");
    app.update(Action::FocusNext);
    let Mode::Palette(p) = app.mode() else { panic!("open") };
    assert_eq!(p.candidates, ["1", "2", "3", "123"], "web's levels offered");
    insta::assert_snapshot!(render(&app, 100, 30).backend());
    typed(&mut app, "3");
    app.update(Action::Confirm);
    assert_eq!(app.take_commands(), [Command::Tell { group: "web".into(), level: "3".into(), dry_run: false }]);
    assert_eq!(app.mode(), &Mode::Normal);
}

#[test]
fn tags_signals_and_columns_complete_and_run() {
    let mut app = app();
    app.update(Action::OpenPalette);
    typed(&mut app, "signal ngi");
    app.update(Action::FocusNext);
    typed(&mut app, "U");
    app.update(Action::FocusNext);
    let Mode::Palette(p) = app.mode() else { panic!("open") };
    assert_eq!((p.text.as_str(), p.candidates.clone()), ("signal nginx USR", vec!["USR1".into(), "USR2".into()]));
    typed(&mut app, "1");
    app.update(Action::Confirm);
    let signal = ProcessAction::Signal { tag: "nginx".into(), signal: "USR1".into() };
    assert_eq!(app.take_commands(), [Command::Act(signal)]);

    run(&mut app, "sort cpu");
    assert_eq!(app.sort().key, SortKey::Cpu);
    run(&mut app, "filter post");
    assert_eq!(app.filter(), "post");
    run(&mut app, "logs mta");
    assert_eq!((app.focus(), app.selected_process().map(|p| p.tag.as_str())), (Focus::Output, Some("mta")));
    assert_eq!(app.filter(), "", "a filter hiding the tag is cleared");
    run(&mut app, "restart mta");
    assert!(matches!(app.mode(), Mode::Confirm(_)), "restart asks first, as R does");
    app.update(Action::Cancel);
    run(&mut app, "ps mta");
    assert!(app.take_commands().contains(&Command::Ps { tag: "mta".into() }));
    app.update(Action::Cancel);
    run(&mut app, "bogus");
    assert!(app.status().is_some_and(|s| s.text.contains("unknown command: bogus")), "{:?}", app.status());
    run(&mut app, "quit");
    assert!(!app.is_running());
}

#[test]
fn up_and_down_walk_the_history() {
    let mut app = app();
    run(&mut app, "sort rss");
    run(&mut app, "sort tag");
    app.update(Action::OpenPalette);
    app.update(Action::Up);
    assert_eq!(line(&app), "sort tag");
    app.update(Action::Up);
    assert_eq!(line(&app), "sort rss");
    app.update(Action::Up);
    assert_eq!(line(&app), "sort rss", "the oldest stays");
    app.update(Action::Down);
    assert_eq!(line(&app), "sort tag");
    app.update(Action::Down);
    assert_eq!(line(&app), "", "back to a new line");
    app.update(Action::Cancel);
    assert_eq!(app.mode(), &Mode::Normal);
}
