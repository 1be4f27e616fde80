//! The state the daemon shares: a full [`Snapshot`] and the [`Event`]s that
//! change it. The console keeps a snapshot and applies events to it; scripts
//! read the snapshot as JSON from `isinit status --json`.

use super::health::{ExitReason, Health};
use crate::config::Mode;
use crate::time::UnixMillis;
use serde::{Deserialize, Serialize};

/// Everything an operator can see about one daemon.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Snapshot {
    /// Sequence number of the last event folded into this snapshot; the
    /// next [`Update`] carries `seq + 1`.
    pub seq: u64,
    /// The daemon and the file it runs.
    pub daemon: DaemonInfo,
    /// Every known group, sorted by name.
    pub groups: Vec<GroupStatus>,
    /// Every entry of the file in file order (with a record or not), then
    /// processes of removed entries that are still being stopped.
    pub processes: Vec<ProcessStatus>,
    /// The most recent state-changing requests, oldest first.
    pub audit: Vec<AuditRecord>,
    /// The most recent notices (respawn throttles), oldest first, so a
    /// console that connects later still sees what it missed.
    pub notices: Vec<NoticeRecord>,
}

/// Identity of the daemon and the file it runs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DaemonInfo {
    /// The host the daemon runs on.
    pub hostname: String,
    /// The daemon's process id.
    pub pid: u32,
    /// Package version of the daemon binary.
    pub version: String,
    /// The protocol version it speaks.
    pub protocol: u32,
    /// The isinittab in force.
    pub config_path: String,
    /// Hex SHA-256 of that file: equal on every host means the same file.
    pub config_sha256: String,
    /// When the daemon started (its uptime is `now_ms - started_at_ms`).
    pub started_at_ms: UnixMillis,
    /// The daemon's clock when the snapshot was taken, so clients compute
    /// uptimes without trusting their own clock.
    pub now_ms: UnixMillis,
    /// Set once shutdown has begun.
    pub halting: bool,
    /// Tells accepted since the daemon started (dry runs and refused tells
    /// not counted), for the `isinit_tells_total` metric: a sudden rise is
    /// an operator or a script switching levels in a loop.
    pub tells_total: u64,
    /// Connections the control socket is serving as the snapshot is taken
    /// (including the one asking), for `isinit_clients_connected`: creeping
    /// towards the connection limit means some client leaks connections.
    pub clients_connected: u32,
}

/// One resource group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupStatus {
    /// The group's name from the isinittab.
    pub name: String,
    /// The level last told; `None` for a group never told.
    pub level: Option<String>,
    /// Where the group is in its switch.
    pub state: GroupState,
    /// When `state` was entered.
    pub since_ms: UnixMillis,
    /// The levels its entries name, for the console's level picker.
    pub levels: Vec<String>,
    /// False for a group removed from the file whose processes are still
    /// being stopped.
    pub in_file: bool,
    /// The cluster manager's resource that told it (SPEC §18), until that
    /// resource's stop. Appended: bincode orders fields.
    pub owner: Option<super::Owner>,
}

/// Where a group is in its life (SPEC §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupState {
    /// Known, never told.
    Configured,
    /// Stopping the processes the new level does not keep.
    Stopping,
    /// Starting the level's entries in file order.
    Starting,
    /// Every `wait`/`test` of the level exited; not all-test or none failed.
    Done,
    /// Every entry of the level is a `test` and all passed.
    Passed,
    /// A `test` of the level failed.
    Failed,
    /// The daemon is shutting down.
    Halting,
}

impl GroupState {
    /// The upper-case name used in the status file and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupState::Configured => "CONFIGURED",
            GroupState::Stopping => "STOPPING",
            GroupState::Starting => "STARTING",
            GroupState::Done => "DONE",
            GroupState::Passed => "PASSED",
            GroupState::Failed => "FAILED",
            GroupState::Halting => "HALTING",
        }
    }
}

