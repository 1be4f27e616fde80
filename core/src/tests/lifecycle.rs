//! Respawn and its throttle, stopping, failed starts and shutdown (SPEC §4–§6).

use super::*;

#[test]
fn stop_escalates_int_term_kill_to_the_process_group() {
    let mut w = World::new(TAB);
    w.tell("mail", "run");
    w.exit("spool", ExitStatus::Code(0));
    w.exit("cf", ExitStatus::Code(0));
    let mta = w.pids["mta"];
    w.tell("mail", "0");
    assert_eq!(w.signals(), [(mta, StopSignal::Int)]);
    assert_eq!(w.group_state("mail"), GroupState::Stopping);
    w.advance(Duration::from_millis(4900));
    assert_eq!(w.group_state("mail"), GroupState::Stopping);
    assert_eq!(w.signals().len(), 1);
    w.advance(Duration::from_millis(200));
    assert_eq!(w.signals(), [(mta, StopSignal::Int), (mta, StopSignal::Term)]);
    w.advance(Duration::from_secs(10));
    assert_eq!(w.signals().last(), Some(&(mta, StopSignal::Kill)));
    assert_eq!(w.group_state("mail"), GroupState::Stopping, "stopping until the group is empty");
    w.exit("mta", ExitStatus::Signal(9));
    assert_eq!(w.group_state("mail"), GroupState::Done);
    w.advance(Duration::from_secs(60));
    assert_eq!(w.signals().len(), 3, "no signal after the group is gone");
}

#[test]
fn leftovers_in_a_process_group_keep_the_group_stopping() {
    let mut w = World::new("g:bg:1:once:sleep 1000 & exit 0\n");
    w.tell("g", "1");
    let pid = w.pids["bg"];
    // The shell exits but its background job stays in the process group.
    w.pids.remove("bg");
    assert!(w.sup.child_exited(w.now, pid, ExitStatus::Code(0)));
    w.sup.sweep(w.now, |g| g == pid);
    w.settle();
    assert_eq!(w.group_state("g"), GroupState::Done);
    w.tell("g", "0");
    assert_eq!(w.signals(), [(pid, StopSignal::Int)], "leaving the level stops what is left");
    assert_eq!(w.group_state("g"), GroupState::Stopping);
    w.sup.sweep(w.now, |_| false);
    w.settle();
    assert_eq!(w.group_state("g"), GroupState::Done);
}

#[test]
fn respawn_is_throttled_after_rapid_starts() {
    let mut w = World::new("g:flap:1:respawn:false\n");
    w.tell("g", "1");
    for _ in 0..5 {
        w.advance(Duration::from_millis(10));
        w.exit("flap", ExitStatus::Code(1));
    }
    assert_eq!(w.spawned_tags().len(), 6, "six quick starts are allowed");
    w.advance(Duration::from_millis(10));
    w.exit("flap", ExitStatus::Code(1));
    assert_eq!(w.spawned_tags().len(), 6);
    assert_eq!(w.proc_state("flap"), ProcessState::Backoff);
    assert!(w.log.contains(&Effect::Log("flap respawning too rapidly: sleeping 60 seconds".into())));
    assert!(w.log.iter().any(|e| matches!(e, Effect::Publish(Event::Notice { .. }))));
    w.advance(Duration::from_secs(59));
    assert_eq!(w.spawned_tags().len(), 6);
    w.advance(Duration::from_secs(2));
    assert_eq!(w.spawned_tags().len(), 7);
    let p = w.sup.processes().into_iter().find(|p| p.tag == "flap").expect("flap");
    assert_eq!(p.respawns, 6);
    assert_eq!(p.recent_exits.len(), 6);
}

#[test]
fn slow_respawns_are_never_throttled() {
    let mut w = World::new("g:svc:1:respawn:svc\n");
    w.tell("g", "1");
    for _ in 0..20 {
        w.advance(Duration::from_millis(1500));
        w.exit("svc", ExitStatus::Code(1));
    }
    assert_eq!(w.proc_state("svc"), ProcessState::Running);
    assert_eq!(w.spawned_tags().len(), 21);
}

#[test]
fn shutdown_halts_every_group_and_exits_when_all_are_gone() {
    let mut w = World::new(TAB);
    w.tell("mail", "run");
    w.exit("spool", ExitStatus::Code(0));
    w.sup.shutdown(w.now);
    w.settle();
    assert_eq!(w.group_state("mail"), GroupState::Halting);
    assert!(!w.log.contains(&Effect::Exit));
    assert!(w.sup.tell(w.now, "mail", "run").is_err(), "no tell while halting");
    w.obey_signals();
    assert!(w.log.contains(&Effect::Exit));
    assert_eq!(w.spawned_tags().iter().filter(|t| *t == "mta").count(), 1, "no respawn while halting");
}

#[test]
fn a_failed_start_does_not_block_the_group() {
    let mut w = World::new("g:w:1:wait:x\ng:o:1:once:y\n");
    w.sup.tell(w.now, "g", "1").expect("tell");
    loop {
        let spawns: Vec<_> = w
            .sup
            .take_effects()
            .into_iter()
            .filter_map(|e| if let Effect::Spawn(req) = e { Some(req) } else { None })
            .collect();
        if spawns.is_empty() {
            break;
        }
        for req in spawns {
            w.sup.spawned(w.now, &req.tag, Err("fork failed".into()));
        }
    }
    assert_eq!(w.proc_state("w"), ProcessState::FailedToStart);
    assert_eq!(w.proc_state("o"), ProcessState::FailedToStart);
    assert_eq!(w.group_state("g"), GroupState::Done);
}

#[test]
fn a_second_shutdown_kills_what_is_left() {
    let mut w = World::new(TAB);
    w.tell("mail", "run");
    w.exit("spool", ExitStatus::Code(0));
    let mta = w.pids["mta"];
    w.sup.hurry();
    w.settle();
    assert!(w.signals().is_empty(), "no hurry before shutdown");
    w.sup.shutdown(w.now);
    w.settle();
    w.sup.hurry();
    w.settle();
    assert!(w.signals().contains(&(mta, StopSignal::Kill)));
}
