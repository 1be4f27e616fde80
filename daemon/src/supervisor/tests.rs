//! Whole scenarios of the state machine, with no process at all: spawns
//! are answered with made-up pids, exits and empty process groups are fed
//! in by hand, and time is advanced explicitly.

use super::*;
use isinit_shared::protocol::{Event, ExitStatus, GroupState, ProcessState};
use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

/// A supervisor plus a fake world: pids handed out, groups still alive.
struct World {
    sup: Supervisor,
    now: Now,
    next_pid: i32,
    /// tag → pid of its live leader.
    pids: HashMap<String, i32>,
    alive_groups: HashSet<i32>,
    /// Every effect seen, for assertions.
    log: Vec<Effect>,
}

const TAB: &str = "\
mail:spool:run,runmore:wait:mount spool
mail:cf:run,runmore:once:update-cf
mail:mta:run,runmore:respawn:sendmail
mail:extra:runmore:respawn:queue-runner
web:probe:123:test:check-disk
web:probe2:12:test:check-net
";

fn tab(text: &str) -> Inittab {
    Inittab::from_bytes(Path::new("/etc/isinittab"), text.as_bytes()).expect("valid test isinittab")
}

impl World {
    fn new(text: &str) -> World {
        let now = Now::real();
        let timing = Timing::default();
        let mut w = World {
            sup: Supervisor::new(tab(text), timing, now),
            now,
            next_pid: 100,
            pids: HashMap::new(),
            alive_groups: HashSet::new(),
            log: Vec::new(),
        };
        w.settle();
        w
    }

    /// Carries out effects like the runtime would: spawns succeed.
    fn settle(&mut self) {
        loop {
            let effects = self.sup.take_effects();
            if effects.is_empty() {
                return;
            }
            for e in effects {
                if let Effect::Spawn(req) = &e {
                    self.next_pid += 1;
                    let pid = self.next_pid;
                    self.pids.insert(req.tag.clone(), pid);
                    self.alive_groups.insert(pid);
                    self.sup.spawned(self.now, &req.tag, Ok(pid));
                }
                self.log.push(e);
            }
        }
    }

    fn tell(&mut self, group: &str, level: &str) {
        self.sup.tell(self.now, group, level).expect("tell accepted");
        self.settle();
    }

    /// The leader of `tag` exits with `code`; its process group empties.
    fn exit(&mut self, tag: &str, status: ExitStatus) {
        let pid = self.pids.remove(tag).unwrap_or_else(|| panic!("{tag} is not running"));
        self.alive_groups.remove(&pid);
        assert!(self.sup.child_exited(self.now, pid, status));
        let alive = self.alive_groups.clone();
        self.sup.sweep(self.now, |g| alive.contains(&g));
        self.settle();
    }

    /// Every signalled process group dies (a well-behaved child).
    fn obey_signals(&mut self) {
        let signalled: Vec<i32> = self
            .log
            .iter()
            .filter_map(|e| match e {
                Effect::Signal { pgid, .. } => Some(*pgid),
                _ => None,
            })
            .collect();
        for pgid in signalled {
            if let Some(tag) = self.pids.iter().find(|(_, p)| **p == pgid).map(|(t, _)| t.clone()) {
                self.exit(&tag, ExitStatus::Signal(2));
            }
        }
    }

    fn advance(&mut self, d: Duration) {
        self.now = self.now.after(d);
        self.sup.fire_timers(self.now);
        self.settle();
    }

    fn spawned_tags(&self) -> Vec<String> {
        self.log
            .iter()
            .filter_map(|e| match e {
                Effect::Spawn(r) => Some(r.tag.clone()),
                _ => None,
            })
            .collect()
    }

    fn group_state(&self, name: &str) -> GroupState {
        self.sup.groups().into_iter().find(|g| g.name == name).expect("group").state
    }

    fn proc_state(&self, tag: &str) -> ProcessState {
        self.sup.processes().into_iter().find(|p| p.tag == tag).expect("process").state
    }

