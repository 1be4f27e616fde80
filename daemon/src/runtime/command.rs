//! What the socket server asks of the runtime task. Each command carries a
//! `oneshot` for its reply, so the server never touches supervisor state.

use isinit_shared::protocol::{ErrorReply, Plan, Snapshot, Update};
use tokio::sync::{broadcast, oneshot};

/// Who sent a request, from the socket's peer credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    /// The client's user id: root and the daemon's own user may change state.
    pub uid: u32,
    /// The client's process id, for the audit trail.
    pub pid: Option<u32>,
}

/// The reply to a state-changing command: a message for humans, or why not.
pub type Outcome = Result<String, ErrorReply>;

/// One request for the runtime task.
#[derive(Debug)]
pub enum Command {
    /// Switch a group (SPEC §3). Re-reads the isinittab first.
    Tell {
        /// The group to switch.
        group: String,
        /// The level to switch it to.
        level: String,
        /// On whose behalf (SPEC §18: owned groups).
        asker: isinit_shared::protocol::Asker,
        /// Who asked, for the audit trail.
        peer: Peer,
        /// Where the outcome goes.
        reply: oneshot::Sender<Outcome>,
    },
    /// What a tell would do; changes nothing.
    Plan {
        /// The group the tell would switch.
        group: String,
        /// The level it would switch to.
        level: String,
        /// Where the plan goes.
        reply: oneshot::Sender<Plan>,
    },
    /// A snapshot of everything.
    Status {
        /// Where the snapshot goes.
        reply: oneshot::Sender<Box<Snapshot>>,
    },
    /// A snapshot without its process rows ([`Request::Groups`]).
    ///
    /// [`Request::Groups`]: isinit_shared::protocol::Request::Groups
    Groups {
        /// Where the snapshot goes.
        reply: oneshot::Sender<Box<Snapshot>>,
    },
    /// Re-read and adopt the isinittab.
    Reload {
        /// Who asked, for the audit trail.
        peer: Peer,
        /// Where the outcome goes.
        reply: oneshot::Sender<Outcome>,
    },
    /// Stop everything and exit.
    Shutdown {
        /// Who asked, for the audit trail.
        peer: Peer,
        /// Where the acknowledgement goes (at once, before anything stops).
        reply: oneshot::Sender<Outcome>,
    },
    /// A snapshot and the updates that follow it, with no gap in between.
    Subscribe {
        /// Where the snapshot and the update receiver go.
        reply: oneshot::Sender<(Box<Snapshot>, broadcast::Receiver<std::sync::Arc<Update>>)>,
    },
    /// Re-execute the daemon binary (`isinit reexec`). On success the
    /// process image is replaced and the new one answers on `conn`; the
    /// reply carries only why it failed.
    Reexec {
        /// Who asked, for the audit trail.
        peer: Peer,
        /// The requesting connection, answered by the new image.
        conn: std::os::fd::OwnedFd,
        /// Where the failure goes.
        reply: oneshot::Sender<Outcome>,
    },
    /// The new binary's check for a `reexec` is over (sent by the task
    /// that waited for it while the run loop went on): re-execute now, or
    /// answer why not.
    ReexecChecked {
        /// The requesting connection, answered by the new image.
        conn: std::os::fd::OwnedFd,
        /// Where the failure goes.
        reply: oneshot::Sender<Outcome>,
        /// Whether the check passed, or why not.
        checked: Result<(), String>,
    },
    /// Whether `tag` names an entry or a record the daemon knows.
    KnowsTag {
        /// The tag a `logs` request names.
        tag: String,
        /// Where the answer goes.
        reply: oneshot::Sender<bool>,
    },
    /// Stop a process gracefully and start it again (SPEC §13); the
    /// outcome comes once the new process runs or could not start.
    Restart {
        /// The entry to restart.
        tag: String,
        /// Who asked, for the audit trail.
        peer: Peer,
        /// Where the outcome goes.
        reply: oneshot::Sender<Outcome>,
    },
    /// Let a throttled `respawn` entry start now; the outcome comes once
    /// the new process runs or could not start.
    Retry {
        /// The entry in backoff.
        tag: String,
        /// Who asked, for the audit trail.
        peer: Peer,
        /// Where the outcome goes.
        reply: oneshot::Sender<Outcome>,
    },
    /// Send a signal to the process group(s) of an entry.
    Signal {
        /// The entry.
        tag: String,
        /// The signal as the client wrote it (`HUP`, `SIGHUP`, `1`).
        signal: String,
        /// Who asked, for the audit trail.
        peer: Peer,
        /// Where the outcome goes.
        reply: oneshot::Sender<Outcome>,
    },
    /// What to read for every entry with something running (its cgroup,
    /// or its process groups), for a usage sample taken off this task.
    LiveGroups {
        /// Where the `(tag, sources)` list goes.
        reply: oneshot::Sender<Vec<(String, Vec<super::usage::Source>)>>,
    },
    /// Something an operator should know that is not a state change (the
    /// log directory filled up): kept with the notices of the snapshot and
    /// published to subscribers.
    Notice {
        /// One line for humans.
        message: String,
    },
    /// The isinittab in force, for `isinit drift`; the caller reads the
    /// file on disk itself, off the runtime task.
    RunningConfig {
        /// Where its path, SHA-256 and text go.
        reply: oneshot::Sender<(std::path::PathBuf, String, std::sync::Arc<str>)>,
    },
    /// The timeline of a group's last switch, for `isinit analyze`;
    /// `None` when no tell of it was accepted since the daemon started.
    Timeline {
        /// The group.
        group: String,
        /// Where the timeline goes.
        reply: oneshot::Sender<Option<isinit_shared::protocol::SwitchTimeline>>,
    },
}
