//! The control protocol spoken over the daemon's UNIX socket (SPEC §7).
//!
//! Layers, each turning one thing into the next: [`frame`] reads and writes
//! length-prefixed byte frames with a hard size cap; [`codec`] turns a frame
//! into a typed message and back (the only place bincode is used); the
//! message types below are what the daemon's handlers and the clients see.
//!
//! **Compatibility rule**: bincode encodes enum variants by position, so
//! variants are only ever *appended*, never reordered or removed, and
//! `Hello` stays variant 0 of both [`Request`] and [`Response`] forever so
//! that any two versions can at least tell each other they disagree. Any
//! other change bumps [`PROTOCOL_VERSION`]. `tests/pinned_bytes.rs` pins
//! the encoding.

pub mod chunk;
pub mod codec;
mod drift;
pub mod frame;
pub mod group_logs;
mod health;
mod owner;
mod ps;
mod snapshot;
pub mod timeline;
mod usage;

pub use drift::{OnDisk, RunningConfig};
pub use health::{ExitReason, Health};
pub use owner::{Asker, Owner};
pub use ps::{EntryProcesses, PsRow, Tracking};
pub use snapshot::*;
pub use timeline::{StepAction, SwitchStep, SwitchTimeline};
pub use usage::{GroupUsage, ProcessUsage, rss_text, usage_by_group};

use crate::time::UnixMillis;
use serde::{Deserialize, Serialize};

/// Bumped on every incompatible change to the messages below.
///
/// 2: appended restart, retry, signal, usage and reexec requests;
/// [`DaemonInfo`] gained `tells_total` and `clients_connected`;
/// [`ExitStatus`] gained `Unknown` (an adopted process) and `OomKilled`.
/// 3: [`GroupStatus`] gained `owner`; appended [`Request::TellAs`] and
/// [`ErrorKind::Owned`] (SPEC §18, owned groups); [`ProcessStatus`] gained
/// `health` and `health_reason`, [`ExitRecord`] a `reason` (SPEC §17).
/// 4: [`ProcessStatus`] gained `listen` (held sockets, SPEC §17).
pub const PROTOCOL_VERSION: u32 = 4;

/// Largest frame either side accepts (SPEC §7), checked before allocating:
/// the bound of the daemon's replies.
pub const MAX_FRAME_LEN: usize = 1024 * 1024;

/// Largest request frame the daemon accepts, and the most decoding one may
/// claim. Requests carry a group, a level or a tag, never bulk data; a low
/// cap bounds what 256 hostile clients can make the daemon hold.
pub const MAX_REQUEST_LEN: usize = 64 * 1024;

/// What a client sends. The first message of a connection must be `Hello`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Request {
    /// Opens the conversation and states the client's protocol version.
    Hello {
        /// [`PROTOCOL_VERSION`] of the client.
        protocol: u32,
    },
    /// Switch `group` to `level`. With `dry_run`, only compute and return
    /// the plan ([`Response::Plan`]); nothing changes.
    Tell {
        /// The resource group to switch.
        group: String,
        /// The level to switch it to.
        level: String,
        /// Only compute the plan.
        dry_run: bool,
    },
    /// A one-off [`Snapshot`].
    Status,
    /// Re-read and adopt the isinittab (SPEC §6 reload).
    Reload,
    /// Stop everything and exit.
    Shutdown,
    /// The last `lines` lines of a tag's output; with `follow`, then every
    /// new line as [`Response::Output`] until the client goes away.
    Logs {
        /// The entry whose output to send.
        tag: String,
        /// How many recent lines (the daemon keeps at most 500).
        lines: u32,
        /// Keep the connection open and stream new lines.
        follow: bool,
    },
    /// A [`Response::Snapshot`], then every change as [`Response::Update`];
    /// a fresh snapshot whenever the client fell behind.
    Subscribe,
    /// Stop the process of `tag` gracefully (SPEC §5 escalation) and start
    /// it again; answered once the new process runs or failed to start.
    Restart {
        /// The entry to restart; it must be in its group's current level.
        tag: String,
    },
    /// Start a `respawn` entry that is in backoff now, resetting its
    /// throttle count; answered once the new process runs or failed to start.
    Retry {
        /// The throttled entry.
        tag: String,
    },
    /// Send a signal to the process group of `tag`'s process.
    Signal {
        /// The entry whose process group gets the signal.
        tag: String,
        /// A name (`HUP`, `SIGHUP`, case-insensitive) or a number (`1`);
        /// the daemon, not the client, decides what it accepts.
        signal: String,
    },
    /// CPU and memory of every live process group, sampled from `/proc` at
    /// the moment of asking ([`Response::Usage`]); the daemon samples
    /// nothing unless some client asks.
    Usage,
    /// Re-execute the daemon binary in place, handing the whole state over
    /// (SPEC §10). Answered with [`Response::Ok`] by the new image, or an
    /// error by the old one, which then carries on.
    Reexec,
    /// The isinittab the daemon is running and whether the file on disk
    /// differs ([`Response::RunningConfig`]); read-only, for `isinit drift`.
    RunningConfig,
    /// Every live process of each entry, read from `/proc` at the moment
    /// of asking ([`Response::Ps`]); read-only, for `isinit ps`.
    Ps {
        /// Only the entries of this group, or this one entry; `None`: all.
        name: Option<String>,
    },
    /// The output of every tag of `group` interleaved in time order: the
    /// last `lines` lines ([`Response::GroupLogs`]), then with `follow`
    /// every new line as [`Response::Output`] until the client goes away.
    GroupLogs {
        /// The resource group whose tags' output to send.
        group: String,
        /// How many recent lines, over all its tags.
        lines: u32,
        /// Keep the connection open and stream new lines.
        follow: bool,
        /// Only lines the daemon read at most this many milliseconds ago.
        since_ms: Option<u64>,
    },
    /// The timeline of `group`'s last switch ([`Response::Timeline`]);
    /// read-only, for `isinit analyze`.
    Analyze {
        /// The group.
        group: String,
    },
    /// [`Request::Tell`] saying who asks (SPEC §18): the OCF agent names its
    /// resource and node, which makes the group owned; `tell --force`
    /// overrides an owner. A new variant, so that `Tell` keeps its bytes.
    TellAs {
        /// The resource group to switch.
        group: String,
        /// The level to switch it to.
        level: String,
        /// Who asks.
        asker: Asker,
    },
    /// A [`Response::Snapshot`] without its process rows: what `isinit
    /// status` prints, a line per group. Its cost grows with the groups,
    /// where [`Request::Status`]'s grows with every process (issue 22:
    /// 29 ms of the daemon's runtime at 10,000 entries). Appended: a
    /// daemon older than this variant answers "bad request" and closes,
    /// and the client asks it for the whole snapshot instead.
    Groups,
}

