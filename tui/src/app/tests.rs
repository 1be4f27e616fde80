//! `App::update` without a terminal or a daemon.

use super::*;
use crate::client::{ClientEvent, Failure, Reply};
use crate::fixture::{self, NOW_MS};
use isinit_shared::protocol::ProcessStatus;
use isinit_shared::{Event, Plan, Update};

fn app() -> App {
    fixture::app(fixture::snapshot(), 100, 30)
}

fn group(app: &App) -> Option<&str> {
    app.selected_group().map(|g| g.name.as_str())
}

fn tag(app: &App) -> Option<&str> {
    app.selected_process().map(|p| p.tag.as_str())
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        app.update(Action::Input(c));
    }
}

fn picker(app: &App) -> &Picker {
    match app.mode() {
        Mode::Picker(p) => p,
        other => panic!("expected the picker, got {other:?}"),
    }
}

fn dry_run(group: &str, level: &str) -> Command {
    Command::Tell { group: group.into(), level: level.into(), dry_run: true }
}

#[test]
fn starts_on_the_first_group_by_name_and_follows_its_first_process() {
    let mut app = app();
    assert_eq!(app.connection(), &Connection::Connected);
    assert_eq!(group(&app), Some("db"));
    assert_eq!(tag(&app), Some("migrate"));
    assert_eq!(app.take_commands(), vec![Command::Follow { id: 1, tag: Some("migrate".into()) }]);
}

#[test]
fn moving_between_groups_resets_the_process_and_refollows() {
    let mut app = app();
    app.update(Action::FocusNext);
    app.update(Action::Down);
    assert_eq!(tag(&app), Some("postgres"));
    app.update(Action::FocusPrev);
    app.update(Action::Down);
    assert_eq!(group(&app), Some("mail"));
    assert_eq!(tag(&app), Some("spool"));
    app.update(Action::Bottom);
    assert_eq!(group(&app), Some("web"));
    let follows: Vec<_> = app.take_commands().into_iter().filter(|c| matches!(c, Command::Follow { .. })).collect();
    assert_eq!(follows.last(), Some(&Command::Follow { id: 4, tag: Some("probe".into()) }));
}

#[test]
fn selection_survives_a_resync_with_a_different_order() {
    let mut app = app();
    app.update(Action::Bottom); // web
    app.update(Action::FocusNext);
    app.update(Action::Down); // nginx
    assert_eq!((group(&app), tag(&app)), (Some("web"), Some("nginx")));
    app.take_commands();

    let mut resync = fixture::snapshot();
    resync.groups.reverse();
    resync.processes.reverse();
    app.update(Action::Client(ClientEvent::Snapshot(Box::new(resync))));
    assert_eq!((group(&app), tag(&app)), (Some("web"), Some("nginx")));
    assert!(app.take_commands().is_empty(), "same process: the output stream is kept");
}

#[test]
fn a_removed_group_hands_the_selection_to_its_neighbour() {
    let mut app = app();
    app.update(Action::Down); // mail
    let update = Update { seq: 42, event: Event::GroupRemoved { name: "mail".into() } };
    app.update(Action::Client(ClientEvent::Update(Box::new(update))));
    assert_eq!(group(&app), Some("spare"));
}

#[test]
fn a_removed_process_hands_the_selection_to_the_same_row() {
    let mut app = app();
    app.update(Action::FocusNext);
    app.update(Action::Down); // postgres
    let update = Update { seq: 42, event: Event::ProcessRemoved { tag: "postgres".into() } };
    app.update(Action::Client(ClientEvent::Update(Box::new(update))));
    assert_eq!(tag(&app), Some("dbcheck"));
}

#[test]
fn picker_opens_on_the_current_level_and_previews_it() {
    let mut app = app();
    app.update(Action::Down); // mail, at run
    app.take_commands();
    app.update(Action::Confirm);
    assert_eq!(picker(&app).chosen(), Some("run"));
    assert_eq!(app.take_commands(), vec![dry_run("mail", "run")]);
    app.update(Action::Up); // already at the top: nothing new to ask
    assert!(app.take_commands().is_empty());
    app.update(Action::Down);
    assert_eq!(app.take_commands(), vec![dry_run("mail", "runmore")]);
}

#[test]
fn picker_free_text_is_edited_and_previewed() {
    let mut app = app();
    app.update(Action::Confirm); // db
    app.take_commands();
    typed(&mut app, "ma");
    assert!(picker(&app).on_text_line());
    assert_eq!(picker(&app).typed, "ma");
    app.update(Action::Backspace);
    app.update(Action::Input('0'));
    assert_eq!(picker(&app).chosen(), Some("m0"));
    let asked = [dry_run("db", "m"), dry_run("db", "ma"), dry_run("db", "m"), dry_run("db", "m0")];
    assert_eq!(app.take_commands(), asked);

    typed(&mut app, " x");
    assert!(matches!(picker(&app).preview, Preview::Invalid(_)), "spaces are refused locally");
    assert!(app.take_commands().is_empty());
    app.update(Action::Confirm);
    assert!(matches!(app.mode(), Mode::Picker(_)), "an invalid level is not sent");
    assert_eq!(app.status().map(|s| s.tone), Some(Tone::Error));
}

