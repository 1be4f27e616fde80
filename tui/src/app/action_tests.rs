//! `App::update` for the keys of issue 10: acting on a process, usage
//! sampling, sort, output search and wrap — without a terminal or daemon.

use super::*;
use crate::client::{ClientEvent, Failure, ProcessAction, Reply};
use crate::fixture::{self, NOW_MS};

/// The fixture with `mail`'s `mta` (running, pid 4242) selected.
fn on_mta() -> App {
    let mut app = fixture::app(fixture::snapshot(), 100, 30);
    app.update(Action::Down);
    app.update(Action::FocusNext);
    app.update(Action::Down);
    app.update(Action::Down);
    assert_eq!(app.selected_process().map(|p| p.tag.as_str()), Some("mta"));
    app.take_commands();
    app
}

fn acts(app: &mut App) -> Vec<ProcessAction> {
    app.take_commands()
        .into_iter()
        .filter_map(|c| match c {
            Command::Act(a) => Some(a),
            _ => None,
        })
        .collect()
}

#[test]
fn restart_asks_first_and_only_y_acts() {
    let mut app = on_mta();
    app.update(Action::Restart);
    let Mode::Confirm(confirm) = app.mode() else { panic!("a confirmation, got {:?}", app.mode()) };
    assert_eq!(confirm.action, ProcessAction::Restart { tag: "mta".into() });
    assert!(confirm.lines[0].contains("pid 4242"), "{:?}", confirm.lines);
    app.update(Action::Input('x'));
    assert!(matches!(app.mode(), Mode::Confirm(_)), "other keys neither confirm nor cancel");
    app.update(Action::Input('n'));
    assert_eq!(app.mode(), &Mode::Normal);
    assert!(acts(&mut app).is_empty(), "n does nothing");

    app.update(Action::Restart);
    app.update(Action::Input('y'));
    assert_eq!(acts(&mut app), [ProcessAction::Restart { tag: "mta".into() }]);
    assert_eq!(app.status().map(|s| (s.tone, s.text.as_str())), Some((Tone::Pending, "restarting mta…")));
    let refused = Failure { message: "mta is already restarting".into(), details: vec![] };
    let action = ProcessAction::Restart { tag: "mta".into() };
    app.update(Action::Client(ClientEvent::Reply(Reply::Acted { action, outcome: Err(refused) })));
    let status = app.status().expect("status");
    assert_eq!((status.tone, status.text.as_str()), (Tone::Error, "restart mta refused: mta is already restarting"));
}

#[test]
fn r_on_a_throttled_process_offers_a_retry_and_on_an_idle_one_refuses() {
    let mut app = fixture::app(fixture::snapshot(), 100, 30);
    app.update(Action::Bottom); // web
    app.update(Action::FocusNext);
    app.update(Action::Down); // nginx, backoff
    app.update(Action::Restart);
    let Mode::Confirm(confirm) = app.mode() else { panic!("a confirmation") };
    assert_eq!(confirm.action, ProcessAction::Retry { tag: "nginx".into() });
    app.update(Action::Confirm);
    assert_eq!(acts(&mut app), [ProcessAction::Retry { tag: "nginx".into() }]);

    let mut app = on_mta();
    app.update(Action::Down); // extra: not started
    app.update(Action::Restart);
    assert_eq!(app.mode(), &Mode::Normal);
    assert_eq!(app.status().map(|s| s.tone), Some(Tone::Error));
    assert!(acts(&mut app).is_empty());
}

#[test]
fn the_signal_picker_sends_the_highlighted_signal() {
    let mut app = on_mta();
    app.update(Action::Signal);
    app.update(Action::Down);
    app.update(Action::Down);
    app.update(Action::Confirm);
    assert_eq!(acts(&mut app), [ProcessAction::Signal { tag: "mta".into(), signal: SIGNALS[2].0.into() }]);
    assert_eq!(SIGNALS.iter().map(|s| s.0).collect::<Vec<_>>(), ["HUP", "INT", "TERM", "USR1", "USR2", "KILL"]);
    app.update(Action::Signal);
    app.update(Action::Cancel);
    assert!(acts(&mut app).is_empty());
    app.update(Action::Up); // cf: exited
    app.update(Action::Signal);
    assert_eq!(app.mode(), &Mode::Normal, "nothing runs, nothing to signal");
}

