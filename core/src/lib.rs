//! The heart of isinit: the resource-group and process state machines.
//!
//! [`Supervisor`] is plain data plus transition methods. Every method takes
//! the current time and returns nothing; the consequences accumulate as
//! [`Effect`]s, collected with [`Supervisor::take_effects`] and carried out
//! by the runtime (`crate::runtime`), which owns the only task that touches
//! this state. Nothing here forks, signals, sleeps or reads a clock, so the
//! unit tests drive whole scenarios — tells, exits, throttles, escalations —
//! with no process at all.

mod actions;
mod adopt;
mod effects;
mod group;
mod group_phase;
mod handover;
mod health;
mod lifecycle;
mod mainpid;
mod owner;
mod process;
mod readiness;
mod snapshot;
mod timeline;
mod timers;
mod timing;
mod watchdog;

#[cfg(test)]
mod tests;

pub use actions::{AfterStop, StartProgress, StartTicket};
pub use adopt::{Orphan, Ran, SavedChanges, SavedLevel};
pub use effects::{Effect, SpawnRequest, StopSignal};
pub use handover::SupervisorState;
pub use health::{FIRST_CHECK_AFTER, ProbeRecord, ProbeRequest};
pub use readiness::{Accepted, NotifyMessage, Refusal, Sender};
pub use timing::{Now, Timing};
pub use watchdog::WatchdogNote;

use group_phase::{GroupEvent, GroupPhase};

use isinit_shared::config::{Inittab, Mode, valid_level};
use isinit_shared::protocol::{ErrorKind, ErrorReply, ExitRecord};
use isinit_shared::time::UnixMillis;
use process::Proc;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::Instant;
use timers::Timers;

/// One resource group's supervision state.
#[derive(Debug, Clone)]
struct Group {
    /// The level last told; `None` until the first tell.
    level: Option<String>,
    /// Where the group is in a switch; changed only by [`Supervisor::step`].
    phase: GroupPhase,
    /// When the phase last showed a different state.
    since_ms: UnixMillis,
    /// False once the group is gone from the file (kept while its
    /// processes stop).
    in_file: bool,
    /// The cluster manager's resource that told it (SPEC §18).
    owner: Option<isinit_shared::protocol::Owner>,
}

/// The supervisor's whole state. See the module documentation.
pub struct Supervisor {
    config: Inittab,
    timing: Timing,
    groups: BTreeMap<String, Group>,
    /// Boxed: a record is some 300 bytes and a B-tree node has room for
    /// eleven whether it holds them or not; nodes of pointers waste little
    /// (issue 22: 650 → 360 kB at 950 entries).
    procs: BTreeMap<String, Box<Proc>>,
    /// Past exits per tag; outlives the process record so an operator can
    /// still see why something stopped.
    exits: HashMap<String, VecDeque<ExitRecord>>,
    timers: Timers,
    /// Leader pid → the tag whose record it is (checked against the
    /// record on use): a reaped child is found without a scan of every
    /// record (issue 22).
    by_pid: HashMap<i32, String>,
    /// Group → the tags of its records: what a tell, a stop or the state
    /// file looks at for one group, without a scan of every record.
    members: HashMap<String, BTreeSet<String>>,
    /// Each group's suggested levels ([`Inittab::suggested_levels`]),
    /// worked out in one pass over the file when it is adopted: a group's
    /// row is published on every change of its state, and a snapshot has
    /// every group's, so a scan of the whole file per row made `status`
    /// quadratic (issue 22).
    levels: HashMap<String, Vec<String>>,
    halting: bool,
    effects: Vec<Effect>,
    dirty_groups: BTreeSet<String>,
    dirty_procs: BTreeSet<String>,
    status_dirty: bool,
    /// Groups whose state-file line may have changed since the last
    /// [`Supervisor::saved_changes`].
    saved_dirty: BTreeSet<String>,
    /// Every group's line must be handed over (at start, after a reload).
    saved_all: bool,
    /// Records [`Supervisor::sweep`] must look at again: those with a
    /// process group beside their leader's, and those changed since.
    sweep_due: BTreeSet<String>,
    /// Every record must be swept (at start, after a restore).
    sweep_all: bool,
    /// Tags that may send readiness or watchdog datagrams: entries of the
    /// file in `notify` mode or with a `:::watchdog:`, and `notify`
    /// records (a superset; see [`Supervisor::notify_leaders`]).
    notified_tags: BTreeSet<String>,
    /// What left the records since [`Supervisor::take_dropped`], for the
    /// runtime's cgroup bookkeeping.
    dropped: Dropped,
    /// Each group's last switch, for `isinit analyze` (`timeline.rs`).
    timelines: BTreeMap<String, timeline::Recorded>,
}