impl std::fmt::Display for GroupState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry's process as the daemon tracks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessStatus {
    /// The resource group of the entry.
    pub group: String,
    /// The entry's unique tag.
    pub tag: String,
    /// How the entry's process is treated.
    pub mode: Mode,
    /// The runlevels field as written.
    pub levels: String,
    /// The command as written (run with `/bin/sh -c`).
    pub command: String,
    /// Where the process is in its life.
    pub state: ProcessState,
    /// Set while a process (leader) is alive.
    pub pid: Option<u32>,
    /// When the current or last run started.
    pub started_at_ms: Option<UnixMillis>,
    /// Restarts since the record was created.
    pub respawns: u32,
    /// How the last run ended.
    pub last_exit: Option<ExitStatus>,
    /// The last ten exits, oldest first.
    pub recent_exits: Vec<ExitRecord>,
    /// While throttled: when the next start will happen.
    pub backoff_until_ms: Option<UnixMillis>,
    /// Why the last start failed, if it did.
    pub start_error: Option<String>,
    /// False for a removed entry whose process is still being stopped.
    pub in_file: bool,
    /// Whether the process counts as up for what follows it: a `notify`
    /// process once it has reported `READY=1` (and until it exits), any
    /// other process while it runs. Appended: bincode orders fields.
    pub ready: bool,
    /// The last `STATUS=` text a `notify` process reported (sd_notify),
    /// control characters removed; cleared when it is started again.
    pub status_text: Option<String>,
    /// What the entry's `:::probe:` says of the current run (SPEC §17);
    /// `None` for an entry without a probe. Appended in version 3.
    pub health: Option<Health>,
    /// Why the last failed check of the current or an earlier run failed
    /// (`connection refused`, `HTTP 500`, `timed out after 2s`…), kept
    /// after the entry is healthy again so an operator sees what happened.
    pub health_reason: Option<String>,
    /// The sockets the daemon holds for the entry (`:::listen:`, SPEC
    /// §17), as `tcp:127.0.0.1:8080`, `tcp6:[::1]:8080` or
    /// `unix:/run/x.sock`, in the order the process gets them (fd 3
    /// first). Appended in version 4.
    pub listen: Vec<String>,
}

/// The state of one process (SPEC §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessState {
    /// No record: not started at the group's level, or the group never told.
    NotStarted,
    /// Alive, started in the background (`once`, `respawn`).
    Running,
    /// Alive in the foreground: a `wait`/`test` the group is waiting for.
    Waiting,
    /// Ran and exited (`once`, `wait`, or a `respawn` between runs).
    Exited,
    /// A `test` that exited 0.
    Pass,
    /// A `test` that exited non-zero or by a signal.
    Fail,
    /// A `respawn` throttled after starting too rapidly.
    Backoff,
    /// Being stopped (SIGINT sent, escalating).
    Stopping,
    /// The command could not be started at all.
    FailedToStart,
    /// The entry's mode is `off`.
    Off,
}

impl ProcessState {
    /// Short lower-case name for tables.
    pub fn as_str(self) -> &'static str {
        match self {
            ProcessState::NotStarted => "not started",
            ProcessState::Running => "running",
            ProcessState::Waiting => "waiting",
            ProcessState::Exited => "exited",
            ProcessState::Pass => "PASS",
            ProcessState::Fail => "FAIL",
            ProcessState::Backoff => "backoff",
            ProcessState::Stopping => "stopping",
            ProcessState::FailedToStart => "failed to start",
            ProcessState::Off => "off",
        }
    }
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitStatus {
    /// Exited with this code.
    Code(i32),
    /// Killed by this signal number.
    Signal(i32),
    /// A process adopted from a previous daemon (after that daemon was
    /// killed) ended: it was not our child, so its exit status cannot be
    /// had. Never a pass.
    Unknown,
    /// Killed (SIGKILL) by the kernel's OOM killer: its cgroup's
    /// `memory.events` counted an `oom_kill` during the run. Seen only
    /// where the entry has a cgroup with the memory controller.
    OomKilled,
}

impl ExitStatus {
    /// Whether this counts as a pass for a `test` entry.
    pub fn success(self) -> bool {
        self == ExitStatus::Code(0)
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitStatus::Code(c) => write!(f, "exit {c}"),
            ExitStatus::Signal(s) => write!(f, "signal {s}"),
            ExitStatus::Unknown => write!(f, "unknown (adopted)"),
            ExitStatus::OomKilled => write!(f, "OOM kill"),
        }
    }
}

/// One past exit of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitRecord {
    /// When the exit was reaped.
    pub at_ms: UnixMillis,
    /// How it ended.
    pub status: ExitStatus,
    /// How long that run lasted.
    pub ran_ms: u64,
    /// Why the daemon stopped it, when the daemon did so because the
    /// process was unhealthy (SPEC §17); `None` for an exit of its own or
    /// a stop an operator asked for. Appended in version 3.
    pub reason: Option<ExitReason>,
}

/// A state-changing request the daemon accepted: the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// When the request was accepted.
    pub at_ms: UnixMillis,
    /// Peer credentials of the client.
    pub uid: u32,
    /// The client's process id, when the kernel reports it.
    pub pid: Option<u32>,
    /// What it asked, e.g. `tell mail run`.
    pub request: String,
}

