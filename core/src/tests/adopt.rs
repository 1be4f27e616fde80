//! Restoring a state file and adopting what a previous daemon left
//! running (SPEC §10), and only that (SPEC §15): the process it recorded,
//! by pid and exact start time, of the daemon's children's user, in the
//! entry's cgroup where cgroups are used.

use super::super::adopt::{Orphan, Ran, SavedLevel};
use super::super::group_phase::GroupPhase;
use super::super::process::Phase;
use super::super::snapshot::group_state;
use super::super::{Effect, Now, Supervisor, Timing};
use isinit_shared::config::{Entry, Inittab};
use isinit_shared::protocol::{ExitStatus, GroupState};
use std::path::{Path, PathBuf};

const TAB: &str = "g:r:1:respawn:sleep 1\ng:o:1:once:true\ng:n:1:respawn:sleep 2\ng:x:2:respawn:sleep 3\n";

/// Start time (clock ticks since boot) the state file recorded for r.
const R_TICKS: u64 = 7_000_123;

fn tab() -> Inittab {
    Inittab::from_bytes(Path::new("/t"), TAB.as_bytes()).unwrap()
}

fn no_cgroups(_: &Entry) -> Option<PathBuf> {
    None
}

fn spawned_tags(s: &mut Supervisor) -> Vec<String> {
    s.take_effects()
        .into_iter()
        .filter_map(|e| match e {
            Effect::Spawn(req) => Some(req.tag),
            _ => None,
        })
        .collect()
}

fn mark(tab: &Inittab, tag: &str) -> Option<String> {
    Some(Supervisor::entry_mark(tab.entry(tag).unwrap()))
}

/// An orphan of ours, as `/proc` shows one.
fn orphan(pid: i32, pgid: i32, mark: Option<String>, start_ticks: u64, started_at_ms: u64) -> Orphan {
    Orphan { pid, pgid, mark, started_at_ms, start_ticks, own_uid: true, cgroup: None }
}

fn ran(tag: &str, finished: bool, pid: Option<i32>, start_ticks: Option<u64>) -> Ran {
    Ran { tag: tag.into(), finished, last_exit: None, started_at_ms: None, respawns: 0, pid, start_ticks }
}

/// Level 1 of group g, settled, with r recorded running as pid 10.
fn saved_r(pid: Option<i32>, start_ticks: Option<u64>) -> Vec<SavedLevel> {
    vec![SavedLevel {
        group: "g".into(),
        level: "1".into(),
        settled: Some(GroupState::Done),
        ran: vec![ran("o", true, None, None), Ran { respawns: 4, ..ran("r", false, pid, start_ticks) }],
        owner: None,
    }]
}

#[test]
fn restore_adopts_recorded_leaders_and_starts_only_what_is_missing() {
    let tab = tab();
    let now = Now::real();
    let mut s = Supervisor::new(tab.clone(), Timing::default(), now);
    let orphans = [
        orphan(10, 10, mark(&tab, "r"), R_TICKS, now.wall_ms - 5000),
        // A background job of r: same group, not the leader.
        orphan(11, 10, mark(&tab, "r"), R_TICKS + 1, now.wall_ms),
        // x is not in level 1; a stale mark matches nothing.
        orphan(20, 20, mark(&tab, "x"), 1, now.wall_ms),
        orphan(30, 30, Some("0000".into()), 1, now.wall_ms),
    ];
    let adopted = s.restore(now, &saved_r(Some(10), Some(R_TICKS)), &orphans, &no_cgroups);
    assert_eq!(adopted, vec![10]);
    assert_eq!(spawned_tags(&mut s), vec!["n".to_string()], "only the missing respawn starts; once is not re-run");
    let r = &s.procs["r"];
    assert!(r.adopted && r.pid == Some(10) && r.respawns == 4 && r.started_at_ms == Some(now.wall_ms - 5000));
    assert_eq!(s.procs["o"].phase, Phase::Exited);
    assert_eq!(group_state(&s.groups["g"].phase), GroupState::Done);
    assert_eq!(s.adopted_pids(), vec![10]);

    // The adopted process is recorded again, so that a second restart
    // adopts it too.
    let again = s.saved_levels();
    let r = again[0].ran.iter().find(|r| r.tag == "r").unwrap();
    assert_eq!((r.pid, r.start_ticks), (Some(10), Some(R_TICKS)));

    // The once entry's double-forked daemon, found in its cgroup, is
    // kept as the record's and stopped when the group leaves level 1.
    assert!(s.keep_lingering("o", 40));
    assert!(!s.keep_lingering("x", 50), "x has no record at level 1: a stray");
    // A respawn entry starting anew (its old run not recorded): keeping
    // the old process as well would run it twice.
    assert!(!s.keep_lingering("n", 60), "n runs a process of its own: a stray");
    s.tell(now, "g", "2").expect("tell");
    let signalled: Vec<i32> = s
        .take_effects()
        .into_iter()
        .filter_map(|e| match e {
            Effect::Signal { pgid, .. } => Some(pgid),
            _ => None,
        })
        .collect();
    assert!(signalled.contains(&40) && signalled.contains(&10), "{signalled:?}");
}

