//! Liveness probes (SPEC §17) with no process and no network: checks are
//! asked for by timers, answered by hand, and decide when a run is stopped.

use super::*;
use isinit_shared::protocol::{ExitReason, Health, ProcessStatus};

const PROBED_TAB: &str = "\
web:srv:1:respawn:serve
web:job:1:once:batch
web:db:2:notify:db
web:app:2:respawn:app
:::probe:srv every=1 timeout=0.5 failures=3 tcp:127.0.0.1:8080
:::probe:job every=1 failures=2 exec:check-job
:::probe:db every=2 failures=1 http://127.0.0.1:5432/ready
";

impl World {
    /// The checks asked for since the log began, as (tag, pid).
    fn probes_asked(&self) -> Vec<(String, i32)> {
        self.log
            .iter()
            .filter_map(|e| match e {
                Effect::Probe(r) => Some((r.tag.clone(), r.pid)),
                _ => None,
            })
            .collect()
    }

    /// Answers the check of `tag`'s current run.
    fn answer(&mut self, tag: &str, result: Result<(), &str>) {
        let pid = self.pids[tag];
        self.sup.probed(self.now, tag, pid, result.map_err(str::to_string));
        self.settle();
    }

    fn row(&self, tag: &str) -> ProcessStatus {
        self.sup.processes().into_iter().find(|p| p.tag == tag).expect("process")
    }
}

#[test]
fn a_check_is_asked_for_a_second_after_the_start_then_every_interval_after_each_answer() {
    let mut w = World::new(PROBED_TAB);
    w.tell("web", "1");
    let srv = w.pids["srv"];
    assert_eq!(w.row("srv").health, Some(Health::NotProbed));
    assert!(w.probes_asked().is_empty(), "no check at once");
    w.advance(Duration::from_millis(999));
    assert!(w.probes_asked().is_empty());
    w.advance(Duration::from_millis(1));
    assert!(w.probes_asked().contains(&("srv".into(), srv)));
    let asked = |w: &World| w.probes_asked().iter().filter(|(t, _)| t == "srv").count();
    // Unanswered: no second check however long it takes.
    w.advance(Duration::from_secs(5));
    assert_eq!(asked(&w), 1, "one check at a time");
    w.answer("srv", Ok(()));
    assert_eq!(w.row("srv").health, Some(Health::Healthy));
    w.advance(Duration::from_millis(999));
    assert_eq!(asked(&w), 1);
    w.advance(Duration::from_millis(1));
    assert_eq!(asked(&w), 2, "every=1 after the answer");
    let Some(Effect::Probe(req)) = w.log.iter().rev().find(|e| matches!(e, Effect::Probe(_))) else { panic!() };
    assert_eq!((req.timeout, req.group.as_str(), req.level.as_str()), (Duration::from_millis(500), "web", "1"));
    assert_eq!(w.row("app").health, None, "no probe, no health");
}

#[test]
fn failures_in_a_row_stop_a_respawn_entry_which_comes_back_with_the_reason() {
    let mut w = World::new(PROBED_TAB);
    w.tell("web", "1");
    let first = w.pids["srv"];
    w.advance(Duration::from_secs(1));
    w.answer("srv", Ok(()));
    for round in 1..=2 {
        w.advance(Duration::from_secs(1));
        w.answer("srv", Err("connection refused"));
        let row = w.row("srv");
        assert_eq!((row.health, row.health_reason.as_deref()), (Some(Health::Unhealthy), Some("connection refused")));
        assert!(w.signals().is_empty(), "round {round}: not yet");
    }
    // A pass in between starts the count again.
    w.advance(Duration::from_secs(1));
    w.answer("srv", Ok(()));
    assert_eq!(w.row("srv").health_reason.as_deref(), Some("connection refused"), "the last failure stays visible");
    for _ in 0..2 {
        w.advance(Duration::from_secs(1));
        w.answer("srv", Err("timed out after 0.5s"));
    }
    assert!(w.signals().is_empty(), "two in a row after a pass are not three");
    w.advance(Duration::from_secs(1));
    w.answer("srv", Err("timed out after 0.5s"));
    assert_eq!(w.signals(), [(first, StopSignal::Int)], "stopped like a restart");
    assert_eq!(w.row("srv").state, ProcessState::Running, "still running until it exits");
    // It ignores SIGINT: TERM follows term_after later; no check meanwhile.
    let asked = w.probes_asked().len();
    w.advance(Timing::default().term_after);
    assert_eq!(w.signals(), [(first, StopSignal::Int), (first, StopSignal::Term)]);
    assert_eq!(w.probes_asked().len(), asked, "a process being stopped is not checked");
    w.exit("srv", ExitStatus::Signal(15));
    let row = w.row("srv");
    assert_eq!((row.state, row.respawns), (ProcessState::Running, 1), "respawned, counted");
    assert_ne!(w.pids["srv"], first);
    let last = row.recent_exits.last().expect("an exit");
    assert_eq!((last.status, last.reason), (ExitStatus::Signal(15), Some(ExitReason::ProbeFailed)));
    assert_eq!(row.health, Some(Health::NotProbed), "a new run is not probed yet");
    w.advance(Timing::default().kill_after);
    assert_eq!(w.signals().len(), 2, "no KILL for a group that is gone");
    // Its own exit later carries no reason.
    w.exit("srv", ExitStatus::Code(1));
    assert_eq!(w.row("srv").recent_exits.last().and_then(|e| e.reason), None);
}

