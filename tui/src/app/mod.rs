//! The console's model: what the daemon last said, where the operator is,
//! and what is open. [`App::update`] is the only way it changes.
//!
//! Selection is kept by group *name* and process *tag*, never by row
//! number, so it survives resyncs, reloads that reorder the file, and
//! filtering.

mod action;
#[cfg(test)]
mod action_tests;
mod actions;
mod events;
mod group_log;
mod inside;
mod keys;
#[cfg(test)]
mod live_tests;
mod mode;
mod output;
mod palette;
mod picker;
mod pulses;
mod search;
mod select;
mod sort;
#[cfg(test)]
mod tests;
mod usage;

pub use action::{Action, Viewport};
pub use actions::{Confirm, SIGNALS, SignalPicker};
pub use group_log::{GROUP_LINES_KEPT, GroupLog};
pub use inside::{Inside, InsideContent, InsideKind};
pub use mode::{Connection, ErrorList, Focus, InputMode, Mode, Status, Tone};
pub use output::{OutputState, OutputView, Scroll};
pub use palette::{COMMANDS, Edit, HISTORY_KEPT, Palette, common_prefix};
pub use picker::{Picker, Preview, check_level};
pub use pulses::{PULSE_SAMPLES, Pulse, Pulses};
pub use search::{OutputSearch, match_ranges};
pub use select::{FLAP_EXITS, FLAP_WINDOW_MS, ListView, is_flapping, scroll_into_view};
pub use sort::{SortKey, SortOrder};
pub use usage::{USAGE_EVERY_MS, UsageView};

use crate::client::Command;
use crate::clock::TimeZone;
use events::Reach;
use isinit_shared::Snapshot;
use isinit_shared::protocol::NoticeRecord;
use isinit_shared::time::UnixMillis;
use select::Cursor;
use std::path::{Path, PathBuf};

/// The whole state of the console.
pub struct App {
    /// The daemon's state as last heard; `None` until the first snapshot.
    /// Kept (and shown dimmed) while the daemon is away.
    snapshot: Option<Snapshot>,
    /// Where each tag's row is in the snapshot's processes, so a live
    /// event finds its row without a scan (`events.rs`).
    process_at: std::collections::HashMap<String, usize>,
    connection: Connection,
    focus: Focus,
    mode: Mode,
    /// Substring the groups and processes are filtered by; empty for none.
    filter: String,
    groups: Cursor,
    processes: Cursor,
    output: OutputView,
    /// The output panel's search.
    search: OutputSearch,
    /// How the processes table is sorted.
    sort: SortOrder,
    /// CPU and memory of the running processes, as last sampled.
    usage: UsageView,
    status: Option<Status>,
    viewport: Viewport,
    /// The daemon's current time (estimated), for stamping status messages.
    now_ms: UnixMillis,
    /// The daemon's time the shown data is as of: follows `now_ms` while
    /// connected, frozen while the daemon is away, so uptimes of processes
    /// that may be long dead do not keep growing.
    as_of_ms: UnixMillis,
    tz: TimeZone,
    socket: PathBuf,
    /// Commands for the client task, drained by the event loop.
    commands: Vec<Command>,
    /// Something visible changed since the last draw.
    dirty: bool,
    running: bool,
    /// Commands run from the `:` palette, oldest first (`palette.rs`).
    history: Vec<String>,
    /// The last group log stream id handed out (`group_log.rs`).
    group_log_id: u64,
    /// Trends per group, sampled while the pulses view is open.
    pulses: Pulses,
    /// Usage sampled each second although no view here shows it: the
    /// fleet's pulses view shows this host's totals (`pulses.rs`).
    sampling: bool,
}

impl App {
    /// A console for the daemon at `socket`, showing times in `tz`.
    pub fn new(socket: PathBuf, tz: TimeZone) -> App {
        App {
            snapshot: None,
            process_at: std::collections::HashMap::new(),
            connection: Connection::Connecting,
            focus: Focus::Groups,
            mode: Mode::Normal,
            filter: String::new(),
            groups: Cursor::default(),
            processes: Cursor::default(),
            output: OutputView::default(),
            search: OutputSearch::default(),
            sort: SortOrder::default(),
            usage: UsageView::default(),
            status: None,
            viewport: Viewport::default(),
            now_ms: 0,
            as_of_ms: 0,
            tz,
            socket,
            commands: Vec::new(),
            dirty: true,
            running: true,
            history: Vec::new(),
            group_log_id: 0,
            pulses: Pulses::default(),
            sampling: false,
        }
    }

