//! Snapshot tests of the looking-inside popups (SPEC §19): `x`, the x-ray
//! of the selected entry, and `A`, the timeline of the selected group's
//! last switch, on ratatui's `TestBackend` with the hand-made fixture.

use isinit_shared::config::Mode as EntryMode;
use isinit_shared::protocol::{
    EntryProcesses, ExitStatus, GroupState, PsRow, StepAction, SwitchStep, SwitchTimeline, Tracking,
};
use isinit_tui::app::{Action, App, InsideContent, Mode};
use isinit_tui::client::{ClientEvent, Command, Reply};
use isinit_tui::fixture;
use isinit_tui::ui;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn render(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("a test terminal");
    terminal.draw(|frame| ui::draw(frame, app)).expect("a frame");
    terminal
}

/// The fixture with `mail` / `mta` selected.
fn on_mta() -> App {
    let mut app = fixture::app(fixture::snapshot(), 100, 30);
    app.update(Action::Down);
    app.update(Action::FocusNext);
    app.update(Action::Down);
    app.update(Action::Down);
    app.take_commands();
    app
}

fn row(pid: u32, ppid: u32, depth: u32, stray: bool, command: &str) -> PsRow {
    PsRow { pid, ppid, depth, stray, rss_bytes: 3 << 20, cpu_time_ms: 10, cpu_percent: 0.5, command: command.into() }
}

#[test]
fn xray_tree_with_a_stray() {
    let mut app = on_mta();
    app.update(Action::Xray);
    assert_eq!(app.take_commands(), [Command::Ps { tag: "mta".into() }]);
    assert!(matches!(app.mode(), Mode::Inside(open) if open.content == InsideContent::Loading));
    let entries = vec![EntryProcesses {
        group: "mail".into(),
        tag: "mta".into(),
        main_pid: Some(4242),
        tracking: Tracking::Cgroup,
        processes: vec![
            row(4242, 1, 0, false, "/usr/sbin/sendmail -bD"),
            row(4250, 4242, 1, false, "sendmail: queue runner"),
            row(4251, 4250, 2, false, "sendmail: delivering"),
            row(4300, 1, 0, true, "procmail -d root"),
        ],
        omitted: 0,
    }];
    // An answer for another tag (an earlier popup) is dropped.
    app.update(Action::Client(ClientEvent::Reply(Reply::Ps { tag: "cf".into(), outcome: Ok(Vec::new()) })));
    assert!(matches!(app.mode(), Mode::Inside(open) if open.content == InsideContent::Loading));
    app.update(Action::Client(ClientEvent::Reply(Reply::Ps { tag: "mta".into(), outcome: Ok(entries) })));
    insta::assert_snapshot!(render(&app, 100, 30).backend());
    app.update(Action::Cancel);
    assert_eq!(app.mode(), &Mode::Normal);
}

fn step(tag: &str, mode: EntryMode, action: StepAction, began_us: u64, ended_us: Option<u64>) -> SwitchStep {
    SwitchStep {
        tag: tag.into(),
        mode,
        action,
        began_us,
        spawned_us: Some(began_us + 1_000),
        ready_us: None,
        ended_us,
        exit: ended_us.map(|_| ExitStatus::Code(0)),
    }
}

#[test]
fn timeline_of_the_last_switch() {
    let mut app = on_mta();
    app.update(Action::Timeline);
    assert_eq!(app.take_commands(), [Command::Analyze { group: "mail".into() }]);
    let timeline = SwitchTimeline {
        group: "mail".into(),
        level: "run".into(),
        told_at_ms: fixture::NOW_MS,
        finished_us: Some(400_000),
        result: Some(GroupState::Done),
        steps: vec![
            step("extra", EntryMode::Respawn, StepAction::Stop, 0, Some(100_000)),
            step("spool", EntryMode::Wait, StepAction::Start, 100_000, Some(400_000)),
            step("cf", EntryMode::Once, StepAction::Start, 400_000, Some(700_000)),
            step("mta", EntryMode::Respawn, StepAction::Start, 400_000, None),
        ],
    };
    let reply = Reply::Timeline { group: "mail".into(), outcome: Ok(Box::new(timeline)) };
    app.update(Action::Client(ClientEvent::Reply(reply)));
    insta::assert_snapshot!(render(&app, 100, 30).backend());
}

#[test]
fn timeline_refused_says_why() {
    let mut app = on_mta();
    app.update(Action::Timeline);
    let failure = isinit_tui::client::Failure {
        message: "no switch of mail since the daemon started".into(),
        details: Vec::new(),
    };
    app.update(Action::Client(ClientEvent::Reply(Reply::Timeline { group: "mail".into(), outcome: Err(failure) })));
    assert!(
        matches!(app.mode(), Mode::Inside(open) if open.content == InsideContent::Failed("no switch of mail since the daemon started".into()))
    );
}
