//! The backend task that owns every conversation with the daemon.
//!
//! The UI never touches the network: it hands [`Command`]s to this task and
//! hears back [`ClientEvent`]s. Three kinds of connection run side by side,
//! so that none can stall another:
//!
//! - the **subscription** (`subscription.rs`): one long-lived connection that
//!   receives the snapshot and every update, reconnecting with a capped
//!   backoff whenever the daemon goes away;
//! - one short-lived connection **per request** (tell, dry-run, reload), so
//!   a slow answer never holds up the event stream;
//! - one **output follow** stream for the selected process, replaced when the
//!   selection changes and restarted whenever the subscription reconnects.

mod requests;
mod subscription;

use isinit_client::ClientError;
use isinit_client::transport::Endpoint;
use isinit_shared::{OutputLine, Plan, ProcessUsage, Snapshot, Update, time::UnixMillis};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// How many events may wait for the UI before the subscription stops
/// reading; the daemon then resynchronises us instead of blocking.
const EVENT_BUFFER: usize = 1024;

/// What the UI asks of the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Switch a group to a level; with `dry_run`, only ask for the plan.
    Tell {
        /// The resource group.
        group: String,
        /// The runlevel to switch it to.
        level: String,
        /// Only compute the plan (the picker's preview).
        dry_run: bool,
    },
    /// Re-read the isinittab.
    Reload,
    /// Stream this tag's output (or stop streaming with `tag: None`). The
    /// `id` comes back on every output event so lines of a stream the UI
    /// has moved away from can be recognised and dropped.
    Follow {
        /// Chosen by the app, echoed on every event of this stream.
        id: u64,
        /// The tag to follow, `None` to stop.
        tag: Option<String>,
    },
    /// Stream every tag of this group, merged in time (or stop with
    /// `group: None`); events carry `id` as for [`Command::Follow`].
    FollowGroup {
        /// Chosen by the app, echoed on every event of this stream.
        id: u64,
        /// The group to follow, `None` to stop.
        group: Option<String>,
    },
    /// Act on one process: restart, retry now, or signal it.
    Act(ProcessAction),
    /// Sample CPU and memory of the live process groups.
    Usage,
    /// Every process of one entry (the x-ray).
    Ps {
        /// The entry.
        tag: String,
    },
    /// The timeline of a group's last switch.
    Analyze {
        /// The group.
        group: String,
    },
}

/// What the operator asked to do to one process (SPEC §13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessAction {
    /// Stop it gracefully and start it again.
    Restart {
        /// The entry.
        tag: String,
    },
    /// Start a throttled entry now.
    Retry {
        /// The entry in backoff.
        tag: String,
    },
    /// Send a signal to its process group.
    Signal {
        /// The entry.
        tag: String,
        /// The signal's name without `SIG` (`HUP`).
        signal: String,
    },
}

impl ProcessAction {
    /// How the status line and the audit trail say it: `restart mta`.
    pub fn describe(&self) -> String {
        match self {
            ProcessAction::Restart { tag } => format!("restart {tag}"),
            ProcessAction::Retry { tag } => format!("retry {tag}"),
            ProcessAction::Signal { tag, signal } => format!("signal {tag} {signal}"),
        }
    }
}

/// What the client task tells the UI.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    /// A full state: the first message of a subscription, and every resync.
    Snapshot(Box<Snapshot>),
    /// One change on the subscription, in order. Boxed like the snapshot:
    /// a process row makes it the largest event by far.
    Update(Box<Update>),
    /// The subscription is down and being re-established.
    Disconnected {
        /// Local wall-clock time the problem was noticed.
        at_ms: UnixMillis,
        /// What went wrong, for the header.
        reason: String,
    },
    /// The recent output of a followed tag; replaces whatever was shown.
    Logs {
        /// The stream, as in [`Command::Follow`].
        id: u64,
        /// Oldest first.
        lines: Vec<OutputLine>,
    },
    /// One new line of a followed tag.
    Output {
        /// The stream, as in [`Command::Follow`].
        id: u64,
        /// The line.
        line: OutputLine,
    },
    /// A follow stream ended (tag unknown, daemon gone).
    OutputEnded {
        /// The stream, as in [`Command::Follow`].
        id: u64,
        /// Why, for the output panel.
        reason: String,
    },
    /// The answer to a request.
    Reply(Reply),
}

