//! Acting on one process (SPEC §13): restart, retry now, signal targets.

use super::*;
use isinit_shared::protocol::ErrorKind;

/// `mail` at `run` with spool and cf done and mta running.
fn mail_running() -> World {
    let mut w = World::new(TAB);
    w.tell("mail", "run");
    w.exit("spool", ExitStatus::Code(0));
    w.exit("cf", ExitStatus::Code(0));
    w
}

#[test]
fn restart_stops_gracefully_then_starts_again() {
    let mut w = mail_running();
    let old = w.pids["mta"];
    let ticket = w.sup.restart_entry(w.now, "mta").expect("restart accepted");
    w.settle();
    assert_eq!(w.signals(), [(old, StopSignal::Int)], "SIGINT to the process group first");
    assert_eq!(w.proc_state("mta"), ProcessState::Stopping);
    assert_eq!(w.sup.start_progress(&ticket), StartProgress::Pending);
    assert_eq!(w.group_state("mail"), GroupState::Done, "the group is not switching");
    let again = w.sup.restart_entry(w.now, "mta").expect_err("one restart at a time");
    assert_eq!(again.message, "mta is already restarting");

    w.exit("mta", ExitStatus::Signal(2));
    let new = w.pids["mta"];
    assert_ne!(new, old);
    assert_eq!(w.spawned_tags().iter().filter(|t| *t == "mta").count(), 2);
    assert_eq!(w.sup.start_progress(&ticket), StartProgress::Running(new as u32));
    let p = w.sup.processes().into_iter().find(|p| p.tag == "mta").expect("mta");
    assert_eq!((p.state, p.respawns, p.pid), (ProcessState::Running, 1, Some(new as u32)));
    assert_eq!(w.group_state("mail"), GroupState::Done);
}

#[test]
fn restart_escalates_to_term_and_kill() {
    let mut w = mail_running();
    let old = w.pids["mta"];
    let ticket = w.sup.restart_entry(w.now, "mta").expect("restart");
    w.settle();
    w.advance(Duration::from_millis(5100));
    w.advance(Duration::from_millis(10_100));
    assert_eq!(w.signals(), [(old, StopSignal::Int), (old, StopSignal::Term), (old, StopSignal::Kill)]);
    assert_eq!(w.sup.start_progress(&ticket), StartProgress::Pending, "nothing starts while the old one lives");
    w.exit("mta", ExitStatus::Signal(9));
    assert!(matches!(w.sup.start_progress(&ticket), StartProgress::Running(_)));
}

#[test]
fn restart_of_an_exited_entry_starts_it_at_once() {
    let mut w = mail_running();
    let ticket = w.sup.restart_entry(w.now, "cf").expect("restart cf");
    w.settle();
    assert!(w.signals().is_empty(), "nothing to stop");
    assert_eq!(w.spawned_tags().iter().filter(|t| *t == "cf").count(), 2);
    assert!(matches!(w.sup.start_progress(&ticket), StartProgress::Running(_)));
    w.exit("cf", ExitStatus::Code(0));
    assert_eq!(w.sup.start_progress(&ticket), StartProgress::Exited(ExitStatus::Code(0)));
}

#[test]
fn restart_refusals() {
    let mut w = mail_running();
    let e = w.sup.restart_entry(w.now, "nope").expect_err("unknown");
    assert_eq!((e.kind, e.message.as_str()), (ErrorKind::NoSuchTag, "no such tag: nope"));
    let e = w.sup.restart_entry(w.now, "extra").expect_err("not in run");
    assert_eq!(e.kind, ErrorKind::Rejected);
    assert_eq!(e.message, "extra is not in the current level of its group mail (level run)");
    let e = w.sup.restart_entry(w.now, "probe").expect_err("web never told");
    assert_eq!(e.message, "probe is not in the current level of its group web: never told");
    w.sup.shutdown(w.now);
    let e = w.sup.restart_entry(w.now, "mta").expect_err("halting");
    assert_eq!(e.message, "daemon is shutting down");
}

