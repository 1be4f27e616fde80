//! What the supervisor asks the outside world to do.
//!
//! The supervisor never performs I/O itself: every decision comes out as an
//! [`Effect`], which the runtime carries out (and, for spawns, reports back).
//! That keeps the whole state machine testable with no process at all.

use isinit_shared::protocol::Event;

/// A signal the supervisor sends to a process group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StopSignal {
    /// First, polite: what a terminal's Ctrl-C sends.
    Int,
    /// Second, after `term_after`.
    Term,
    /// Last, after `kill_after` more.
    Kill,
}

impl StopSignal {
    /// The next step of the escalation, if any.
    pub fn next(self) -> Option<StopSignal> {
        match self {
            StopSignal::Int => Some(StopSignal::Term),
            StopSignal::Term => Some(StopSignal::Kill),
            StopSignal::Kill => None,
        }
    }
}

/// Everything needed to start one process of an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpawnRequest {
    /// For `ISINIT_GROUP`.
    pub group: String,
    /// For `ISINIT_TAG` and the output file's name.
    pub tag: String,
    /// For `ISINIT_LEVEL`.
    pub level: String,
    /// Run with `/bin/sh -c`.
    pub command: String,
    /// `ISINIT_ENTRY`: what a later daemon compares to adopt the process
    /// (see `Supervisor::entry_mark`).
    pub mark: String,
    /// A `notify` entry: the child gets `NOTIFY_SOCKET`, the daemon's
    /// readiness socket (SPEC §11). No other child does.
    pub notify: bool,
    /// An entry with a `:::watchdog:`: the child gets `NOTIFY_SOCKET`,
    /// `WATCHDOG_USEC` (this) and `WATCHDOG_PID` (its own pid).
    pub watchdog_usec: Option<u64>,
}

/// One thing for the runtime to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Start a process; the runtime answers with `Supervisor::spawned`.
    Spawn(SpawnRequest),
    /// Send a signal to a whole process group.
    Signal {
        /// The process group (the leader's pid).
        pgid: i32,
        /// Which step of the escalation.
        signal: StopSignal,
    },
    /// Tell subscribers something changed.
    Publish(Event),
    /// A group's level or state changed: rewrite the status file.
    WriteStatus,
    /// A line for the daemon log.
    Log(String),
    /// Shutdown finished: nothing is left running.
    Exit,
    /// Run one liveness check (SPEC §17) as a task; the runtime answers
    /// with `Supervisor::probed`, however it ends.
    Probe(crate::ProbeRequest),
    /// Send SIGABRT to the leader `pid` alone (its watchdog expired): it
    /// dumps core where the host keeps cores, for the post-mortem.
    Abort {
        /// The leader.
        pid: i32,
    },
}