/// What the daemon sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Response {
    /// Answer to `Hello` with matching versions.
    Hello {
        /// [`PROTOCOL_VERSION`] of the daemon (equal to the client's).
        protocol: u32,
        /// Who answered.
        daemon: DaemonInfo,
    },
    /// Answer to `Hello` with a different version; the daemon then closes.
    VersionMismatch {
        /// The daemon's protocol version.
        daemon: u32,
        /// The version the client said it speaks.
        client: u32,
    },
    /// A state-changing request was accepted; the text is for humans.
    Ok {
        /// E.g. `level transition started`.
        message: String,
    },
    /// What a tell would do (dry run).
    Plan(Plan),
    /// The whole state; also the resynchronisation point of a subscription.
    Snapshot(Box<Snapshot>),
    /// One change, in order, on a subscription.
    Update(Update),
    /// Recent output of one tag.
    Logs {
        /// The entry the lines belong to.
        tag: String,
        /// Oldest first.
        lines: Vec<OutputLine>,
    },
    /// One new line of a followed tag's output.
    Output(OutputLine),
    /// The request failed; nothing changed.
    Error(ErrorReply),
    /// One piece of a snapshot too large for one frame (see [`chunk`]);
    /// [`crate::Client::recv`] reassembles the pieces into a
    /// [`Response::Snapshot`], so callers never see this.
    SnapshotChunk {
        /// The first chunk carries everything but most processes; later
        /// ones only more processes.
        part: Box<Snapshot>,
        /// Whether more chunks follow.
        more: bool,
    },
    /// Answer to [`Request::Usage`]: one row per entry with live processes.
    Usage(Vec<ProcessUsage>),
    /// Answer to [`Request::RunningConfig`].
    RunningConfig(RunningConfig),
    /// Answer to [`Request::Ps`]: one item per entry with live processes.
    Ps(Vec<EntryProcesses>),
    /// Recent output of a group's tags, oldest first, interleaved in time.
    GroupLogs {
        /// The group the lines belong to.
        group: String,
        /// Oldest first; each line names its tag.
        lines: Vec<OutputLine>,
    },
    /// Answer to [`Request::Analyze`].
    Timeline(Box<SwitchTimeline>),
}

/// A failed request: a kind a program can act on, a one-line reason, and
/// any details (for an invalid isinittab, one `PATH:LINE: message` each).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReply {
    /// What went wrong, for programs.
    pub kind: ErrorKind,
    /// One line for humans, e.g. `no such group: web`.
    pub message: String,
    /// Further lines, e.g. one `PATH:LINE: message` per isinittab error.
    pub details: Vec<String>,
}

/// Why a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// `tell` named a group that is neither in the file nor running.
    NoSuchGroup,
    /// `logs` named a tag the daemon has never heard of.
    NoSuchTag,
    /// The isinittab is invalid; `details` lists the errors.
    InvalidConfig,
    /// Only root and the daemon's own user may change state.
    PermissionDenied,
    /// The request is not allowed now (e.g. the daemon is shutting down) or
    /// is malformed (a level with `:`).
    Rejected,
    /// The group is owned by a cluster manager's resource (SPEC §18) and
    /// the tell did not say `--force`.
    Owned,
}

impl ErrorReply {
    /// Builds a reply without details.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ErrorReply { kind, message: message.into(), details: Vec::new() }
    }
}

/// One line of a process's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputLine {
    /// The tag whose process wrote it.
    pub tag: String,
    /// When the daemon read it.
    pub at_ms: UnixMillis,
    /// The line without its newline; invalid UTF-8 replaced.
    pub text: String,
}

/// What `tell --dry-run` reports: the effect of a switch before doing it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Plan {
    /// The group the tell names.
    pub group: String,
    /// The level the tell names.
    pub level: String,
    /// Tags whose live processes would be stopped.
    pub stop: Vec<String>,
    /// Tags whose live processes would keep running untouched.
    pub keep: Vec<String>,
    /// Tags that would be started, in start order.
    pub start: Vec<String>,
    /// Tags of the level that already ran to completion and would not re-run.
    pub done: Vec<String>,
    /// Set when the group does not exist: the tell would fail.
    pub error: Option<String>,
}