#[test]
fn a_run_that_never_passed_is_given_the_ready_timeout_to_start() {
    let mut w = World::new(PROBED_TAB);
    w.tell("web", "1");
    let mut waited = Duration::ZERO;
    while waited < Timing::default().ready_timeout {
        w.advance(Duration::from_secs(1));
        waited += Duration::from_secs(1);
        w.answer("srv", Err("connection refused"));
        assert!(w.signals().is_empty(), "still starting after {waited:?}");
    }
    assert_eq!(w.row("srv").health, Some(Health::Unhealthy));
    // Past it, failures count: two more make three in a row.
    for _ in 0..2 {
        w.advance(Duration::from_secs(1));
        w.answer("srv", Err("connection refused"));
    }
    assert_eq!(w.signals().len(), 1, "stopped once its start time is up");
}

#[test]
fn a_once_entry_stopped_by_its_probe_stays_exited() {
    let mut w = World::new(PROBED_TAB);
    w.tell("web", "1");
    w.advance(Duration::from_secs(1));
    w.answer("job", Ok(()));
    for _ in 0..2 {
        w.advance(Duration::from_secs(1));
        w.answer("job", Err("exit 1"));
    }
    w.obey_signals();
    let row = w.row("job");
    assert_eq!((row.state, row.respawns), (ProcessState::Exited, 0));
    assert_eq!(row.recent_exits.last().and_then(|e| e.reason), Some(ExitReason::ProbeFailed));
    assert_eq!(row.health, Some(Health::NotProbed), "nothing to probe");
}

#[test]
fn an_answer_about_an_earlier_run_is_dropped() {
    let mut w = World::new(PROBED_TAB);
    w.tell("web", "1");
    w.advance(Duration::from_secs(1));
    let old = w.pids["srv"];
    w.exit("srv", ExitStatus::Code(1));
    w.sup.probed(w.now, "srv", old, Err("connection refused".into()));
    w.settle();
    assert_eq!(w.row("srv").health, Some(Health::NotProbed));
    assert_eq!(w.row("srv").health_reason, None);
}

#[test]
fn a_notify_entry_is_ready_at_its_first_pass_and_unready_failures_do_not_count() {
    let mut w = World::new(PROBED_TAB);
    w.tell("web", "2");
    assert_eq!(w.spawned_tags(), ["db"]);
    // failures=1, but before its first pass the readiness deadline rules.
    w.advance(Duration::from_secs(1));
    w.answer("db", Err("connection refused"));
    assert!(w.signals().is_empty());
    assert_eq!(w.group_state("web"), GroupState::Starting);
    w.advance(Duration::from_secs(2));
    w.answer("db", Ok(()));
    assert!(w.row("db").ready);
    assert_eq!(w.spawned_tags(), ["db", "app"], "the first pass gates the next entry");
    assert_eq!(w.group_state("web"), GroupState::Done);
    // Past the readiness deadline: no restart for an entry made ready.
    w.advance(Timing::default().ready_timeout);
    w.answer("db", Ok(()));
    assert!(w.signals().is_empty());
    // Once ready, one failure (failures=1) stops it.
    w.advance(Duration::from_secs(2));
    w.answer("db", Err("HTTP 503"));
    assert_eq!(w.signals().len(), 1);
}

#[test]
fn a_probe_added_by_a_reload_checks_the_running_process_and_a_removed_one_stops() {
    let plain = "web:srv:1:respawn:serve\n";
    let mut w = World::new(plain);
    w.tell("web", "1");
    w.advance(Duration::from_secs(5));
    assert!(w.probes_asked().is_empty());
    w.sup.reload(w.now, tab(&format!("{plain}:::probe:srv every=3 tcp:h:1\n"))).expect("reload");
    w.settle();
    assert_eq!(w.row("srv").health, Some(Health::NotProbed));
    w.advance(Duration::from_secs(1));
    assert_eq!(w.probes_asked().len(), 1, "checked without a restart");
    w.answer("srv", Err("connection refused"));
    w.sup.reload(w.now, tab(plain)).expect("reload");
    w.settle();
    w.advance(Duration::from_secs(10));
    assert_eq!(w.probes_asked().len(), 1);
    assert_eq!(w.row("srv").health, None);
    assert!(w.signals().is_empty());
}

#[test]
fn probes_are_timed_again_after_a_reexec() {
    let mut w = World::new(PROBED_TAB);
    w.tell("web", "1");
    let state = w.sup.export(w.now);
    let mut sup = Supervisor::import(tab(PROBED_TAB), Timing::default(), w.now, state);
    sup.take_effects();
    let later = w.now.after(Duration::from_secs(1));
    sup.fire_timers(later);
    let asked: Vec<String> = sup
        .take_effects()
        .into_iter()
        .filter_map(|e| match e {
            Effect::Probe(r) => Some(r.tag),
            _ => None,
        })
        .collect();
    assert_eq!(asked, ["job", "srv"]);
}