impl Supervisor {
    /// A supervisor for `config` with every group `CONFIGURED` (SPEC §6: at
    /// start no group runs until told).
    pub fn new(config: Inittab, timing: Timing, now: Now) -> Supervisor {
        let mut s = Supervisor {
            config,
            timing,
            groups: BTreeMap::new(),
            procs: BTreeMap::new(),
            exits: HashMap::new(),
            timers: Timers::default(),
            by_pid: HashMap::new(),
            members: HashMap::new(),
            levels: HashMap::new(),
            halting: false,
            effects: Vec::new(),
            dirty_groups: BTreeSet::new(),
            dirty_procs: BTreeSet::new(),
            status_dirty: true,
            saved_dirty: BTreeSet::new(),
            saved_all: true,
            sweep_due: BTreeSet::new(),
            sweep_all: true,
            dropped: Dropped { all: true, ..Dropped::default() },
            notified_tags: BTreeSet::new(),
            timelines: BTreeMap::new(),
        };
        s.sync_groups(now);
        s
    }

    /// The isinittab in force.
    pub fn config(&self) -> &Inittab {
        &self.config
    }

    /// Whether shutdown has begun.
    pub fn is_halting(&self) -> bool {
        self.halting
    }

    /// When the runtime must next call [`Supervisor::fire_timers`].
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    /// Whether `tag` names an entry of the file or a process still being
    /// stopped: what `logs` may ask about.
    pub fn knows_tag(&self, tag: &str) -> bool {
        self.config.entry(tag).is_some() || self.procs.contains_key(tag)
    }

    /// Every tag [`Supervisor::knows_tag`] accepts: whose output is captured.
    pub fn known_tags(&self) -> BTreeSet<String> {
        self.config.entries.iter().map(|e| e.tag.clone()).chain(self.procs.keys().cloned()).collect()
    }

    /// Whether the entry `tag` belongs to the level its group was last told
    /// and the daemon is not shutting down: while it does, what the daemon
    /// holds for it (its `:::listen:` sockets, SPEC §17) stays open, even
    /// between two of its processes.
    pub fn wants(&self, tag: &str) -> bool {
        let Some(entry) = self.config.entry(tag) else { return false };
        let level = self.groups.get(&entry.group).and_then(|g| g.level.as_deref());
        !self.halting && level.is_some_and(|l| entry.in_level(l))
    }

    /// Why a tell of `group` to `level` under `config` cannot be accepted
    /// (SPEC §1 level labels, §3.2 unknown groups), if it cannot.
    fn refuse_tell(&self, config: &Inittab, group: &str, level: &str) -> Option<ErrorReply> {
        if !valid_level(level) {
            return Some(ErrorReply::new(
                ErrorKind::Rejected,
                format!("invalid level `{level}`: must be non-empty, without `:`, `,` or whitespace"),
            ));
        }
        let running = self.records_of(group).any(|(_, p)| p.has_live_processes());
        if config.entries_of(group).next().is_none() && !running {
            return Some(ErrorReply::new(ErrorKind::NoSuchGroup, format!("no such group: {group}")));
        }
        None
    }