#[test]
fn usage_is_asked_on_ticks_only_while_something_alive_is_shown() {
    let mut app = on_mta();
    let usage_asks = |app: &mut App| app.take_commands().iter().filter(|c| **c == Command::Usage).count();
    app.update(Action::Tick(NOW_MS + 1000));
    assert_eq!(usage_asks(&mut app), 1);
    app.update(Action::Tick(NOW_MS + 1100));
    app.update(Action::Tick(NOW_MS + 3000));
    assert_eq!(usage_asks(&mut app), 0, "one request at a time");
    app.update(Action::Client(ClientEvent::Reply(Reply::Usage(Ok(fixture::usage())))));
    assert_eq!(app.usage_of("mta").and_then(|u| u.cpu_percent), Some(12.5));
    app.update(Action::Tick(NOW_MS + 3100));
    assert_eq!(usage_asks(&mut app), 1);
    app.update(Action::Client(ClientEvent::Reply(Reply::Usage(Err(Failure { message: "x".into(), details: vec![] })))));
    app.update(Action::Tick(NOW_MS + 3500));
    assert_eq!(usage_asks(&mut app), 0, "not within {USAGE_EVERY_MS} ms of the last");
    assert!(app.usage_of("mta").is_some(), "a failed sample keeps the last figures");

    // `spare` shows nothing alive: no sampling at all.
    app.update(Action::FocusPrev);
    app.update(Action::Down);
    assert_eq!(app.selected_group().map(|g| g.name.as_str()), Some("spare"));
    app.update(Action::Tick(NOW_MS + 9000));
    assert_eq!(usage_asks(&mut app), 0);
}

#[test]
fn sorting_keeps_the_selection_on_its_process() {
    let mut app = fixture::app(fixture::big_snapshot(20), 100, 30);
    app.update(Action::Client(ClientEvent::Reply(Reply::Usage(Ok(fixture::usage())))));
    app.update(Action::Down); // farm
    app.update(Action::FocusNext);
    app.update(Action::Down); // worker0001
    let order = |app: &App| app.processes_view().items.iter().map(|p| p.tag.clone()).collect::<Vec<_>>();
    assert_eq!(order(&app)[0], "worker0000");
    for _ in 0..5 {
        app.update(Action::CycleSort);
    }
    assert_eq!(app.sort(), SortOrder { key: SortKey::Cpu, reversed: false });
    assert_eq!(order(&app)[0], "worker0019", "busiest first: 19 * 3.7 % 100 = 70.3");
    assert_eq!(app.selected_process().map(|p| p.tag.as_str()), Some("worker0001"));
    app.update(Action::ReverseSort);
    assert_eq!(order(&app)[0], "worker0000");
    app.update(Action::CycleSort);
    app.update(Action::CycleSort);
    assert_eq!(app.sort(), SortOrder::default(), "back to file order");
    assert_eq!(order(&app)[1], "worker0001");
}

#[test]
fn slash_searches_the_output_when_it_has_the_focus() {
    let mut app = on_mta();
    let id = app.output.id;
    let lines = (0..40).map(|i| isinit_shared::OutputLine {
        tag: "mta".into(),
        at_ms: NOW_MS,
        text: if i % 10 == 3 { format!("line {i}: ERROR disk full") } else { format!("line {i}: fine") },
    });
    app.update(Action::Client(ClientEvent::Logs { id, lines: lines.collect() }));
    app.update(Action::FocusNext); // output
    app.update(Action::StartFilter);
    assert_eq!(app.mode(), &Mode::Search);
    for c in "error".chars() {
        app.update(Action::Input(c));
    }
    app.update(Action::Confirm);
    assert_eq!(app.filter(), "", "the filter is untouched");
    let current = |app: &App| app.search().current;
    // Following: the view shows the newest lines, the first match at or below its top.
    assert_eq!(current(&app), Some(33));
    app.update(Action::NextMatch);
    assert_eq!(current(&app), Some(3), "wraps around to the oldest");
    assert!(app.output().top(app.viewport().output) <= 3);
    app.update(Action::PrevMatch);
    assert_eq!(current(&app), Some(33));
    app.update(Action::PrevMatch);
    assert_eq!(current(&app), Some(23));
    assert_eq!(app.status().map(|s| s.text.as_str()), Some("/error: matching line 3 of 4"));
    app.update(Action::ToggleWrap);
    assert!(app.output().wraps());
    // Elsewhere `/` is still the filter.
    app.update(Action::FocusNext);
    app.update(Action::StartFilter);
    assert_eq!(app.mode(), &Mode::Filter);
}