/// Every way a process carrying r's marks can fail to be the one the
/// state file recorded: none of them is adopted, r starts anew, and the
/// process is left to the caller to stop (or, of another user, to leave).
#[test]
fn only_the_recorded_process_is_adopted() {
    let tab = tab();
    let now = Now::real();
    let r_mark = mark(&tab, "r");
    let r_cgroup = PathBuf::from("/cg/g/r");
    let good = Orphan { cgroup: Some(r_cgroup.clone()), ..orphan(10, 10, r_mark.clone(), R_TICKS, now.wall_ms) };
    let cases: Vec<(&str, Vec<SavedLevel>, Orphan)> = vec![
        (
            "wrong start time: the pid taken again",
            saved_r(Some(10), Some(R_TICKS)),
            Orphan { start_ticks: R_TICKS + 1, ..good.clone() },
        ),
        ("wrong pid", saved_r(Some(10), Some(R_TICKS)), Orphan { pid: 12, pgid: 12, ..good.clone() }),
        ("no record: a file of an older daemon", saved_r(None, None), good.clone()),
        ("a pid without a start time", saved_r(Some(10), None), good.clone()),
        ("another user's", saved_r(Some(10), Some(R_TICKS)), Orphan { own_uid: false, ..good.clone() }),
        ("outside the entry's cgroup", saved_r(Some(10), Some(R_TICKS)), Orphan { cgroup: None, ..good.clone() }),
        (
            "in another entry's cgroup",
            saved_r(Some(10), Some(R_TICKS)),
            Orphan { cgroup: Some("/cg/g/n".into()), ..good.clone() },
        ),
        ("not its group's leader", saved_r(Some(10), Some(R_TICKS)), Orphan { pgid: 9, ..good.clone() }),
        ("the entry changed", saved_r(Some(10), Some(R_TICKS)), Orphan { mark: mark(&tab, "n"), ..good.clone() }),
    ];
    let cgroup_of = |e: &Entry| Some(PathBuf::from(format!("/cg/{}/{}", e.group, e.tag)));
    for (why, saved, o) in cases {
        let mut s = Supervisor::new(tab.clone(), Timing::default(), now);
        assert!(s.restore(now, &saved, &[o], &cgroup_of).is_empty(), "{why}: adopted");
        assert!(spawned_tags(&mut s).contains(&"r".to_string()), "{why}: r not started anew");
        assert!(s.adopted_pids().is_empty(), "{why}");
    }
    // And the exact one is.
    let mut s = Supervisor::new(tab.clone(), Timing::default(), now);
    assert_eq!(s.restore(now, &saved_r(Some(10), Some(R_TICKS)), &[good], &cgroup_of), vec![10]);
    assert!(!spawned_tags(&mut s).contains(&"r".to_string()));
}

/// Of two processes carrying the same marks, the recorded one is adopted
/// whichever `/proc` lists first (the report: a planted copy was adopted
/// and the real one stopped as a leftover).
#[test]
fn a_planted_copy_listed_first_does_not_take_the_real_ones_place() {
    let tab = tab();
    let now = Now::real();
    let planted = orphan(5, 5, mark(&tab, "r"), R_TICKS + 50, now.wall_ms);
    let real = orphan(10, 10, mark(&tab, "r"), R_TICKS, now.wall_ms);
    let mut s = Supervisor::new(tab, Timing::default(), now);
    assert_eq!(s.restore(now, &saved_r(Some(10), Some(R_TICKS)), &[planted, real], &no_cgroups), vec![10]);
    assert_eq!(s.procs["r"].pid, Some(10));
}

#[test]
fn the_state_file_records_the_running_leader_and_its_start_time() {
    let tab = tab();
    let now = Now::real();
    let mut s = Supervisor::new(tab, Timing::default(), now);
    s.tell(now, "g", "1").expect("tell");
    for (i, tag) in spawned_tags(&mut s).iter().enumerate() {
        s.spawned(now, tag, Ok(100 + i as i32)); // r first
    }
    let r_of = |s: &Supervisor| s.saved_levels()[0].ran.iter().find(|r| r.tag == "r").cloned().unwrap();
    assert_eq!((r_of(&s).pid, r_of(&s).start_ticks), (Some(100), None), "no start time read yet");
    s.note_start_ticks("r", 99, 5); // another run's: ignored
    s.note_start_ticks("r", 100, 555);
    assert_eq!((r_of(&s).pid, r_of(&s).start_ticks), (Some(100), Some(555)));
    // Exited and restarted: the old start time goes with the old pid.
    s.child_exited(now, 100, ExitStatus::Code(1));
    let r = r_of(&s);
    assert_eq!((r.pid, r.start_ticks), (None, None));
}

#[test]
fn a_group_that_was_switching_runs_its_start_phase_again() {
    let now = Now::real();
    let mut s = Supervisor::new(tab(), Timing::default(), now);
    let saved = [SavedLevel { group: "g".into(), level: "1".into(), settled: None, ran: vec![], owner: None }];
    assert!(s.restore(now, &saved, &[], &no_cgroups).is_empty());
    assert_eq!(spawned_tags(&mut s), ["r", "o", "n"].map(String::from));
    assert!(matches!(s.groups["g"].phase, GroupPhase::Starting { .. } | GroupPhase::Settled(_)));
}

#[test]
fn marks_differ_by_group_tag_mode_and_command() {
    let tab = Inittab::from_bytes(Path::new("/t"), b"g:a:1:respawn:x\ng:b:1:respawn:x\nh:c:1:once:x\nh:d:1:once:y\n")
        .unwrap();
    let marks: std::collections::BTreeSet<String> = tab.entries.iter().map(|e| Supervisor::entry_mark(e)).collect();
    assert_eq!(marks.len(), 4);
}
