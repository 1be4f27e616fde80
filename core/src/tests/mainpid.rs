//! `MAINPID=` (SPEC §17): once a run names its main process, that process
//! is the entry's — the old leader leaving is no exit, the main process's
//! exit is — and its datagrams, deadlines and stop signals follow it.

use super::*;
use crate::readiness::{NotifyMessage, Sender};

const TAB: &str = "g:web:1:notify:nginx\n";

impl World {
    fn main_row(&self, tag: &str) -> isinit_shared::protocol::ProcessStatus {
        self.sup.processes().into_iter().find(|p| p.tag == tag).expect("process")
    }

    /// A datagram from `pid` in process group `pgid`.
    fn says(&mut self, pid: i32, pgid: i32, text: &str) -> bool {
        let ok = self.sup.notified(self.now, Sender { pid, pgid: Some(pgid) }, &NotifyMessage::parse(text.as_bytes()));
        self.settle();
        ok.is_ok()
    }
}

#[test]
fn the_old_leader_leaving_is_no_exit_and_the_main_process_exit_is() {
    let mut w = World::new(TAB);
    w.tell("g", "1");
    let old = w.pids["web"];
    assert!(w.says(old, old, "READY=1"));
    assert_eq!(w.sup.main_of("web"), Some((old, old)));

    // The new master, forked by the old one, stays in its process group.
    let new = old + 500;
    assert!(w.sup.follow_main_pid("web", new, old));
    assert!(!w.sup.follow_main_pid("web", new, old), "already followed");
    w.settle();
    assert_eq!(w.sup.main_of("web"), Some((new, old)));
    assert_eq!(w.main_row("web").pid, Some(new as u32), "status shows the main process");

    // The old master exits: not the entry's exit.
    assert!(!w.sup.child_exited(w.now, old, ExitStatus::Code(0)));
    w.settle();
    let row = w.main_row("web");
    assert_eq!((row.state, row.pid, row.respawns, row.ready), (ProcessState::Running, Some(new as u32), 0, true));
    assert!(row.recent_exits.is_empty(), "{row:?}");
    assert!(w.says(new, old, "STATUS=serving"), "the group still counts for datagrams");

    // The main process's exit is: a notify entry respawns.
    assert!(w.sup.child_exited(w.now, new, ExitStatus::Signal(9)));
    w.sweep_empty_groups();
    w.settle();
    let row = w.main_row("web");
    assert_eq!(row.respawns, 1, "{row:?}");
    assert_eq!(row.recent_exits.last().map(|e| e.status), Some(ExitStatus::Signal(9)));
    assert_eq!(w.spawned_tags(), ["web", "web"]);
    assert_eq!(w.sup.main_of("web").map(|(pid, group)| pid == group), Some(true), "a new run leads its group");
}

#[test]
fn a_main_process_in_its_own_group_is_signalled_and_heard_there() {
    let mut w = World::new(TAB);
    w.tell("g", "1");
    let old = w.pids["web"];
    let (new, group) = (old + 700, old + 700);
    assert!(w.sup.follow_main_pid("web", new, group));
    assert!(w.sup.notify_leaders().eq([group]), "the reader lets the new group through");
    assert!(w.says(new, group, "READY=1"), "its READY=1 counts");
    assert!(w.main_row("web").ready);
    assert!(!w.says(old, old, "STATUS=x"), "the old group no longer does");
    assert_eq!(w.sup.followed(), [("web".to_string(), group)]);
    assert_eq!(w.sup.followed_pids(), [new]);

    w.sup.tell(w.now, "g", "2").expect("tell");
    w.settle();
    let signalled: HashSet<i32> = w
        .log
        .iter()
        .filter_map(|e| match e {
            Effect::Signal { pgid, .. } => Some(*pgid),
            _ => None,
        })
        .collect();
    assert_eq!(signalled, HashSet::from([old, group]), "both groups are stopped");
}

#[test]
fn deadlines_carry_over_to_the_main_process() {
    let mut w = World::new(TAB);
    w.tell("g", "1");
    let old = w.pids["web"];
    assert!(w.sup.follow_main_pid("web", old + 1, old));
    // Never ready: the readiness deadline still applies, to the new pid.
    w.advance(Timing::default().ready_timeout + Duration::from_secs(1));
    assert_eq!(w.main_row("web").state, ProcessState::Stopping, "{:?}", w.main_row("web"));
}

impl World {
    /// Drops process groups nothing is left in (here: every group whose
    /// leader's exit was fed in by hand).
    fn sweep_empty_groups(&mut self) {
        let alive: HashSet<i32> = self.pids.values().copied().filter(|p| self.alive_groups.contains(p)).collect();
        self.alive_groups = alive.clone();
        self.sup.sweep(self.now, |g| alive.contains(&g));
    }
}
