//! Colours, in one place so the console reads consistently: green is fine,
//! yellow is moving, red needs a human, magenta is the daemon going away,
//! grey is idle.

use isinit_shared::{GroupState, ProcessState};
use ratatui::style::{Color, Modifier, Style};

/// Colour of a group state.
pub fn group_state(state: GroupState) -> Style {
    let fg = match state {
        GroupState::Done | GroupState::Passed => Color::Green,
        GroupState::Failed => Color::Red,
        GroupState::Starting | GroupState::Stopping => Color::Yellow,
        GroupState::Halting => Color::Magenta,
        GroupState::Configured => Color::DarkGray,
    };
    let style = Style::new().fg(fg);
    if state == GroupState::Failed { style.add_modifier(Modifier::BOLD) } else { style }
}

/// Colour of a process state.
pub fn process_state(state: ProcessState) -> Style {
    Style::new().fg(match state {
        ProcessState::Running | ProcessState::Pass => Color::Green,
        ProcessState::Waiting => Color::Cyan,
        ProcessState::Exited => Color::Reset,
        ProcessState::Fail | ProcessState::FailedToStart => Color::Red,
        ProcessState::Backoff | ProcessState::Stopping => Color::Yellow,
        ProcessState::NotStarted | ProcessState::Off => Color::DarkGray,
    })
}

/// The flapping mark in the groups list.
pub fn flag() -> Style {
    Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)
}

/// Border of a panel; the focused one stands out.
pub fn border(focused: bool) -> Style {
    if focused { Style::new().fg(Color::Cyan) } else { Style::new().fg(Color::DarkGray) }
}

/// Panel titles.
pub fn title(focused: bool) -> Style {
    let style = Style::new().add_modifier(Modifier::BOLD);
    if focused { style.fg(Color::Cyan) } else { style }
}

/// The selected row: inverted in the focused panel, shaded elsewhere so the
/// operator still sees which group the processes belong to.
pub fn selected(focused: bool) -> Style {
    if focused { Style::new().add_modifier(Modifier::REVERSED) } else { Style::new().bg(Color::DarkGray) }
}

/// Table headers.
pub fn header() -> Style {
    Style::new().fg(Color::DarkGray).add_modifier(Modifier::BOLD)
}

/// Secondary text: commands, hints, timestamps.
pub fn muted() -> Style {
    Style::new().fg(Color::DarkGray)
}

/// Errors.
pub fn error() -> Style {
    Style::new().fg(Color::Red)
}

/// Applied over everything the daemon said once it is gone.
pub fn stale() -> Style {
    Style::new().add_modifier(Modifier::DIM)
}

/// Keys in hints.
pub fn key() -> Style {
    Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)
}

/// A match of the output search.
pub fn search_match() -> Style {
    Style::new().fg(Color::Black).bg(Color::Yellow)
}

/// The matches on the line `n`/`N` last jumped to.
pub fn search_current() -> Style {
    Style::new().fg(Color::Black).bg(Color::LightCyan).add_modifier(Modifier::BOLD)
}
