//! `notify` entries (SPEC §11): the group's start waits for `READY=1`,
//! only the entry's own process group counts, `STATUS=` is shown, and a
//! process that stays unready is restarted like a respawn.

use super::*;
use crate::readiness::{NotifyMessage, Refusal, Sender};

const NOTIFY_TAB: &str = "\
g:db:1:notify:db
g:app:1:respawn:app
";

impl World {
    /// `text` arrives from a process of `tag`'s current process group.
    fn notify(&mut self, tag: &str, text: &str) -> Result<bool, Refusal> {
        let pid = self.pids[tag];
        let sender = Sender { pid: pid + 1000, pgid: Some(pid) };
        let outcome = self.sup.notified(self.now, sender, &NotifyMessage::parse(text.as_bytes()));
        self.settle();
        outcome.map(|a| a.became_ready)
    }

    fn status(&self, tag: &str) -> ProcessStatus {
        self.sup.processes().into_iter().find(|p| p.tag == tag).expect("process")
    }

    fn notices(&self) -> Vec<String> {
        self.log
            .iter()
            .filter_map(|e| match e {
                Effect::Publish(Event::Notice { message, .. }) => Some(message.clone()),
                _ => None,
            })
            .collect()
    }
}

use isinit_shared::protocol::ProcessStatus;

#[test]
fn the_group_starts_its_next_entry_only_once_notify_is_ready() {
    let mut w = World::new(NOTIFY_TAB);
    w.tell("g", "1");
    assert_eq!(w.spawned_tags(), ["db"], "app waits for db to be ready");
    assert_eq!(w.group_state("g"), GroupState::Starting);
    let db = w.status("db");
    assert_eq!((db.state, db.ready), (ProcessState::Running, false));
    assert!(w.log.iter().any(|e| matches!(e, Effect::Spawn(r) if r.tag == "db" && r.notify)), "db gets NOTIFY_SOCKET");

    assert_eq!(w.notify("db", "STATUS=loading"), Ok(false));
    assert_eq!(w.spawned_tags(), ["db"], "a STATUS= alone is not readiness");
    assert_eq!(w.status("db").status_text.as_deref(), Some("loading"));

    assert_eq!(w.notify("db", "READY=1\nSTATUS=serving"), Ok(true));
    assert_eq!(w.spawned_tags(), ["db", "app"]);
    assert!(w.log.iter().any(|e| matches!(e, Effect::Spawn(r) if r.tag == "app" && !r.notify)), "app does not");
    assert_eq!(w.group_state("g"), GroupState::Done);
    let db = w.status("db");
    assert_eq!((db.ready, db.status_text.as_deref()), (true, Some("serving")));
    assert!(w.status("app").ready, "a running respawn process counts as ready");
    assert_eq!(w.notify("db", "READY=1"), Ok(false), "ready once per run");
}

#[test]
fn only_the_current_process_group_of_a_notify_entry_counts() {
    let mut w = World::new(NOTIFY_TAB);
    w.tell("g", "1");
    let db = w.pids["db"];
    let ready = NotifyMessage::parse(b"READY=1");
    let stranger = Sender { pid: 4242, pgid: Some(4242) };
    assert_eq!(w.sup.notified(w.now, stranger, &ready), Err(Refusal::Stranger { pid: 4242, pgid: 4242 }));
    let gone = Sender { pid: 0, pgid: None };
    assert_eq!(w.sup.notified(w.now, gone, &ready), Err(Refusal::SenderGone { pid: 0 }));
    w.settle();
    assert_eq!(w.group_state("g"), GroupState::Starting);

    // The leader dies before it is ready: respawned, the group still waits,
    // and its old process group no longer counts.
    w.exit("db", ExitStatus::Code(1));
    assert_eq!(w.spawned_tags(), ["db", "db"]);
    assert_eq!(w.group_state("g"), GroupState::Starting);
    let old = Sender { pid: db, pgid: Some(db) };
    assert!(matches!(w.sup.notified(w.now, old, &ready), Err(Refusal::Stranger { .. })));
    assert_eq!(w.notify("db", "READY=1"), Ok(true));
    assert_eq!(w.group_state("g"), GroupState::Done);

    // A ready app (respawn) cannot speak for anyone.
    assert!(matches!(w.notify("app", "READY=1"), Err(Refusal::Stranger { .. })));
}

#[test]
fn a_respawned_notify_entry_is_not_ready_until_it_says_so_again() {
    let mut w = World::new(NOTIFY_TAB);
    w.tell("g", "1");
    w.notify("db", "READY=1\nSTATUS=up").expect("counts");
    w.exit("db", ExitStatus::Signal(9));
    let db = w.status("db");
    assert_eq!((db.state, db.ready, db.respawns, db.status_text), (ProcessState::Running, false, 1, None));
    assert_eq!(w.group_state("g"), GroupState::Done, "a settled group stays settled");
    assert_eq!(w.notify("db", "READY=1"), Ok(true));
    assert!(w.status("db").ready);

    // A tell of the same level while db is unready waits for it again.
    w.exit("db", ExitStatus::Code(0));
    let spawned = w.spawned_tags().len();
    w.tell("g", "1");
    assert_eq!(w.group_state("g"), GroupState::Starting);
    assert_eq!(w.spawned_tags().len(), spawned, "nothing is re-run");
    w.notify("db", "READY=1").expect("counts");
    assert_eq!(w.group_state("g"), GroupState::Done);
}