    fn signals(&self) -> Vec<(i32, StopSignal)> {
        self.log
            .iter()
            .filter_map(|e| match e {
                Effect::Signal { pgid, signal } => Some((*pgid, *signal)),
                _ => None,
            })
            .collect()
    }
}

#[test]
fn groups_start_configured_and_nothing_runs_until_told() {
    let w = World::new(TAB);
    assert_eq!(w.group_state("mail"), GroupState::Configured);
    assert!(w.spawned_tags().is_empty());
    assert_eq!(w.sup.status_lines(), "mail - CONFIGURED\nweb - CONFIGURED\n");
}

#[test]
fn wait_entries_hold_back_the_rest_of_the_group() {
    let mut w = World::new(TAB);
    w.tell("mail", "run");
    assert_eq!(w.spawned_tags(), ["spool"], "nothing after a wait starts before it exits");
    assert_eq!(w.group_state("mail"), GroupState::Starting);
    assert_eq!(w.proc_state("spool"), ProcessState::Waiting);
    w.exit("spool", ExitStatus::Code(0));
    assert_eq!(w.spawned_tags(), ["spool", "cf", "mta"]);
    assert_eq!(w.group_state("mail"), GroupState::Done);
    assert_eq!(w.group_state("web"), GroupState::Configured, "other groups are never affected");
}

#[test]
fn shared_processes_keep_running_across_a_switch() {
    let mut w = World::new(TAB);
    w.tell("mail", "run");
    w.exit("spool", ExitStatus::Code(0));
    let mta = w.pids["mta"];
    w.tell("mail", "runmore");
    assert_eq!(w.pids["mta"], mta);
    assert_eq!(w.spawned_tags(), ["spool", "cf", "mta", "extra"], "completed entries do not re-run");
    assert!(w.signals().is_empty());
    w.tell("mail", "run");
    assert_eq!(w.signals(), [(w.pids["extra"], StopSignal::Int)]);
    assert_eq!(w.group_state("mail"), GroupState::Stopping);
    w.obey_signals();
    assert_eq!(w.group_state("mail"), GroupState::Done);
    assert_eq!(w.pids["mta"], mta);
}

#[test]
fn switching_away_and_back_runs_once_and_wait_again() {
    let mut w = World::new(TAB);
    w.tell("mail", "run");
    w.exit("spool", ExitStatus::Code(0));
    w.exit("cf", ExitStatus::Code(0));
    w.tell("mail", "0");
    w.obey_signals();
    assert_eq!(w.group_state("mail"), GroupState::Done);
    assert_eq!(w.proc_state("spool"), ProcessState::NotStarted, "record forgotten");
    w.tell("mail", "run");
    assert_eq!(w.spawned_tags().iter().filter(|t| *t == "spool").count(), 2);
}

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
fn test_entries_decide_passed_failed_done() {
    let mut w = World::new(TAB);
    w.tell("web", "2");
    w.exit("probe", ExitStatus::Code(0));
    w.exit("probe2", ExitStatus::Code(0));
    assert_eq!(w.group_state("web"), GroupState::Passed);
    w.tell("web", "1");
    assert_eq!(w.group_state("web"), GroupState::Passed, "completed tests are not re-run");
    w.tell("web", "0");
    w.tell("web", "1");
    w.exit("probe", ExitStatus::Code(3));
    assert_eq!(w.proc_state("probe"), ProcessState::Fail);
    assert_eq!(w.spawned_tags().iter().filter(|t| *t == "probe2").count(), 2, "a failed test does not stop the start");
    w.exit("probe2", ExitStatus::Code(0));
    assert_eq!(w.group_state("web"), GroupState::Failed);
    w.tell("web", "nothing-here");
    assert_eq!(w.group_state("web"), GroupState::Done, "a level with no entries ends DONE");
}