#[test]
fn a_tell_away_overtakes_a_restart() {
    let mut w = mail_running();
    let ticket = w.sup.restart_entry(w.now, "mta").expect("restart");
    w.settle();
    w.tell("mail", "0");
    w.obey_signals();
    assert_eq!(w.spawned_tags().iter().filter(|t| *t == "mta").count(), 1, "not started again");
    assert!(matches!(w.sup.start_progress(&ticket), StartProgress::Abandoned(_)));
    assert_eq!(w.group_state("mail"), GroupState::Done);
    assert_eq!(w.proc_state("mta"), ProcessState::NotStarted);
}

#[test]
fn a_tell_of_the_same_level_during_a_restart_waits_for_it() {
    let mut w = mail_running();
    let ticket = w.sup.restart_entry(w.now, "mta").expect("restart");
    w.settle();
    w.tell("mail", "run");
    assert_eq!(w.group_state("mail"), GroupState::Stopping);
    w.obey_signals();
    assert!(matches!(w.sup.start_progress(&ticket), StartProgress::Running(_)));
    assert_eq!(w.group_state("mail"), GroupState::Done);
}

#[test]
fn retry_starts_a_throttled_entry_now_with_its_count_reset() {
    let mut w = World::new("g:flap:1:respawn:false\ng:other:1:respawn:sleep\n");
    w.tell("g", "1");
    let e = w.sup.retry(w.now, "flap").expect_err("running, not in backoff");
    assert_eq!(e.message, "flap is not in backoff: it is running");
    for _ in 0..6 {
        w.advance(Duration::from_millis(10));
        w.exit("flap", ExitStatus::Code(1));
    }
    assert_eq!(w.proc_state("flap"), ProcessState::Backoff);
    let ticket = w.sup.retry(w.now, "flap").expect("retry");
    w.settle();
    assert_eq!(w.proc_state("flap"), ProcessState::Running);
    assert!(matches!(w.sup.start_progress(&ticket), StartProgress::Running(_)));
    assert_eq!(w.spawned_tags().iter().filter(|t| *t == "flap").count(), 7);
    // Count reset: five more quick exits are allowed before the next throttle.
    for _ in 0..5 {
        w.advance(Duration::from_millis(10));
        w.exit("flap", ExitStatus::Code(1));
    }
    assert_eq!(w.proc_state("flap"), ProcessState::Running);
    w.advance(Duration::from_millis(10));
    w.exit("flap", ExitStatus::Code(1));
    assert_eq!(w.proc_state("flap"), ProcessState::Backoff);
    // The old pause's timer was cancelled: only the new one restarts it.
    let starts = w.spawned_tags().len();
    w.advance(Duration::from_secs(59));
    assert_eq!(w.spawned_tags().len(), starts);
    let e = w.sup.retry(w.now, "nope").expect_err("unknown");
    assert_eq!(e.kind, ErrorKind::NoSuchTag);
}

#[test]
fn signal_targets_are_the_live_process_groups() {
    let mut w = mail_running();
    assert_eq!(w.sup.signal_targets("mta"), Ok(vec![w.pids["mta"]]));
    let e = w.sup.signal_targets("cf").expect_err("exited");
    assert_eq!(e.message, "cf has no running process: it is exited");
    let e = w.sup.signal_targets("extra").expect_err("no record");
    assert_eq!(e.message, "extra has no running process");
    assert_eq!(w.sup.signal_targets("nope").expect_err("unknown").kind, ErrorKind::NoSuchTag);
    assert_eq!(w.sup.live_process_groups(), vec![("mta".to_string(), vec![w.pids["mta"]])]);
    w.exit("mta", ExitStatus::Code(1));
    assert_eq!(w.sup.signal_targets("mta"), Ok(vec![w.pids["mta"]]), "the respawned process");
}

#[test]
fn shutdown_abandons_a_pending_restart() {
    let mut w = mail_running();
    let ticket = w.sup.restart_entry(w.now, "mta").expect("restart");
    w.settle();
    w.sup.shutdown(w.now);
    w.settle();
    w.obey_signals();
    assert_eq!(w.sup.start_progress(&ticket), StartProgress::Abandoned("daemon is shutting down".into()));
    assert!(w.log.contains(&Effect::Exit));
}
