//! Whole scenarios of the state machine, with no process at all: spawns
//! are answered with made-up pids, exits and empty process groups are fed
//! in by hand, and time is advanced explicitly.
//!
//! This file is the fake world; `switching.rs` covers tells, levels and
//! reloads, `lifecycle.rs` respawn, stopping and shutdown, `actions.rs`
//! restart, retry and signal of one process, `adopt.rs` restoring a state
//! file after a restart, `properties.rs` what must
//! hold after any sequence of them.

mod actions;
mod adopt;
mod health;
mod lifecycle;
mod mainpid;
mod owner;
mod properties;
mod readiness;
mod switching;
mod timeline;

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
