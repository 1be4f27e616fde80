//! The small state enums of the console.

use super::{Confirm, GroupLog, Inside, Palette, Picker, SignalPicker};
use isinit_shared::time::UnixMillis;

/// The panel that movement keys act on; Tab cycles through them in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Focus {
    /// The groups list: ↑/↓ pick the group the other panels show.
    #[default]
    Groups,
    /// The selected group's processes: ↑/↓ pick the process detailed below.
    Processes,
    /// The selected process's output: ↑/↓ and PgUp/PgDn scroll it.
    Output,
}

impl Focus {
    /// The panel after this one, wrapping around.
    pub fn next(self) -> Focus {
        match self {
            Focus::Groups => Focus::Processes,
            Focus::Processes => Focus::Output,
            Focus::Output => Focus::Groups,
        }
    }

    /// The panel before this one, wrapping around.
    pub fn prev(self) -> Focus {
        match self {
            Focus::Groups => Focus::Output,
            Focus::Processes => Focus::Groups,
            Focus::Output => Focus::Processes,
        }
    }
}

/// What is open on top of the panels. Exactly one thing at a time, which
/// is why this is an enum carrying each mode's own state.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Mode {
    /// Browsing.
    #[default]
    Normal,
    /// Choosing a level for a group, with the daemon's preview.
    Picker(Box<Picker>),
    /// The key help overlay.
    Help,
    /// Typing the filter.
    Filter,
    /// A list of errors the daemon returned (an invalid isinittab).
    Errors(ErrorList),
    /// A y/n question before acting on a process (restart, retry).
    Confirm(Confirm),
    /// Choosing a signal for the selected process.
    Signals(SignalPicker),
    /// Typing a search of the output panel.
    Search,
    /// The x-ray of an entry or the timeline of a switch (`x`, `A`).
    Inside(Box<Inside>),
    /// Typing a `:` command, with completion and history.
    Palette(Palette),
    /// One log of a whole group (`L`).
    GroupLog(Box<GroupLog>),
    /// Sparklines of every group's CPU, memory and restarts (`P`).
    Pulses,
}

impl Mode {
    /// How keys must be read in this mode.
    pub fn input_mode(&self) -> InputMode {
        match self {
            Mode::Normal => InputMode::Normal,
            Mode::Picker(_) | Mode::Filter | Mode::Search => InputMode::Text,
            Mode::Help => InputMode::Help,
            Mode::Errors(_) | Mode::Signals(_) | Mode::Inside(_) => InputMode::Popup,
            Mode::Confirm(_) => InputMode::Confirm,
            Mode::Palette(_) => InputMode::Palette,
            Mode::GroupLog(_) => InputMode::Log,
            Mode::Pulses => InputMode::Popup,
        }
    }
}

/// How [`crate::input`] reads keys: letters are commands while browsing
/// but text while typing a level or a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputMode {
    /// Letters are commands (`q`, `j`, `r`, …).
    Normal,
    /// Letters are text; only arrows, Enter, Esc and Backspace are keys.
    Text,
    /// The help overlay: most keys close it.
    Help,
    /// A scrollable popup: arrows scroll, Esc/Enter/q close.
    Popup,
    /// A y/n question: letters are answers, Enter is yes, Esc no.
    Confirm,
    /// The `:` palette: letters are text, Tab completes, ↑ ↓ recall.
    Palette,
    /// The group log: arrows scroll, `t` toggles timestamps, Esc/q close.
    Log,
}

/// The errors the daemon gave for a failed reload or tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorList {
    /// The one-line reason.
    pub title: String,
    /// One `PATH:LINE: message` each.
    pub lines: Vec<String>,
    /// First line shown.
    pub scroll: usize,
}

/// Whether the daemon can be heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    /// Before the first snapshot.
    Connecting,
    /// Subscribed: what is shown is live.
    Connected,
    /// The daemon went away (or never answered); what is shown is stale.
    Disconnected {
        /// Local wall-clock time the daemon was first found missing; kept
        /// across failed retries so the operator sees how long it has been.
        since_ms: UnixMillis,
        /// Why the last attempt failed.
        reason: String,
    },
}

/// The outcome of the last request, shown on the status line until the
/// next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Pending, success or failure: decides the colour and the mark.
    pub tone: Tone,
    /// One line for humans.
    pub text: String,
    /// When it was set, by the daemon's clock.
    pub at_ms: UnixMillis,
}

/// How a status message is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Waiting for the daemon's answer.
    Pending,
    /// The daemon accepted the request.
    Success,
    /// The request failed.
    Error,
    /// Neutral information.
    Info,
}
