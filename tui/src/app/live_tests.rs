//! Live events and the selection (issue 22): an event that moves no row
//! is folded without looking for the selection again, so what it leaves
//! must be what looking again would make — the selection by tag, its row,
//! the scrolling and the stream followed.

use super::*;
use crate::client::{ClientEvent, Reply};
use crate::fixture;
use isinit_shared::{Event, ProcessState, ProcessStatus, Update};

/// The fixture's groups and `farm` with 40 workers (respawns 0, 1, 2, 3,
/// 0, …), usage sampled, `farm` selected and the table focused: taller
/// than the table, so a moved selection scrolls.
fn on_farm() -> App {
    let mut app = fixture::app(fixture::big_snapshot(40), 100, 30);
    app.update(Action::Client(ClientEvent::Reply(Reply::Usage(Ok(fixture::usage())))));
    app.update(Action::Down);
    app.update(Action::FocusNext);
    assert_eq!(app.selected_group().map(|g| g.name.as_str()), Some("farm"));
    assert!(app.viewport().processes < 40, "the table scrolls");
    app.take_commands();
    app
}

/// [`on_farm`] with the processes sorted by respawns (the fourth order
/// `s` cycles to), most restarted first.
fn on_farm_by_respawns() -> App {
    let mut app = on_farm();
    for _ in 0..4 {
        app.update(Action::CycleSort);
    }
    assert_eq!(app.sort(), SortOrder { key: SortKey::Respawns, reversed: false });
    app
}

fn row(app: &App, tag: &str) -> ProcessStatus {
    app.process(tag).cloned().expect("a known tag")
}

fn send(app: &mut App, event: Event) {
    let seq = app.snapshot().map_or(0, |s| s.seq) + 1;
    app.update(Action::Client(ClientEvent::Update(Box::new(Update { seq, event }))));
}

fn tag(app: &App) -> Option<&str> {
    app.selected_process().map(|p| p.tag.as_str())
}

fn follows(app: &mut App) -> Vec<Option<String>> {
    app.take_commands()
        .into_iter()
        .filter_map(|c| match c {
            Command::Follow { tag, .. } => Some(tag),
            _ => None,
        })
        .collect()
}

/// Asserts that the selection stands where a full reconcile puts it, and
/// that the table shows it on screen.
fn assert_settled(app: &mut App, what: &str) {
    let left = (app.groups.clone(), app.processes.clone(), app.output.tag.clone());
    app.reconcile();
    let settled = (app.groups.clone(), app.processes.clone(), app.output.tag.clone());
    assert_eq!(left, settled, "{what}: the selection as a full reconcile leaves it");
    let view = app.processes_view();
    assert_eq!(view.selected, app.processes.name.as_ref().map(|_| app.processes.index), "{what}");
    if let Some(i) = view.selected {
        let height = app.viewport().processes.max(1);
        assert!(view.offset <= i && i < view.offset + height, "{what}: row {i} on screen from {}", view.offset);
    }
}

#[test]
fn an_event_for_the_selected_process_keeps_the_selection_and_its_stream() {
    let mut app = on_farm();
    for _ in 0..25 {
        app.update(Action::Down);
    }
    assert_eq!(tag(&app), Some("worker0025"));
    let offset = app.processes.offset;
    app.take_commands();
    app.take_dirty();

    let mut p = row(&app, "worker0025");
    p.pid = Some(99_999);
    p.respawns += 1;
    send(&mut app, Event::Process(p));
    assert!(app.take_dirty(), "the new figures are drawn");
    assert_eq!((tag(&app), app.processes.index, app.processes.offset), (Some("worker0025"), 25, offset));
    assert_eq!(app.processes_view().items[25].pid, Some(99_999));
    assert!(follows(&mut app).is_empty(), "the same process: its output stream is kept");
    assert_settled(&mut app, "file order");
}

#[test]
fn a_change_of_the_sort_key_moves_the_row_and_the_selection_follows_it() {
    let mut app = on_farm_by_respawns();
    app.update(Action::Top);
    assert_eq!((tag(&app), app.processes.index), (Some("worker0003"), 0), "most restarted first");
    app.take_commands();

    // Its count drops to 0: it goes down among the other unrestarted
    // workers, after worker0000 in file order, past the bottom of the view.
    let mut p = row(&app, "worker0003");
    p.respawns = 0;
    send(&mut app, Event::Process(p));
    assert_eq!((tag(&app), app.processes.index), (Some("worker0003"), 30));
    assert!(app.processes.offset > 0, "scrolled to it");
    assert!(follows(&mut app).is_empty(), "the same process: its output stream is kept");
    assert_settled(&mut app, "the selected row moved");

    // Another row jumps to the top, above the selection: its row number
    // follows, its tag stays.
    let mut p = row(&app, "worker0038");
    p.respawns = 9;
    send(&mut app, Event::Process(p));
    assert_eq!((tag(&app), app.processes.index), (Some("worker0003"), 30));
    let mut p = row(&app, "worker0004");
    p.respawns = 9;
    send(&mut app, Event::Process(p));
    assert_eq!((tag(&app), app.processes.index), (Some("worker0003"), 31), "worker0004 was below it");
    assert_eq!(app.processes_view().items[0].tag, "worker0004", "ties keep file order");
    assert_settled(&mut app, "a row moved past the selection");
}