#[test]
fn a_newer_tell_takes_over_a_running_switch() {
    let mut w = World::new("g:slow:a:wait:sleep 2\ng:after:a:once:x\ng:b1:b:once:y\n");
    w.tell("g", "a");
    assert_eq!(w.group_state("g"), GroupState::Starting);
    w.tell("g", "b");
    assert_eq!(w.group_state("g"), GroupState::Stopping);
    w.obey_signals();
    assert_eq!(w.spawned_tags(), ["slow", "b1"], "`after` never starts");
    assert_eq!(w.group_state("g"), GroupState::Done);
    assert_eq!(w.sup.groups()[0].level.as_deref(), Some("b"));
}

#[test]
fn unknown_groups_and_bad_levels_are_refused() {
    let mut w = World::new(TAB);
    let e = w.sup.tell(w.now, "nope", "run").unwrap_err();
    assert_eq!(e.message, "no such group: nope");
    assert_eq!(w.sup.tell(w.now, "mail", "a:b").unwrap_err().kind, ErrorKind::Rejected);
    assert!(w.sup.plan(&tab(TAB), "nope", "run").error.is_some());
}

#[test]
fn plan_lists_stop_keep_start_done() {
    let mut w = World::new(TAB);
    w.tell("mail", "runmore");
    w.exit("spool", ExitStatus::Code(0));
    w.exit("cf", ExitStatus::Code(0));
    let plan = w.sup.plan(w.sup.config(), "mail", "run");
    assert_eq!(plan.stop, ["extra"]);
    assert_eq!(plan.keep, ["mta"]);
    assert!(plan.start.is_empty());
    assert_eq!(plan.done, ["spool", "cf"]);
}

#[test]
fn reload_stops_removed_and_changed_entries_and_starts_new_ones() {
    let mut w = World::new(TAB);
    w.tell("mail", "runmore");
    w.exit("spool", ExitStatus::Code(0));
    let mta = w.pids["mta"];
    let extra = w.pids["extra"];
    let newer = TAB
        .replace(
            "mail:extra:runmore:respawn:queue-runner\n",
            "mail:extra:runmore:respawn:queue-runner -v\nmail:new:runmore:once:hello\n",
        )
        .replace("web:probe2:12:test:check-net\n", "");
    w.sup.reload(w.now, tab(&newer)).expect("reload");
    w.settle();
    assert_eq!(w.signals(), [(extra, StopSignal::Int)], "changed command restarts; mta untouched");
    w.obey_signals();
    assert_eq!(w.pids["mta"], mta);
    assert_ne!(w.pids["extra"], extra);
    assert!(w.spawned_tags().contains(&"new".to_string()));
}

#[test]
fn removed_groups_are_stopped_then_forgotten() {
    let mut w = World::new(TAB);
    w.tell("mail", "run");
    w.exit("spool", ExitStatus::Code(0));
    w.sup.reload(w.now, tab("web:probe:1:test:x\n")).expect("reload");
    w.settle();
    assert!(w.sup.groups().iter().any(|g| g.name == "mail" && !g.in_file), "kept while stopping");
    w.obey_signals();
    assert!(w.sup.groups().iter().all(|g| g.name != "mail"));
    assert!(w.log.contains(&Effect::Publish(Event::GroupRemoved { name: "mail".into() })));
}

#[test]
fn off_entries_are_stopped_and_never_started() {
    let mut w = World::new(TAB);
    w.tell("mail", "run");
    w.exit("spool", ExitStatus::Code(0));
    let mta = w.pids["mta"];
    w.sup.reload(w.now, tab(&TAB.replace("mail:mta:run,runmore:respawn", "mail:mta:run,runmore:off"))).expect("reload");
    w.settle();
    assert!(w.signals().contains(&(mta, StopSignal::Int)));
    w.obey_signals();
    assert_eq!(w.proc_state("mta"), ProcessState::Off);
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
fn every_change_is_published_in_order() {
    let mut w = World::new(TAB);
    w.log.clear();
    w.tell("web", "1");
    let groups: Vec<GroupState> = w
        .log
        .iter()
        .filter_map(|e| match e {
            Effect::Publish(Event::Group(g)) if g.name == "web" => Some(g.state),
            _ => None,
        })
        .collect();
    assert_eq!(groups.last(), Some(&GroupState::Starting));
    assert!(w.log.contains(&Effect::WriteStatus));
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