/// Something the daemon wants an operator to notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeRecord {
    /// When the daemon noticed.
    pub at_ms: UnixMillis,
    /// E.g. `mta respawning too rapidly: sleeping 60 seconds`.
    pub message: String,
}

/// One change on a subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Update {
    /// Increases by one per event; a gap means the client missed events.
    pub seq: u64,
    /// The change.
    pub event: Event,
}

/// What changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Event {
    /// A group was created or changed level or state.
    Group(GroupStatus),
    /// A group left the file and has nothing left running.
    GroupRemoved {
        /// The group that is gone.
        name: String,
    },
    /// A process record was created or changed.
    Process(ProcessStatus),
    /// A removed entry's process is gone; drop the row.
    ProcessRemoved {
        /// The tag whose row is gone.
        tag: String,
    },
    /// A new isinittab was adopted; the row order may have changed, so a
    /// snapshot follows.
    ConfigChanged {
        /// The isinittab now in force.
        path: String,
        /// Its hex SHA-256.
        sha256: String,
    },
    /// A state-changing request was accepted.
    Audit(AuditRecord),
    /// Something an operator should notice, e.g. a respawn throttle.
    Notice {
        /// When the daemon noticed.
        at_ms: UnixMillis,
        /// What to notice.
        message: String,
    },
    /// Shutdown has begun.
    Halting,
}

impl Snapshot {
    /// Folds one event into the snapshot, as a subscriber does.
    ///
    /// Returns false when the event cannot be applied on its own
    /// (`ConfigChanged`): the daemon follows it with a fresh snapshot.
    pub fn apply(&mut self, update: &Update) -> bool {
        self.seq = update.seq;
        match &update.event {
            Event::Group(g) => match self.groups.binary_search_by(|x| x.name.cmp(&g.name)) {
                Ok(i) => self.groups[i] = g.clone(),
                Err(i) => self.groups.insert(i, g.clone()),
            },
            Event::GroupRemoved { name } => self.groups.retain(|g| &g.name != name),
            Event::Process(p) => match self.processes.iter_mut().find(|x| x.tag == p.tag) {
                Some(slot) => *slot = p.clone(),
                None => self.processes.push(p.clone()),
            },
            Event::ProcessRemoved { tag } => self.processes.retain(|p| &p.tag != tag),
            Event::ConfigChanged { path, sha256 } => {
                self.daemon.config_path = path.clone();
                self.daemon.config_sha256 = sha256.clone();
                return false;
            }
            Event::Audit(a) => {
                self.audit.push(a.clone());
                let excess = self.audit.len().saturating_sub(AUDIT_KEPT);
                self.audit.drain(..excess);
            }
            Event::Notice { at_ms, message } => {
                self.notices.push(NoticeRecord { at_ms: *at_ms, message: message.clone() });
                let excess = self.notices.len().saturating_sub(NOTICES_KEPT);
                self.notices.drain(..excess);
            }
            Event::Halting => self.daemon.halting = true,
        }
        true
    }

    /// The group with this name.
    pub fn group(&self, name: &str) -> Option<&GroupStatus> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// The processes of one group, in file order.
    pub fn processes_of<'a>(&'a self, group: &'a str) -> impl Iterator<Item = &'a ProcessStatus> + 'a {
        self.processes.iter().filter(move |p| p.group == group)
    }
}

/// Each group's state, kept from a snapshot and the group events after
/// it: for a consumer of the daemon's events that needs no more of the
/// snapshot than that and a few facts of its own (the daemon's `STATUS=`
/// report, its node-health feed), instead of a mirror of every row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupStates(std::collections::BTreeMap<String, GroupState>);

impl GroupStates {
    /// The groups of `snap`.
    pub fn of(snap: &Snapshot) -> GroupStates {
        GroupStates(snap.groups.iter().map(|g| (g.name.clone(), g.state)).collect())
    }

    /// Folds `event` if it is a group's; false for any other.
    pub fn fold(&mut self, event: &Event) -> bool {
        match event {
            Event::Group(g) => {
                self.0.insert(g.name.clone(), g.state);
            }
            Event::GroupRemoved { name } => {
                self.0.remove(name);
            }
            _ => return false,
        }
        true
    }

    /// Each group and its state, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, GroupState)> {
        self.0.iter().map(|(name, state)| (name.as_str(), *state))
    }

    /// How many groups there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// How many audit records a snapshot carries.
pub const AUDIT_KEPT: usize = 50;
/// How many notices a snapshot carries.
pub const NOTICES_KEPT: usize = 50;
/// How many past exits each process carries.
pub const EXITS_KEPT: usize = 10;

#[cfg(test)]
mod tests;
