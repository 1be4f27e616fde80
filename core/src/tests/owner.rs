//! Owned groups (SPEC §18): a manager's tell makes a group its own, an
//! operator's tell of it is refused unless forced, the manager's stop
//! ends the ownership, and the ownership survives a state file and a
//! handover.

use super::*;
use isinit_shared::protocol::{Asker, ErrorKind, Owner};

fn pacemaker(release: bool) -> Asker {
    Asker::Manager { owner: Owner::pacemaker("web", "node3"), release }
}

fn owner_shown(w: &World, group: &str) -> Option<String> {
    w.sup.groups().into_iter().find(|g| g.name == group).and_then(|g| g.owner).map(|o| o.to_string())
}

#[test]
fn a_manager_tell_owns_the_group_and_an_operator_tell_is_refused() {
    let mut w = World::new(TAB);
    w.sup.tell_by(w.now, "mail", "run", &pacemaker(false)).expect("the manager's tell");
    w.settle();
    assert_eq!(owner_shown(&w, "mail").as_deref(), Some("pacemaker:web@node3"));
    let spawned = w.spawned_tags().len();

    let refused = w.sup.tell(w.now, "mail", "runmore").expect_err("an operator may not tell an owned group");
    assert_eq!(refused.kind, ErrorKind::Owned);
    assert!(refused.message.contains("pacemaker:web@node3") && refused.message.contains("--force"), "{refused:?}");
    w.settle();
    assert_eq!(w.sup.groups().iter().find(|g| g.name == "mail").and_then(|g| g.level.clone()).as_deref(), Some("run"));
    assert_eq!(w.spawned_tags().len(), spawned, "a refused tell starts nothing");
    // Other groups are nobody's.
    w.tell("web", "1");
}

#[test]
fn force_overrides_and_keeps_the_owner() {
    let mut w = World::new(TAB);
    w.sup.tell_by(w.now, "mail", "run", &pacemaker(false)).unwrap();
    w.settle();
    w.sup.tell_by(w.now, "mail", "runmore", &Asker::Forced).expect("forced");
    w.settle();
    let level = w.sup.groups().into_iter().find(|g| g.name == "mail").and_then(|g| g.level);
    assert_eq!(level.as_deref(), Some("runmore"), "a forced tell switches");
    assert_eq!(owner_shown(&w, "mail").as_deref(), Some("pacemaker:web@node3"), "the manager still owns it");
}

#[test]
fn the_managers_stop_ends_the_ownership() {
    let mut w = World::new(TAB);
    w.sup.tell_by(w.now, "mail", "run", &pacemaker(false)).unwrap();
    w.settle();
    w.sup.tell_by(w.now, "mail", "0", &pacemaker(true)).unwrap();
    w.settle();
    assert_eq!(owner_shown(&w, "mail"), None);
    w.tell("mail", "run");
}

#[test]
fn the_owner_survives_the_state_file_and_a_handover() {
    let mut w = World::new(TAB);
    w.sup.tell_by(w.now, "mail", "run", &pacemaker(false)).unwrap();
    w.settle();
    let saved = w.sup.saved_levels();
    assert_eq!(saved[0].owner, Some(Owner::pacemaker("web", "node3")));
    let mut again = Supervisor::new(tab(TAB), Timing::default(), w.now);
    again.restore(w.now, &saved, &[], &|_| None);
    assert_eq!(again.owner("mail"), Some(&Owner::pacemaker("web", "node3")));

    let owners = w.sup.owners();
    let mut next = Supervisor::import(tab(TAB), Timing::default(), w.now, w.sup.export(w.now));
    for (group, owner) in owners {
        next.set_owner(&group, Some(owner));
    }
    assert_eq!(next.owner_refusal("mail", &Asker::Operator).map(|r| r.kind), Some(ErrorKind::Owned));
}
