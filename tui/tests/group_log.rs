//! The `L` group log (SPEC §19): every tag of the selected group in one
//! view, merged in time by the daemon, coloured per tag, timestamps
//! toggled with `t`; its stream runs only while the view is open.

use isinit_shared::protocol::OutputLine;
use isinit_tui::app::{Action, App, Mode};
use isinit_tui::client::{ClientEvent, Command};
use isinit_tui::fixture::{self, NOW_MS};
use isinit_tui::ui;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn render(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("a test terminal");
    terminal.draw(|frame| ui::draw(frame, app)).expect("a frame");
    terminal
}

fn line(tag: &str, at: u64, text: &str) -> OutputLine {
    OutputLine { tag: tag.into(), at_ms: NOW_MS - 60_000 + at, text: text.into() }
}

#[test]
fn a_groups_tags_in_one_log_with_timestamps_on_t() {
    let mut app = fixture::app(fixture::snapshot(), 100, 30);
    app.update(Action::Down); // mail
    app.take_commands();
    app.update(Action::GroupLog);
    let id = match app.take_commands().as_slice() {
        [Command::FollowGroup { id, group: Some(group) }] if group == "mail" => *id,
        other => panic!("expected one group follow of mail: {other:?}"),
    };
    let backlog = vec![
        line("spool", 0, "mounted /var/spool/mqueue"),
        line("cf", 120, "sendmail.cf updated"),
        line("mta", 250, "starting sendmail"),
    ];
    app.update(Action::Client(ClientEvent::Logs { id, lines: backlog }));
    app.update(Action::Client(ClientEvent::Output { id, line: line("mta", 900, "queue run done") }));
    // A line of the output panel's stream does not land here.
    app.update(Action::Client(ClientEvent::Output { id: 1, line: line("db", 950, "elsewhere") }));
    app.update(Action::ToggleTimestamps);
    insta::assert_snapshot!(render(&app, 100, 30).backend());
    let Mode::GroupLog(log) = app.mode() else { panic!("the group log is open") };
    assert_eq!(log.lines.len(), 4);

    app.update(Action::Cancel);
    assert_eq!(app.take_commands(), [Command::FollowGroup { id, group: None }], "closing stops the stream");
    assert_eq!(app.mode(), &Mode::Normal);
}