#[test]
fn a_removed_selected_row_hands_the_selection_to_the_row_now_there() {
    let mut app = on_farm_by_respawns();
    app.update(Action::Top);
    app.update(Action::Down);
    app.update(Action::Down);
    assert_eq!((tag(&app), app.processes.index), (Some("worker0011"), 2));
    app.take_commands();
    send(&mut app, Event::ProcessRemoved { tag: "worker0011".into() });
    assert_eq!((tag(&app), app.processes.index), (Some("worker0015"), 2), "the same row, in sort order");
    assert_eq!(follows(&mut app), [Some("worker0015".to_string())]);
    assert_settled(&mut app, "removed");
}

#[test]
fn a_row_that_changes_group_leaves_the_table() {
    let mut app = on_farm();
    for _ in 0..5 {
        app.update(Action::Down);
    }
    app.take_commands();
    let mut p = row(&app, "worker0005");
    p.group = "mail".into();
    send(&mut app, Event::Process(p));
    assert_eq!((tag(&app), app.processes.index), (Some("worker0006"), 5));
    assert_eq!(follows(&mut app), [Some("worker0006".to_string())]);
    assert_settled(&mut app, "moved out");
}

/// Every kind of event, in every sort order, with and without a filter:
/// what the event leaves is what a full reconcile makes of it.
#[test]
fn every_event_leaves_the_selection_a_full_reconcile_would() {
    const STATES: [ProcessState; 10] = [
        ProcessState::FailedToStart,
        ProcessState::Fail,
        ProcessState::Backoff,
        ProcessState::Stopping,
        ProcessState::Waiting,
        ProcessState::Running,
        ProcessState::Exited,
        ProcessState::Pass,
        ProcessState::NotStarted,
        ProcessState::Off,
    ];
    let mut seed: u64 = 22;
    let mut pick = move |n: usize| {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) as usize % n
    };
    for filter in ["", "worker001", "mail"] {
        let mut app = on_farm();
        if !filter.is_empty() {
            app.update(Action::StartFilter);
            for c in filter.chars() {
                app.update(Action::Input(c));
            }
            app.update(Action::Confirm);
        }
        for order in 0..14 {
            app.update(if order % 2 == 0 { Action::CycleSort } else { Action::ReverseSort });
            for step in 0..60 {
                let tags: Vec<String> =
                    app.snapshot().map_or(Vec::new(), |s| s.processes.iter().map(|p| p.tag.clone()).collect());
                let mut p = row(&app, &tags[pick(tags.len())]);
                let event = match pick(12) {
                    0 => Event::ProcessRemoved { tag: p.tag },
                    1 => {
                        p.tag = format!("worker{:04}", 1000 + pick(40));
                        Event::Process(p)
                    }
                    2 => {
                        p.group = ["farm", "mail", "web"][pick(3)].into();
                        Event::Process(p)
                    }
                    3 => {
                        // A known group's new state, or a new group
                        // (before `farm` by name, or after it).
                        let mut g = app.snapshot().map(|s| s.groups[pick(s.groups.len())].clone()).expect("groups");
                        g.state = isinit_shared::GroupState::Failed;
                        if pick(3) == 0 {
                            g.name = format!("{}{step}", ["a", "z"][pick(2)]);
                        }
                        Event::Group(g)
                    }
                    4 => Event::Notice { at_ms: fixture::NOW_MS, message: "noticed".into() },
                    5 => {
                        let key = match pick(4) {
                            0 => Action::Up,
                            1 => Action::Down,
                            2 => Action::PageDown,
                            _ => Action::Top,
                        };
                        app.update(key);
                        continue;
                    }
                    _ => {
                        p.pid = [None, Some(7), Some(8)][pick(3)];
                        p.respawns = pick(4) as u32;
                        p.state = STATES[pick(STATES.len())];
                        p.started_at_ms = Some(fixture::NOW_MS - pick(3) as u64 * 1000);
                        Event::Process(p)
                    }
                };
                let what = format!("filter {filter:?}, {:?}, step {step}: {event:?}", app.sort());
                send(&mut app, event);
                assert_settled(&mut app, &what);
            }
        }
    }
}