#[test]
fn no_ready_in_time_stops_and_starts_it_again() {
    let mut w = World::new(NOTIFY_TAB);
    w.tell("g", "1");
    let db = w.pids["db"];
    w.advance(Duration::from_secs(89));
    assert!(w.signals().is_empty());
    w.advance(Duration::from_secs(2));
    assert_eq!(w.signals(), [(db, StopSignal::Int)], "stopped gracefully");
    assert_eq!(w.notices(), ["db did not report READY=1 within 90 seconds: stopping it to start it again"]);
    assert!(w.log.contains(&Effect::Log(w.notices()[0].clone())), "and the daemon log says why");
    assert_eq!(w.proc_state("db"), ProcessState::Stopping);
    assert!(w.sup.restart_entry(w.now, "db").is_err(), "already being restarted");
    w.obey_signals();
    let p = w.status("db");
    assert_eq!((p.state, p.respawns, p.ready), (ProcessState::Running, 1, false), "started again like a respawn");
    assert_ne!(w.pids["db"], db);
    assert_eq!(w.group_state("g"), GroupState::Starting, "still waiting for ready");
    assert_eq!(w.spawned_tags(), ["db", "db"]);

    // Ready in time this run: no more timeout.
    w.advance(Duration::from_secs(30));
    w.notify("db", "READY=1").expect("counts");
    w.advance(Duration::from_secs(120));
    assert_eq!(w.signals().len(), 1);
    assert_eq!(w.group_state("g"), GroupState::Done);
}

#[test]
fn a_notify_entry_that_keeps_failing_is_throttled_and_holds_its_group() {
    let mut w = World::new(NOTIFY_TAB);
    w.tell("g", "1");
    for _ in 0..6 {
        w.advance(Duration::from_millis(10));
        w.exit("db", ExitStatus::Code(1));
    }
    assert_eq!(w.proc_state("db"), ProcessState::Backoff);
    assert_eq!(w.group_state("g"), GroupState::Starting);
    assert!(!w.spawned_tags().contains(&"app".to_string()));
    w.advance(Duration::from_secs(61));
    assert_eq!(w.proc_state("db"), ProcessState::Running, "back after the pause");
    w.notify("db", "READY=1").expect("counts");
    assert_eq!(w.group_state("g"), GroupState::Done);
}

#[test]
fn leaving_the_level_during_a_ready_restart_forgets_the_entry() {
    let mut w = World::new(NOTIFY_TAB);
    w.tell("g", "1");
    w.advance(Duration::from_secs(91));
    assert_eq!(w.proc_state("db"), ProcessState::Stopping);
    w.tell("g", "0");
    w.obey_signals();
    assert_eq!(w.group_state("g"), GroupState::Done);
    assert_eq!(w.proc_state("db"), ProcessState::NotStarted);
    assert_eq!(w.spawned_tags(), ["db"], "not started again");
}

#[test]
fn shutdown_ignores_ready_deadlines() {
    let mut w = World::new(NOTIFY_TAB);
    w.tell("g", "1");
    w.sup.shutdown(w.now);
    w.settle();
    w.advance(Duration::from_secs(91));
    assert!(w.notices().is_empty());
}

#[test]
fn the_level_preview_starts_notify_entries_like_any_other() {
    let w = World::new(NOTIFY_TAB);
    let plan = w.sup.plan(w.sup.config(), "g", "1");
    assert_eq!(plan.start, ["db", "app"]);
    assert!(plan.stop.is_empty() && plan.keep.is_empty());
}

#[test]
fn extend_timeout_usec_moves_the_readiness_deadline_later_never_earlier() {
    let mut w = World::new(NOTIFY_TAB);
    w.tell("g", "1");
    let timeout = Timing::default().ready_timeout;
    w.advance(timeout - Duration::from_secs(10));
    // 30 s more from now: past the original deadline.
    assert_eq!(w.notify("db", "EXTEND_TIMEOUT_USEC=30000000"), Ok(false));
    w.advance(Duration::from_secs(29));
    assert!(w.signals().is_empty(), "extended");
    // A shorter extension does not bring the deadline forward.
    assert_eq!(w.notify("db", "EXTEND_TIMEOUT_USEC=1"), Ok(false));
    w.advance(Duration::from_millis(999));
    assert!(w.signals().is_empty(), "never shortened");
    w.advance(Duration::from_millis(1));
    assert_eq!(w.signals().len(), 1, "the extended deadline passed");
}