    /// Groups of the file get a record; groups neither in the file nor
    /// running lose theirs.
    fn sync_groups(&mut self, now: Now) {
        let config = &self.config;
        let of_file = config.entries.iter().filter(|e| e.mode == Mode::Notify || config.watchdog_of(&e.tag).is_some());
        let of_records = self.procs.iter().filter(|(_, p)| p.entry.mode == Mode::Notify);
        self.notified_tags = of_file.map(|e| e.tag.clone()).chain(of_records.map(|(tag, _)| tag.clone())).collect();
        self.saved_all = true;
        self.dropped.all = true;
        self.levels = suggested_levels(&self.config);
        let in_file: BTreeSet<String> = self.config.groups().into_iter().map(String::from).collect();
        for name in &in_file {
            let g = self.groups.entry(name.clone()).or_insert_with(|| Group {
                level: None,
                phase: GroupPhase::Configured,
                since_ms: now.wall_ms,
                in_file: true,
                owner: None,
            });
            g.in_file = true;
            self.dirty_groups.insert(name.clone());
        }
        let gone: Vec<String> = self.groups.keys().filter(|n| !in_file.contains(*n)).cloned().collect();
        for name in gone {
            if let Some(g) = self.groups.get_mut(&name) {
                g.in_file = false;
            }
            self.dirty_groups.insert(name);
        }
        self.status_dirty = true;
    }

    /// Feeds `event` to the group's phase through the one transition
    /// function ([`group_phase::next`]); returns whether it applied.
    fn step(&mut self, name: &str, event: GroupEvent, now: Now) -> bool {
        let Some(g) = self.groups.get_mut(name) else { return false };
        let Some(phase) = group_phase::next(&g.phase, &event) else { return false };
        if !g.phase.same_state(&phase) {
            g.since_ms = now.wall_ms;
            self.dirty_groups.insert(name.to_string());
            self.status_dirty = true;
        }
        g.phase = phase;
        true
    }

    /// Records `p` under `tag` and in its group's members.
    fn insert_record(&mut self, tag: String, p: Proc) {
        if p.entry.mode == Mode::Notify {
            self.notified_tags.insert(tag.clone());
        }
        self.members.entry(p.entry.group.clone()).or_default().insert(tag.clone());
        self.procs.insert(tag, Box::new(p));
    }

    /// The records of `group`, in tag order.
    fn records_of<'a>(&'a self, group: &'a str) -> impl Iterator<Item = (&'a String, &'a Proc)> + 'a {
        let tags = self.members.get(group).into_iter().flatten();
        tags.filter_map(|t| self.procs.get_key_value(t))
            .map(|(t, p)| (t, &**p))
            .filter(move |(_, p)| p.entry.group == group)
    }

    fn log(&mut self, line: String) {
        self.effects.push(Effect::Log(line));
    }

    /// What left the records since the last call: process groups found
    /// empty and records forgotten — or `all`, after a change that can
    /// touch any (start, reload, restore). The runtime forgets their
    /// cgroups' bookkeeping without a pass over every record (issue 22).
    /// Without that bookkeeping (`tracking` false) the lists are emptied
    /// and `all` is kept for when there is.
    pub fn take_dropped(&mut self, tracking: bool) -> Dropped {
        if tracking {
            return std::mem::take(&mut self.dropped);
        }
        self.dropped.pgids.clear();
        self.dropped.forgotten.clear();
        Dropped::default()
    }

    /// Whether `pid` is the leader of a record.
    pub fn is_leader(&self, pid: i32) -> bool {
        self.by_pid.get(&pid).is_some_and(|tag| self.procs.get(tag).is_some_and(|p| p.pid == Some(pid)))
    }

    /// Returns the effects accumulated since the last call, followed by one
    /// publish per changed group and process.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        self.flush_changes();
        std::mem::take(&mut self.effects)
    }
}

/// What left the records ([`Supervisor::take_dropped`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dropped {
    /// Anything may have: look at every record.
    pub all: bool,
    /// Process groups no record has any more.
    pub pgids: Vec<i32>,
    /// Records forgotten: (group, tag).
    pub forgotten: Vec<(String, String)>,
}

/// [`Inittab::suggested_levels`] of every group, in one pass over the file.
fn suggested_levels(config: &Inittab) -> HashMap<String, Vec<String>> {
    let mut levels: HashMap<String, Vec<String>> = HashMap::new();
    for e in config.entries.iter().filter(|e| e.mode != isinit_shared::config::Mode::Off) {
        let seen = levels.entry(e.group.clone()).or_default();
        for l in e.levels.suggestions() {
            if !seen.iter().any(|s| s == l) {
                seen.push(l.to_string());
            }
        }
    }
    levels
}