/// The answer to a [`Command`] that expects one.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// The daemon's plan for a dry-run tell.
    Preview {
        /// The group asked about.
        group: String,
        /// The level asked about; the picker drops answers for levels no
        /// longer highlighted.
        level: String,
        /// The plan, or why there is none.
        outcome: Result<Plan, Failure>,
    },
    /// The outcome of a real tell.
    Told {
        /// The group told.
        group: String,
        /// The level it was told.
        level: String,
        /// The daemon's message, or why it refused.
        outcome: Result<String, Failure>,
    },
    /// The outcome of a reload.
    Reloaded(Result<String, Failure>),
    /// The outcome of an action on one process.
    Acted {
        /// What was asked.
        action: ProcessAction,
        /// The daemon's message, or why it refused.
        outcome: Result<String, Failure>,
    },
    /// A usage sample, one row per entry with live processes.
    Usage(Result<Vec<ProcessUsage>, Failure>),
    /// The processes of one entry, for the x-ray.
    Ps {
        /// The entry asked about.
        tag: String,
        /// Its processes, or why not.
        outcome: Result<Vec<isinit_shared::protocol::EntryProcesses>, Failure>,
    },
    /// The timeline of a group's last switch.
    Timeline {
        /// The group asked about.
        group: String,
        /// The timeline, or why there is none.
        outcome: Result<Box<isinit_shared::protocol::SwitchTimeline>, Failure>,
    },
}

/// A request that failed: a one-line reason and, for an invalid isinittab,
/// its errors (`PATH:LINE: message` each), which the UI shows in a popup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// One line: the daemon's reason or the connection problem.
    pub message: String,
    /// The isinittab's errors, if that was the problem.
    pub details: Vec<String>,
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Failure {
        match e {
            ClientError::Daemon(reply) => Failure { message: reply.message, details: reply.details },
            other => Failure { message: other.to_string(), details: Vec::new() },
        }
    }
}

/// The UI's ends of the client task's channels.
pub struct ClientHandle {
    commands: mpsc::UnboundedSender<Command>,
    /// Everything the daemon said, in order.
    pub events: mpsc::Receiver<ClientEvent>,
}

impl ClientHandle {
    /// Queues a command; never blocks. Fails only if the client task is gone,
    /// which the event loop treats as fatal.
    pub fn send(&self, command: Command) -> Result<(), ClientGone> {
        self.commands.send(command).map_err(|_| ClientGone)
    }
}

/// The client task stopped: nothing the console shows can be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientGone;

impl std::fmt::Display for ClientGone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the connection task stopped unexpectedly")
    }
}

impl std::error::Error for ClientGone {}

/// Starts the client task for the daemon at `socket` (a local socket, or a
/// host reached through `ssh … isinit bridge`). Must be called inside a
/// tokio runtime; the tasks end when the returned handle is dropped.
pub fn spawn(socket: Endpoint) -> ClientHandle {
    let window = isinit_client::fleet::Window::new(1, subscription::CONNECT_TIMEOUT);
    spawn_in(socket, window)
}

/// [`spawn`] for one host of a fleet: its subscription connects through
/// the fleet's shared fan-out window (`--fanout`, `--connect-timeout`).
pub fn spawn_in(socket: Endpoint, window: isinit_client::fleet::Window) -> ClientHandle {
    let (event_tx, events) = mpsc::channel(EVENT_BUFFER);
    let (commands, command_rx) = mpsc::unbounded_channel();
    let (session_tx, session_rx) = watch::channel(0u64);
    tokio::spawn(subscription::run(socket.clone(), window, event_tx.clone(), session_tx));
    tokio::spawn(dispatch(socket, command_rx, session_rx, event_tx));
    ClientHandle { commands, events }
}

/// Runs each command on its own connection, and keeps the output follow
/// stream pointed at the tag the UI last asked for.
async fn dispatch(
    socket: Endpoint,
    mut commands: mpsc::UnboundedReceiver<Command>,
    mut sessions: watch::Receiver<u64>,
    events: mpsc::Sender<ClientEvent>,
) {
    let mut follow = Follow::default();
    let mut group_follow = Follow { group: true, ..Follow::default() };
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                None => break,
                Some(Command::Follow { id, tag }) => {
                    follow.want = tag.map(|t| (id, t));
                    follow.restart(&socket, &events);
                }
                Some(Command::FollowGroup { id, group }) => {
                    group_follow.want = group.map(|g| (id, g));
                    group_follow.restart(&socket, &events);
                }
                Some(command) => {
                    tokio::spawn(requests::run(socket.clone(), command, events.clone()));
                }
            },
            changed = sessions.changed() => {
                if changed.is_err() {
                    break;
                }
                // A new subscription means a (possibly restarted) daemon: the
                // old follow stream is dead or about to be.
                follow.restart(&socket, &events);
                group_follow.restart(&socket, &events);
            }
        }
    }
    follow.stop();
    group_follow.stop();
}

/// The output stream the UI wants, and the task serving it.
#[derive(Default)]
struct Follow {
    want: Option<(u64, String)>,
    task: Option<JoinHandle<()>>,
    /// A group's merged output rather than one tag's.
    group: bool,
}

impl Follow {
    fn restart(&mut self, socket: &Endpoint, events: &mpsc::Sender<ClientEvent>) {
        self.stop();
        if let Some((id, tag)) = &self.want {
            let (socket, name, events) = (socket.clone(), tag.clone(), events.clone());
            self.task = Some(if self.group {
                tokio::spawn(requests::follow_group(socket, *id, name, events))
            } else {
                tokio::spawn(requests::follow(socket, *id, name, events))
            });
        }
    }

    fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
