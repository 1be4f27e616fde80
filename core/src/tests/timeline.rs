//! The timeline of a group's last switch (SPEC §19, `isinit analyze`).

use super::*;
use isinit_shared::protocol::timeline::{critical_chain, waited_on};
use isinit_shared::protocol::{StepAction, SwitchStep};

fn step<'a>(t: &'a isinit_shared::protocol::SwitchTimeline, tag: &str) -> &'a SwitchStep {
    t.steps.iter().find(|s| s.tag == tag).unwrap_or_else(|| panic!("no step of {tag}: {t:#?}"))
}

#[test]
fn a_switch_records_each_start_with_its_times_and_what_held_it() {
    let mut w = World::new(TAB);
    assert_eq!(w.sup.last_switch("mail"), None, "no tell yet");
    w.tell("mail", "runmore");
    w.advance(Duration::from_millis(300));
    w.exit("spool", ExitStatus::Code(0));
    w.advance(Duration::from_millis(200));
    w.exit("cf", ExitStatus::Code(1));

    let t = w.sup.last_switch("mail").expect("a timeline");
    assert_eq!((t.group.as_str(), t.level.as_str()), ("mail", "runmore"));
    let tags: Vec<&str> = t.steps.iter().map(|s| s.tag.as_str()).collect();
    assert_eq!(tags, ["spool", "cf", "mta", "extra"], "in the order they began");
    let spool = step(&t, "spool");
    assert_eq!((spool.began_us, spool.spawned_us, spool.ended_us), (0, Some(0), Some(300_000)));
    let cf = step(&t, "cf");
    assert_eq!((cf.began_us, cf.ended_us, cf.exit), (300_000, Some(500_000), Some(ExitStatus::Code(1))));
    assert_eq!(step(&t, "mta").ended_us, None, "still running");
    assert_eq!(t.finished_us, Some(300_000), "DONE once the wait exited");
    assert_eq!(t.result, Some(GroupState::Done));
    assert_eq!(waited_on(&t), [None, Some(0), Some(0), Some(0)]);
    assert_eq!(critical_chain(&t).first(), Some(&0));
}

#[test]
fn a_new_tell_replaces_the_timeline_and_records_its_stops() {
    let mut w = World::new(TAB);
    w.tell("mail", "runmore");
    w.exit("spool", ExitStatus::Code(0));
    w.tell("mail", "run");
    w.advance(Duration::from_millis(40));
    w.obey_signals();
    let t = w.sup.last_switch("mail").expect("a timeline");
    assert_eq!(t.level, "run");
    assert_eq!(t.steps.len(), 1, "only extra stops; the rest is kept: {t:#?}");
    let extra = step(&t, "extra");
    assert_eq!((extra.action, extra.began_us, extra.ended_us), (StepAction::Stop, 0, Some(40_000)));
    assert_eq!(t.finished_us, Some(40_000));
    // A respawn after the switch adds no step.
    w.exit("mta", ExitStatus::Code(0));
    assert_eq!(w.sup.last_switch("mail").expect("kept").steps.len(), 1);
    assert_eq!(w.sup.last_switch("web"), None, "other groups are never affected");
}
