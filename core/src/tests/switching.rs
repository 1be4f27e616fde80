//! Tells, levels, plans and reloads (SPEC §3, §6 reload).

use super::*;

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
fn an_entry_moved_to_another_group_at_its_level_starts_there() {
    // Defect 3a: the new group's start skipped the tag while the old
    // group's record was stopping, and forgetting it advanced only the old
    // group. Both orders of the groups' names are covered: `a` re-applies
    // its level before `b`, and `z` after it.
    for old in ["a", "z"] {
        let mut w = World::new(&format!("{old}:x:1:respawn:x\n{old}:keep:1:respawn:k\nb:y:1:respawn:y\n"));
        w.tell(old, "1");
        w.tell("b", "1");
        let x = w.pids["x"];
        w.sup
            .reload(w.now, tab(&format!("{old}:keep:1:respawn:k\nb:y:1:respawn:y\nb:x:1:respawn:x\n")))
            .expect("reload");
        w.settle();
        assert_eq!(w.signals(), [(x, StopSignal::Int)], "x leaves {old}");
        w.obey_signals();
        assert_eq!(w.spawned_tags().iter().filter(|t| *t == "x").count(), 2, "x starts again in b (from {old})");
        assert_ne!(w.pids["x"], x);
        assert_eq!(w.proc_state("x"), ProcessState::Running);
        assert_eq!(w.sup.processes().iter().find(|p| p.tag == "x").map(|p| p.group.as_str()), Some("b"));
        assert_eq!(w.group_state("b"), GroupState::Done);
        assert_eq!(w.group_state(old), GroupState::Done);
    }
}

#[test]
fn an_exited_entry_moved_to_another_group_runs_there() {
    // A record with nothing left running is forgotten during the reload
    // itself, possibly after the new group has already passed over it.
    let mut w = World::new("z:x:1:once:x\nb:y:1:respawn:y\n");
    w.tell("z", "1");
    w.tell("b", "1");
    w.exit("x", ExitStatus::Code(0));
    w.sup.reload(w.now, tab("b:y:1:respawn:y\nb:x:1:once:x\n")).expect("reload");
    w.settle();
    assert_eq!(w.spawned_tags().iter().filter(|t| *t == "x").count(), 2, "x runs again in b");
    assert_eq!(w.group_state("b"), GroupState::Done);
}

/// What a held socket's life follows (SPEC §17): the entry is wanted
/// while its group's told level includes it, through a switch that keeps
/// it, and no longer once the group leaves that level or the daemon halts.
#[test]
fn an_entry_is_wanted_while_its_level_includes_it() {
    let mut w = World::new(TAB);
    assert!(!w.sup.wants("mta"), "not before the first tell");
    w.tell("mail", "run");
    assert!(w.sup.wants("mta") && !w.sup.wants("extra") && !w.sup.wants("nosuch"));
    w.tell("mail", "runmore");
    assert!(w.sup.wants("mta") && w.sup.wants("extra"), "kept across a switch that keeps it");
    w.tell("mail", "run");
    assert!(w.sup.wants("mta") && !w.sup.wants("extra"), "left its level");
    w.sup.shutdown(w.now);
    assert!(!w.sup.wants("mta"), "shutting down");
}