#[test]
fn picker_enter_tells_and_closes() {
    let mut app = app();
    app.update(Action::Confirm);
    typed(&mut app, "maint");
    app.take_commands();
    app.update(Action::Confirm);
    assert_eq!(app.mode(), &Mode::Normal);
    assert_eq!(app.take_commands(), vec![Command::Tell { group: "db".into(), level: "maint".into(), dry_run: false }]);
    assert_eq!(app.status().map(|s| s.tone), Some(Tone::Pending));

    let reply =
        Reply::Told { group: "db".into(), level: "maint".into(), outcome: Ok("level transition started".into()) };
    app.update(Action::Client(ClientEvent::Reply(reply)));
    let status = app.status().expect("a status");
    assert_eq!((status.tone, status.text.as_str()), (Tone::Success, "db → maint: level transition started"));
}

#[test]
fn picker_ignores_previews_of_levels_no_longer_chosen() {
    let mut app = app();
    app.update(Action::Confirm); // db at run: asks for run
    app.update(Action::Down); // asks for maint
    let plan = |level: &str| Plan { group: "db".into(), level: level.into(), ..Plan::default() };
    let reply = |level: &str| Reply::Preview { group: "db".into(), level: level.into(), outcome: Ok(plan(level)) };
    app.update(Action::Client(ClientEvent::Reply(reply("run"))));
    assert_eq!(picker(&app).preview, Preview::Pending("maint".into()));
    app.update(Action::Client(ClientEvent::Reply(reply("maint"))));
    assert_eq!(picker(&app).preview, Preview::Ready(plan("maint")));
    app.update(Action::Cancel);
    assert_eq!(app.mode(), &Mode::Normal);
}

#[test]
fn filter_narrows_groups_and_processes_and_esc_clears_it() {
    let mut app = app();
    app.update(Action::StartFilter);
    typed(&mut app, "NGI");
    let groups: Vec<_> = app.visible_groups().iter().map(|g| g.name.clone()).collect();
    assert_eq!(groups, ["web"]);
    assert_eq!(group(&app), Some("web"));
    let tags: Vec<_> = app.visible_processes().iter().map(|p| p.tag.clone()).collect();
    assert_eq!(tags, ["nginx"]);
    app.update(Action::Confirm);
    assert_eq!((app.mode(), app.filter()), (&Mode::Normal, "NGI"));
    app.update(Action::Cancel);
    assert_eq!(app.filter(), "");
    assert_eq!(app.visible_groups().len(), 4);
    assert_eq!(group(&app), Some("web"), "clearing the filter keeps the selection");
}

#[test]
fn a_group_name_match_shows_all_its_processes() {
    let mut app = app();
    app.update(Action::StartFilter);
    typed(&mut app, "mail");
    assert_eq!(app.visible_processes().len(), 4);
    app.update(Action::Cancel);
    assert_eq!(app.mode(), &Mode::Normal);
}

#[test]
fn disconnection_keeps_its_first_time_and_the_data() {
    let mut app = app();
    let gone = |at_ms, reason: &str| Action::Client(ClientEvent::Disconnected { at_ms, reason: reason.into() });
    app.update(gone(NOW_MS + 1000, "connection closed"));
    app.update(gone(NOW_MS + 5000, "connection refused"));
    assert_eq!(
        app.connection(),
        &Connection::Disconnected { since_ms: NOW_MS + 1000, reason: "connection refused".into() }
    );
    assert!(app.snapshot().is_some());
    assert!(!app.wants_tick(), "stale data does not age");
    app.update(Action::Tick(NOW_MS + 9000));
    assert_eq!(app.as_of_ms(), NOW_MS, "uptimes stay as they were last heard");
    app.update(Action::Client(ClientEvent::Snapshot(Box::new(fixture::snapshot()))));
    assert_eq!(app.connection(), &Connection::Connected);
}

#[test]
fn a_failed_reload_lists_the_errors() {
    let mut app = app();
    app.update(Action::Reload);
    assert_eq!(app.take_commands().last(), Some(&Command::Reload));
    let failure = Failure {
        message: "invalid isinittab".into(),
        details: vec!["/etc/isinittab:3: unknown mode \"respwan\"".into(), "/etc/isinittab:9: empty tag".into()],
    };
    app.update(Action::Client(ClientEvent::Reply(Reply::Reloaded(Err(failure)))));
    let Mode::Errors(list) = app.mode() else { panic!("expected the errors popup") };
    assert_eq!(list.lines.len(), 2);
    assert_eq!(app.input_mode(), InputMode::Popup);
    app.update(Action::Cancel);
    assert_eq!(app.mode(), &Mode::Normal);
}