const WATCHED_TAB: &str = "\
w:svc:1:respawn:serve
w:plain:1:respawn:other
:::watchdog:svc 2
";

impl World {
    /// `text` from `tag`'s current process group, as the readiness socket
    /// delivers it.
    fn datagram(&mut self, tag: &str, text: &str) -> Result<(), crate::Refusal> {
        let pid = self.pids[tag];
        let sender = crate::Sender { pid, pgid: Some(pid) };
        let outcome = self.sup.notified(self.now, sender, &crate::NotifyMessage::parse(text.as_bytes()));
        self.settle();
        outcome.map(drop)
    }

    fn aborts(&self) -> Vec<i32> {
        self.log
            .iter()
            .filter_map(|e| match e {
                Effect::Abort { pid } => Some(*pid),
                _ => None,
            })
            .collect()
    }
}

#[test]
fn watchdog_messages_are_read() {
    let m = crate::NotifyMessage::parse(b"WATCHDOG=1\nWATCHDOG_USEC=500000");
    assert_eq!(m.watchdog, crate::WatchdogNote { ping: true, trigger: false, usec: Some(500_000) });
    let m = crate::NotifyMessage::parse(b"WATCHDOG=trigger\nWATCHDOG_USEC=x");
    assert_eq!(m.watchdog, crate::WatchdogNote { ping: false, trigger: true, usec: None });
}

#[test]
fn a_watched_entry_of_any_mode_is_told_where_to_ping_and_only_its_pings_count() {
    let mut w = World::new(WATCHED_TAB);
    w.tell("w", "1");
    let spawned: Vec<(String, bool, Option<u64>)> = w
        .log
        .iter()
        .filter_map(|e| match e {
            Effect::Spawn(r) => Some((r.tag.clone(), r.notify, r.watchdog_usec)),
            _ => None,
        })
        .collect();
    assert_eq!(spawned, [("svc".into(), false, Some(2_000_000)), ("plain".into(), false, None)]);
    let mut leaders: Vec<i32> = w.sup.notify_leaders().collect();
    leaders.sort_unstable();
    assert_eq!(leaders, [w.pids["svc"]], "the readiness reader lets svc's datagrams through");
    assert!(w.datagram("plain", "WATCHDOG=1").is_err(), "an unwatched respawn entry has no say");
    // Not armed before the first ping: silence is fine.
    w.advance(Duration::from_secs(10));
    assert!(w.aborts().is_empty());
    assert!(w.datagram("svc", "WATCHDOG=1").is_ok());
    for _ in 0..5 {
        w.advance(Duration::from_millis(1900));
        w.datagram("svc", "WATCHDOG=1").expect("counted");
    }
    assert!(w.aborts().is_empty(), "pinged in time");
}

#[test]
fn silence_gets_sigabrt_then_the_stop_of_a_restart_and_the_reason_watchdog() {
    let mut w = World::new(WATCHED_TAB);
    w.tell("w", "1");
    let first = w.pids["svc"];
    w.datagram("svc", "WATCHDOG=1").expect("counted");
    w.advance(Duration::from_millis(1999));
    assert!(w.aborts().is_empty());
    w.advance(Duration::from_millis(1));
    assert_eq!(w.aborts(), [first], "SIGABRT to the leader");
    assert!(w.signals().is_empty(), "INT only if ABRT did not end it");
    w.advance(Timing::default().term_after);
    assert_eq!(w.signals(), [(first, StopSignal::Int)]);
    w.exit("svc", ExitStatus::Signal(6));
    let row = w.row("svc");
    assert_eq!((row.respawns, row.recent_exits.last().and_then(|e| e.reason)), (1, Some(ExitReason::Watchdog)));
    // The new run is not watched until it pings.
    w.advance(Duration::from_secs(10));
    assert_eq!(w.aborts().len(), 1);
}

#[test]
fn watchdog_trigger_and_a_new_interval() {
    let mut w = World::new(WATCHED_TAB);
    w.tell("w", "1");
    w.datagram("svc", "WATCHDOG=1\nWATCHDOG_USEC=5000000").expect("counted");
    w.advance(Duration::from_secs(4));
    assert!(w.aborts().is_empty(), "the child's interval of 5 s replaces the file's 2 s");
    w.datagram("svc", "WATCHDOG_USEC=1000000").expect("counted");
    w.advance(Duration::from_secs(1));
    assert_eq!(w.aborts().len(), 1, "a shorter interval takes effect at once");
    let mut w = World::new(WATCHED_TAB);
    w.tell("w", "1");
    let pid = w.pids["svc"];
    w.datagram("svc", "WATCHDOG=trigger").expect("counted");
    assert_eq!(w.aborts(), [pid], "WATCHDOG=trigger acts at once");
}