    /// Folds one action into the model. Never blocks and never does I/O:
    /// requests for the daemon are queued for [`App::take_commands`].
    pub fn update(&mut self, action: Action) {
        match action {
            Action::Quit => self.running = false,
            Action::Resize(viewport) => {
                self.viewport = viewport;
                self.dirty = true;
            }
            Action::Tick(now_ms) => {
                // Asked before the clock moves too: the tick on which the
                // last recent exit leaves the flapping window is the one
                // that must redraw, to take the `!` off.
                let wanted = self.wants_tick();
                self.now_ms = now_ms;
                if self.connection == Connection::Connected {
                    self.as_of_ms = now_ms;
                }
                if wanted || self.wants_tick() {
                    self.dirty = true;
                }
                self.maybe_ask_usage();
            }
            Action::Client(event) => {
                if self.on_client_event(event) == Reach::InPlace {
                    // The lists hold the rows they held, in their order:
                    // the selection, the scrolling and the stream followed
                    // stand as the last reconcile left them.
                    return;
                }
            }
            key => {
                self.on_key(key);
                self.dirty = true;
            }
        }
        self.reconcile();
    }

    /// Whether the uptime tick would change anything on screen: only while
    /// connected (stale data does not age) and something time-dependent is
    /// visible — an uptime, or a process that might stop looking flappy.
    pub fn wants_tick(&self) -> bool {
        if self.connection != Connection::Connected {
            return false;
        }
        let Some(snapshot) = &self.snapshot else { return false };
        self.mode == Mode::Pulses
            || self.processes_view().items.iter().any(|p| p.pid.is_some())
            || snapshot.processes.iter().any(|p| select::exited_recently(p, self.as_of_ms))
    }

    /// Returns and clears the "needs a redraw" flag.
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }

    /// The commands queued since the last call, for the client task.
    pub fn take_commands(&mut self) -> Vec<Command> {
        std::mem::take(&mut self.commands)
    }

    /// False once the operator asked to quit.
    pub fn is_running(&self) -> bool {
        self.running
    }

    /// The last known daemon state, if any was ever received.
    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.snapshot.as_ref()
    }

    /// Whether the daemon is reachable; decides what the header says and
    /// whether the data is shown as stale.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// The panel the movement keys act on.
    pub fn focus(&self) -> Focus {
        self.focus
    }

    /// What is open on top of the panels.
    pub fn mode(&self) -> &Mode {
        &self.mode
    }

    /// How the key translator should read keys now.
    pub fn input_mode(&self) -> InputMode {
        self.mode.input_mode()
    }

    /// The current filter text (empty for none).
    pub fn filter(&self) -> &str {
        &self.filter
    }

    /// The selected process's output.
    pub fn output(&self) -> &OutputView {
        &self.output
    }

    /// The daemon's recent notices (respawn throttles), oldest first, as the
    /// snapshot and its updates carry them: one source, so a reconnect
    /// shows exactly what any other subscriber sees.
    pub fn notices(&self) -> &[NoticeRecord] {
        self.snapshot.as_ref().map_or(&[], |s| s.notices.as_slice())
    }

    /// The outcome of the last request, for the status line.
    pub fn status(&self) -> Option<&Status> {
        self.status.as_ref()
    }

    /// The daemon's time the data on screen is as of, for uptimes and
    /// "within the last minute": current while connected, the moment of
    /// the last news while the daemon is away.
    pub fn as_of_ms(&self) -> UnixMillis {
        self.as_of_ms
    }

    /// The zone times of day are shown in.
    pub fn time_zone(&self) -> TimeZone {
        self.tz
    }

    /// The socket the console talks to, shown while connecting.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// How the processes table is sorted.
    pub fn sort(&self) -> SortOrder {
        self.sort
    }

    /// The panel heights from the last resize.
    pub fn viewport(&self) -> Viewport {
        self.viewport
    }

    fn set_status(&mut self, tone: Tone, text: impl Into<String>) {
        self.status = Some(Status { tone, text: text.into(), at_ms: self.now_ms });
    }

    /// Brings derived state in line after any change: the selection still
    /// names something visible, the views scroll to show it, and the output
    /// stream follows the selected process.
    fn reconcile(&mut self) {
        self.reselect();
        let tag = self.selected_process().map(|p| p.tag.clone());
        if tag != self.output.tag {
            let id = self.output.retarget(tag.clone());
            self.search.current = None;
            self.commands.push(Command::Follow { id, tag });
            self.dirty = true;
        }
    }
}
