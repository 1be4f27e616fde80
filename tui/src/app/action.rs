//! Everything that can happen to the console, as data.

use crate::client::ClientEvent;
use isinit_shared::time::UnixMillis;

/// One thing that happened: a key (already translated by
/// [`crate::input`]), news from the daemon, a resize or the uptime tick.
///
/// Key actions are deliberately focus- and mode-agnostic ("down", "confirm"):
/// what they mean depends on where the operator is, which only the
/// [`App`](super::App) knows.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Leave the console.
    Quit,
    /// Move the selection (or scroll) one row up.
    Up,
    /// Move the selection (or scroll) one row down.
    Down,
    /// One screenful up.
    PageUp,
    /// One screenful down.
    PageDown,
    /// To the first row (output: the oldest line).
    Top,
    /// To the last row (output: the newest line, following again).
    Bottom,
    /// Focus the next panel: groups → processes → output.
    FocusNext,
    /// Focus the previous panel.
    FocusPrev,
    /// Enter: open the level picker, perform the switch, keep the filter.
    Confirm,
    /// Esc: close whatever is open, clear the filter.
    Cancel,
    /// Ask the daemon to reload the isinittab.
    Reload,
    /// Start typing a filter.
    StartFilter,
    /// Show or hide the key help.
    ToggleHelp,
    /// Stick the output view to its newest line, or stop doing so.
    ToggleFollow,
    /// `R`: restart the selected process (retry it if throttled), after a
    /// confirmation.
    Restart,
    /// `S`: open the signal picker for the selected process.
    Signal,
    /// `s`: sort the processes table by the next column.
    CycleSort,
    /// `I`: reverse the processes table's sort order.
    ReverseSort,
    /// `n`: the next (newer) match of the output search.
    NextMatch,
    /// `N`: the previous (older) match of the output search.
    PrevMatch,
    /// `w`: wrap long output lines, or cut them at the panel's edge.
    ToggleWrap,
    /// `x`: the x-ray of the selected process's entry.
    Xray,
    /// `A`: the timeline of the selected group's last switch.
    Timeline,
    /// `:`: the command palette.
    OpenPalette,
    /// `L`: the merged log of the selected group.
    GroupLog,
    /// `t` in the group log: show or hide timestamps.
    ToggleTimestamps,
    /// `P`: the pulses view (trends per group), or back.
    Pulses,
    /// A character typed into the picker or the filter.
    Input(char),
    /// Delete the last typed character.
    Backspace,
    /// The terminal changed size; carries the list heights at the new size.
    Resize(Viewport),
    /// The uptime tick, with the daemon's estimated current time.
    Tick(UnixMillis),
    /// News from the client task.
    Client(ClientEvent),
}

/// How many rows each scrollable panel shows, so that moving the selection
/// can scroll like an editor (the view moves only when the selection would
/// leave it) without the renderer mutating anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Viewport {
    /// Visible rows of the groups list.
    pub groups: usize,
    /// Visible rows of the processes table.
    pub processes: usize,
    /// Visible lines of the output view.
    pub output: usize,
}