#[test]
fn output_of_other_streams_is_ignored() {
    let mut app = app();
    let id = match app.take_commands().pop() {
        Some(Command::Follow { id, .. }) => id,
        other => panic!("expected a follow, got {other:?}"),
    };
    app.update(Action::Client(ClientEvent::Logs { id, lines: fixture::output("migrate", 3) }));
    app.update(Action::Client(ClientEvent::Logs { id: id + 7, lines: fixture::output("x", 9) }));
    assert_eq!(app.output().lines().len(), 3);
    assert_eq!(app.output().state(), &OutputState::Live);
}

#[test]
fn ticks_redraw_only_when_an_uptime_is_shown() {
    let mut app = app(); // db: postgres is running
    app.take_dirty();
    app.update(Action::Tick(NOW_MS + 1000));
    assert!(app.take_dirty());
    app.update(Action::Down);
    app.update(Action::Down); // spare: nothing running, nothing exited lately
    app.take_dirty();
    let mut quiet = fixture::snapshot();
    quiet.processes.retain(|p| p.group == "spare");
    app.update(Action::Client(ClientEvent::Snapshot(Box::new(quiet))));
    app.take_dirty();
    app.update(Action::Tick(NOW_MS + 2000));
    assert!(!app.take_dirty());
}

#[test]
fn the_tick_that_ends_a_flapping_window_redraws() {
    // Nothing running anywhere; `nginx` exited three times at once, 59.5 s
    // ago: flagged `!` now, not after the next tick.
    let mut quiet = fixture::snapshot();
    for p in &mut quiet.processes {
        p.pid = None;
        p.state = isinit_shared::ProcessState::Exited;
        p.recent_exits.clear();
    }
    let nginx = quiet.processes.iter_mut().find(|p| p.tag == "nginx").expect("nginx");
    let exit = nginx.last_exit.expect("nginx exited");
    nginx.recent_exits = (0..3)
        .map(|i| isinit_shared::ExitRecord { at_ms: NOW_MS - 59_500 + i, status: exit, ran_ms: 10, reason: None })
        .collect();
    let mut app = fixture::app(quiet, 100, 30);
    let flapping = |app: &App| {
        let nginx = app.snapshot().and_then(|s| s.processes.iter().find(|p| p.tag == "nginx"));
        nginx.is_some_and(|p| is_flapping(p, app.as_of_ms()))
    };
    assert!(flapping(&app));
    app.take_dirty();
    app.update(Action::Tick(NOW_MS + 1000));
    assert!(!flapping(&app));
    assert!(app.take_dirty(), "the `!` must come off on this tick");
    assert!(!app.wants_tick(), "and then nothing on screen ages any more");
}

#[test]
fn quit() {
    let mut app = app();
    app.update(Action::Quit);
    assert!(!app.is_running());
}

#[test]
fn notices_come_from_the_snapshot_alone() {
    let mut app = app();
    assert!(app.notices().is_empty());
    app.update(Action::Client(ClientEvent::Update(Box::new(fixture::nginx_notice()))));
    let shown: Vec<&str> = app.notices().iter().map(|n| n.message.as_str()).collect();
    assert_eq!(shown, ["nginx respawning too rapidly: sleeping 60 seconds"]);
    assert_eq!(app.notices(), app.snapshot().map(|s| s.notices.as_slice()).unwrap_or_default());
    // A reconnect brings a fresh snapshot: what it carries replaces what
    // was shown, with nothing kept twice and nothing kept that the daemon
    // no longer has.
    let mut fresh = fixture::snapshot();
    fresh.notices = vec![isinit_shared::protocol::NoticeRecord { at_ms: NOW_MS, message: "later".into() }];
    app.update(Action::Client(ClientEvent::Snapshot(Box::new(fresh))));
    let shown: Vec<&str> = app.notices().iter().map(|n| n.message.as_str()).collect();
    assert_eq!(shown, ["later"]);
}

/// Issue 22: a live event finds its row by an index; rows added and
/// removed move the others, and every later event still lands on its own
/// row — the model equals what `Snapshot::apply` makes of the same events.
#[test]
fn live_events_land_on_their_rows_as_rows_come_and_go() {
    let mut app = app();
    let mut expected = app.snapshot().cloned().expect("a snapshot");
    let first = expected.processes[0].clone();
    let last = expected.processes[expected.processes.len() - 1].clone();
    let mut newcomer = first.clone();
    newcomer.tag = "newcomer".into();
    let mut events = vec![Event::Process(ProcessStatus { respawns: 7, ..last.clone() })];
    events.push(Event::Process(newcomer.clone()));
    events.push(Event::ProcessRemoved { tag: first.tag.clone() });
    events.push(Event::Process(ProcessStatus { respawns: 9, ..last }));
    events.push(Event::Process(ProcessStatus { respawns: 3, ..newcomer }));
    for (seq, event) in events.into_iter().enumerate() {
        let update = Update { seq: 100 + seq as u64, event };
        expected.apply(&update);
        app.update(Action::Client(ClientEvent::Update(Box::new(update))));
        assert_eq!(app.snapshot(), Some(&expected), "after update {seq}");
    }
}
