//! The decision rules over hand-made snapshots: one group `web` with a
//! `wait` entry, a `respawn` entry at `run,primary` and one only at
//! `primary`, judged for a resource with level `run`, stop level `0` and
//! (for the promotable cases) promoted level `primary`.

use crate::ocf::exit::OcfCode;
use crate::ocf::view::{GroupView, Health, Progress, Role, Target, arrival, departure, monitor, view};
use isinit_shared::config::Mode;
use isinit_shared::protocol::{ExitRecord, ExitStatus, GroupState, GroupStatus, ProcessState, ProcessStatus, Snapshot};

const NOW: u64 = 1_000_000;

fn target(promoted: Option<&'static str>) -> Target<'static> {
    Target { group: "web", level: "run", stop_level: "0", promoted_level: promoted }
}

fn proc(tag: &str, mode: Mode, levels: &str, state: ProcessState) -> ProcessStatus {
    let alive = matches!(state, ProcessState::Running | ProcessState::Waiting | ProcessState::Stopping);
    ProcessStatus {
        group: "web".into(),
        tag: tag.into(),
        mode,
        levels: levels.into(),
        command: "true".into(),
        state,
        pid: alive.then_some(4242),
        started_at_ms: None,
        respawns: 0,
        last_exit: None,
        recent_exits: Vec::new(),
        backoff_until_ms: None,
        start_error: None,
        in_file: true,
        ready: false,
        status_text: None,
        health: None,
        health_reason: None,
        listen: Vec::new(),
    }
}

/// `web` at `level` in `state`, with the processes in the given states
/// (prep = wait entry, srv = respawn at run,primary, extra = respawn at
/// primary only).
fn snap(
    level: Option<&str>,
    state: GroupState,
    prep: ProcessState,
    srv: ProcessState,
    extra: ProcessState,
) -> Snapshot {
    let mut s = Snapshot::default();
    s.daemon.now_ms = NOW;
    s.groups.push(GroupStatus {
        name: "web".into(),
        level: level.map(String::from),
        state,
        since_ms: 0,
        levels: vec!["run".into(), "primary".into()],
        in_file: true,
        owner: None,
    });
    s.processes.push(proc("prep", Mode::Wait, "run,primary", prep));
    s.processes.push(proc("srv", Mode::Respawn, "run,primary", srv));
    s.processes.push(proc("extra", Mode::Respawn, "primary", extra));
    s
}

use GroupState as G;
use ProcessState as P;

fn up_at(level: &str) -> Snapshot {
    let extra = if level == "primary" { P::Running } else { P::NotStarted };
    snap(Some(level), G::Done, P::Exited, P::Running, extra)
}

fn code(s: &Snapshot, promoted: Option<&'static str>) -> OcfCode {
    monitor(&view(s, &target(promoted), NOW)).code
}

#[test]
fn settled_at_the_level_with_every_respawn_running_is_running() {
    let s = up_at("run");
    assert_eq!(view(&s, &target(None), NOW), GroupView::Active { role: Role::Unpromoted, health: Health::Up });
    assert_eq!(code(&s, None), OcfCode::Success);
    assert_eq!(arrival(&view(&s, &target(None), NOW), Role::Unpromoted), Progress::Reached);
    let mut passed = s.clone();
    passed.groups[0].state = G::Passed;
    assert_eq!(code(&passed, None), OcfCode::Success);
}

#[test]
fn unknown_never_told_and_stopped_groups_are_not_running() {
    let mut unknown = up_at("run");
    unknown.groups.clear();
    unknown.processes.clear();
    assert_eq!(code(&unknown, None), OcfCode::NotRunning);
    let never = snap(None, G::Configured, P::NotStarted, P::NotStarted, P::NotStarted);
    assert_eq!(code(&never, None), OcfCode::NotRunning);
    let stopped = snap(Some("0"), G::Done, P::NotStarted, P::NotStarted, P::NotStarted);
    assert_eq!(code(&stopped, None), OcfCode::NotRunning);
    assert_eq!(departure(&view(&stopped, &target(None), NOW)), Progress::Reached);
    assert_eq!(departure(&view(&unknown, &target(None), NOW)), Progress::Reached);
}

#[test]
fn another_level_with_nothing_alive_is_not_running_but_with_processes_it_fails() {
    let quiet = snap(Some("maint"), G::Done, P::NotStarted, P::NotStarted, P::NotStarted);
    assert_eq!(code(&quiet, None), OcfCode::NotRunning);
    let mut busy = quiet.clone();
    busy.processes.push(ProcessStatus { group: "web".into(), ..proc("shell", Mode::Respawn, "maint", P::Running) });
    let v = view(&busy, &target(None), NOW);
    assert!(matches!(v, GroupView::Foreign(_)), "{v:?}");
    assert_eq!(monitor(&v).code, OcfCode::ErrGeneric);
    assert!(monitor(&v).reason.is_some_and(|r| r.contains("maint")));
    assert!(matches!(departure(&v), Progress::Pending { .. }));
    // A respawn entry waiting out its backoff will start again: not quiet.
    if let Some(p) = busy.processes.last_mut() {
        p.state = P::Backoff;
        p.pid = None;
    }
    assert_eq!(code(&busy, None), OcfCode::ErrGeneric);
}

#[test]
fn stopping_is_neither_stopped_nor_running() {
    let going = snap(Some("0"), G::Stopping, P::NotStarted, P::Stopping, P::NotStarted);
    let v = view(&going, &target(None), NOW);
    assert!(matches!(v, GroupView::Stopping(_)), "{v:?}");
    assert_eq!(monitor(&v).code, OcfCode::ErrGeneric);
    assert!(matches!(departure(&v), Progress::Pending { .. }));
    // Processes of entries that have the stop level itself may stay.
    let mut at_zero = snap(Some("0"), G::Done, P::NotStarted, P::NotStarted, P::NotStarted);
    at_zero.processes.push(proc("janitor", Mode::Respawn, "0", P::Running));
    assert_eq!(departure(&view(&at_zero, &target(None), NOW)), Progress::Reached);
}

#[test]
fn a_failed_test_backoff_or_failed_start_at_the_level_is_a_failure() {
    let failed = snap(Some("run"), G::Failed, P::Fail, P::Running, P::NotStarted);
    assert_eq!(code(&failed, None), OcfCode::ErrGeneric);
    assert!(matches!(arrival(&view(&failed, &target(None), NOW), Role::Unpromoted), Progress::Failed(_)));
    let backoff = snap(Some("run"), G::Done, P::Exited, P::Backoff, P::NotStarted);
    let out = monitor(&view(&backoff, &target(None), NOW));
    assert_eq!(out.code, OcfCode::ErrGeneric);
    assert!(out.reason.is_some_and(|r| r.contains("srv") && r.contains("backoff")));
    let mut cannot = snap(Some("run"), G::Done, P::Exited, P::FailedToStart, P::NotStarted);
    cannot.processes[1].start_error = Some("No such file or directory".into());
    assert!(monitor(&view(&cannot, &target(None), NOW)).reason.is_some_and(|r| r.contains("No such file")));
    // Backoff of an entry that is not in the level does not matter.
    let unrelated = snap(Some("run"), G::Done, P::Exited, P::Running, P::Backoff);
    assert_eq!(code(&unrelated, None), OcfCode::Success);
}

#[test]
fn switching_to_the_level_is_pending_for_start_and_running_for_monitor() {
    for state in [G::Stopping, G::Starting] {
        let s = snap(Some("run"), state, P::Waiting, P::NotStarted, P::NotStarted);
        let v = view(&s, &target(None), NOW);
        assert!(matches!(v, GroupView::Active { health: Health::Settling(_), .. }), "{v:?}");
        assert!(matches!(arrival(&v, Role::Unpromoted), Progress::Pending { .. }));
        assert_eq!(monitor(&v).code, OcfCode::Success);
    }
    // A respawn entry between two runs is not there yet either.
    let between = snap(Some("run"), G::Done, P::Exited, P::Exited, P::NotStarted);
    assert!(matches!(arrival(&view(&between, &target(None), NOW), Role::Unpromoted), Progress::Pending { .. }));
    // Before the tell lands, the old level is what the snapshot shows.
    let before = snap(Some("0"), G::Done, P::NotStarted, P::NotStarted, P::NotStarted);
    assert!(matches!(arrival(&view(&before, &target(None), NOW), Role::Unpromoted), Progress::Pending { .. }));
}

#[test]
fn a_flapping_entry_is_degraded_but_counts_as_started() {
    let mut s = up_at("run");
    let exit = |ago: u64| ExitRecord { at_ms: NOW - ago, status: ExitStatus::Code(1), ran_ms: 10, reason: None };
    s.processes[1].recent_exits = vec![exit(120_000), exit(30_000)];
    s.processes[1].respawns = 3;
    assert_eq!(code(&s, None), OcfCode::Success, "one exit in the window is not flapping");
    s.processes[1].recent_exits.push(exit(1_000));
    let v = view(&s, &target(None), NOW);
    assert_eq!(monitor(&v).code, OcfCode::Degraded);
    assert_eq!(arrival(&v, Role::Unpromoted), Progress::Reached);
}

#[test]
fn promoted_roles_report_their_own_codes() {
    let t = Some("primary");
    assert_eq!(code(&up_at("primary"), t), OcfCode::RunningPromoted);
    assert_eq!(code(&up_at("run"), t), OcfCode::Success);
    assert_eq!(arrival(&view(&up_at("primary"), &target(t), NOW), Role::Promoted), Progress::Reached);
    assert!(matches!(arrival(&view(&up_at("run"), &target(t), NOW), Role::Promoted), Progress::Pending { .. }));
    assert!(matches!(arrival(&view(&up_at("primary"), &target(t), NOW), Role::Unpromoted), Progress::Pending { .. }));
    let broken = snap(Some("primary"), G::Done, P::Exited, P::Running, P::Backoff);
    assert_eq!(code(&broken, t), OcfCode::FailedPromoted);
    let mut flapping = up_at("primary");
    let exit = |ago: u64| ExitRecord { at_ms: NOW - ago, status: ExitStatus::Signal(9), ran_ms: 10, reason: None };
    flapping.processes[2].recent_exits = vec![exit(2_000), exit(1_000)];
    flapping.processes[2].respawns = 2;
    assert_eq!(code(&flapping, t), OcfCode::DegradedPromoted);
    // Without promoted_level, `primary` is just some other level.
    assert_eq!(code(&up_at("primary"), None), OcfCode::ErrGeneric);
}

#[test]
fn a_halting_daemon_fails_the_running_level_and_stops_the_rest() {
    let halting = snap(Some("run"), G::Halting, P::Exited, P::Stopping, P::NotStarted);
    assert!(matches!(monitor(&view(&halting, &target(None), NOW)).code, OcfCode::ErrGeneric));
    let gone = snap(Some("maint"), G::Halting, P::NotStarted, P::NotStarted, P::NotStarted);
    assert_eq!(departure(&view(&gone, &target(None), NOW)), Progress::Reached);
    let going = snap(Some("maint"), G::Halting, P::NotStarted, P::Stopping, P::NotStarted);
    assert!(matches!(departure(&view(&going, &target(None), NOW)), Progress::Pending { .. }));
}

#[test]
fn a_start_counts_a_respawn_entry_as_up_once_it_ran_a_second() {
    let mut s = up_at("run");
    s.processes[1].started_at_ms = Some(NOW - 400);
    let v = view(&s, &target(None), NOW);
    assert_eq!(
        arrival(&v, Role::Unpromoted),
        Progress::Pending { why: "srv started less than 1000 ms ago".into(), recheck_at: Some(NOW + 600) }
    );
    assert_eq!(monitor(&v).code, OcfCode::Success, "monitor does not wait for it");
    assert_eq!(arrival(&view(&s, &target(None), NOW + 600), Role::Unpromoted), Progress::Reached);
    // A start time ahead of the clock (clock stepped back) is not waited for.
    s.processes[1].started_at_ms = Some(NOW + 3_600_000);
    assert_eq!(arrival(&view(&s, &target(None), NOW), Role::Unpromoted), Progress::Reached);
}

#[test]
fn exits_of_earlier_records_do_not_count_as_flapping() {
    let mut s = up_at("run");
    let exit = |ago: u64| ExitRecord { at_ms: NOW - ago, status: ExitStatus::Signal(2), ran_ms: 10, reason: None };
    // Two stops (SIGINT) in the last minute, but this record never restarted.
    s.processes[1].recent_exits = vec![exit(20_000), exit(10_000)];
    s.processes[1].respawns = 0;
    assert_eq!(code(&s, None), OcfCode::Success);
    s.processes[1].respawns = 1;
    assert_eq!(code(&s, None), OcfCode::Success);
    s.processes[1].respawns = 2;
    assert_eq!(code(&s, None), OcfCode::Degraded);
}

#[test]
fn a_notify_entry_counts_as_up_only_once_ready() {
    let mut s = up_at("run");
    s.processes[1].mode = Mode::Notify;
    let v = view(&s, &target(None), NOW);
    assert!(
        matches!(v, GroupView::Active { health: Health::Settling(ref why), .. } if why.contains("not ready")),
        "{v:?}"
    );
    assert!(matches!(arrival(&v, Role::Unpromoted), Progress::Pending { .. }));
    s.processes[1].ready = true;
    assert_eq!(view(&s, &target(None), NOW), GroupView::Active { role: Role::Unpromoted, health: Health::Up });
}

#[test]
fn a_stop_during_shutdown_is_over_once_no_process_of_the_group_has_a_pid() {
    use crate::ocf::view::emptied;
    let stopping = snap(Some("run"), G::Halting, P::Exited, P::Stopping, P::NotStarted);
    assert!(matches!(emptied(&stopping, "web"), Progress::Pending { .. }));
    let gone = snap(Some("run"), G::Halting, P::Exited, P::Exited, P::NotStarted);
    assert_eq!(emptied(&gone, "web"), Progress::Reached);
    assert_eq!(emptied(&stopping, "other"), Progress::Reached, "another group's processes do not count");
}
