//! Drawing the console from a shared borrow of the [`App`]: nothing here
//! changes state, so a frame is a pure function of the model and the
//! terminal size, which is what makes the snapshot tests meaningful.
//!
//! One file per panel; this one lays them out and stacks the overlays.

mod confirm;
mod detail;
mod errors;
mod events;
mod footer;
mod group_log;
mod groups;
mod header;
mod help;
mod inside;
pub mod palette;
mod picker;
mod processes;
pub mod pulses;
mod signals;
mod table;
pub mod theme;

use crate::app::{App, Connection, Mode, Viewport};
use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect, Size};
use ratatui::widgets::Widget;

/// Draws the whole console into a frame.
pub fn draw(frame: &mut Frame, app: &App) {
    frame.render_widget(app, frame.area());
}

/// Where each panel goes on a terminal of a given size. The heights depend
/// on the size only, so [`viewport`] can tell the app how tall its lists
/// are without knowing what is in them.
#[derive(Debug, Clone, Copy)]
pub struct Areas {
    /// Daemon identity and connection state (2 lines).
    pub header: Rect,
    /// The groups list (left).
    pub groups: Rect,
    /// The selected group's processes (right).
    pub processes: Rect,
    /// The selected process: command, exits, output.
    pub detail: Rect,
    /// Audit records and notices.
    pub events: Rect,
    /// The last request's outcome, or the filter being typed.
    pub status: Rect,
    /// Key hints.
    pub footer: Rect,
}

/// The groups panel is never narrower than this (room for a name, level,
/// state and counts); on wide terminals it may grow to 2/5 of the width.
const MIN_GROUPS_WIDTH: u16 = 33;
/// Rows a bordered table loses to its borders and header row.
const TABLE_CHROME: u16 = 3;
/// Rows the detail panel loses to its borders and the command line.
const DETAIL_CHROME: u16 = 3;

impl Areas {
    /// Splits the screen: header, groups | processes, detail, events strip,
    /// status line, key hints. The lists get the most room; the events strip
    /// grows a little on tall terminals.
    ///
    /// `groups_width` is what the groups list would like; it gets that
    /// within bounds, so short names leave room for the processes table and
    /// long ones are not clipped on a wide terminal.
    pub fn new(area: Rect, groups_width: u16) -> Areas {
        let events = match area.height {
            ..=26 => 3,
            27..=44 => 4,
            _ => 6,
        };
        let [header, body, events, status, footer] = Layout::vertical([
            Constraint::Length(2),
            Constraint::Fill(1),
            Constraint::Length(events),
            Constraint::Length(1),
            Constraint::Length(1),
        ])
        .areas(area);
        let [top, detail] = Layout::vertical([Constraint::Fill(3), Constraint::Fill(2)]).areas(body);
        let groups_width = groups_width.clamp(MIN_GROUPS_WIDTH, (area.width / 5 * 2).max(MIN_GROUPS_WIDTH));
        let [groups, processes] =
            Layout::horizontal([Constraint::Length(groups_width), Constraint::Fill(1)]).areas(top);
        Areas { header, groups, processes, detail, events, status, footer }
    }
}

/// The rows each scrollable panel shows at this terminal size.
pub fn viewport(size: Size) -> Viewport {
    let a = Areas::new(Rect::new(0, 0, size.width, size.height), MIN_GROUPS_WIDTH);
    Viewport {
        groups: usize::from(a.groups.height.saturating_sub(TABLE_CHROME)),
        processes: usize::from(a.processes.height.saturating_sub(TABLE_CHROME)),
        output: usize::from(a.detail.height.saturating_sub(DETAIL_CHROME)),
    }
}

impl Widget for &App {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let groups = groups::GroupsPanel::new(self);
        let a = Areas::new(area, groups.wanted_width());
        header::render(self, a.header, buf);
        groups.render(a.groups, buf);
        processes::render(self, a.processes, buf);
        detail::render(self, a.detail, buf);
        events::render(self, a.events, buf);
        if matches!(self.connection(), Connection::Disconnected { .. }) {
            // Last known data stays readable but visibly not live.
            let body = Rect { y: a.groups.y, height: a.events.bottom().saturating_sub(a.groups.y), ..area };
            buf.set_style(body, theme::stale());
        }
        footer::render(self, a.status, a.footer, buf);
        match self.mode() {
            Mode::Picker(p) => picker::render(p, self, area, buf),
            Mode::Help => help::render(area, buf),
            Mode::Errors(list) => errors::render(list, area, buf),
            Mode::Confirm(confirm) => confirm::render(confirm, area, buf),
            Mode::Signals(picker) => signals::render(picker, area, buf),
            Mode::Inside(open) => inside::render(open, area, buf),
            Mode::Palette(p) => palette::render(p, crate::app::COMMANDS, area, buf),
            Mode::GroupLog(log) => group_log::render(log, self.time_zone(), area, buf),
            Mode::Pulses => pulses::render(self.pulses(), area, buf),
            Mode::Normal | Mode::Filter | Mode::Search => {}
        }
    }
}

/// A centred rectangle for a popup, at most `width`×`height`, leaving a
/// margin on small terminals.
fn popup_area(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width.saturating_sub(4)).max(area.width.min(20));
    let height = height.min(area.height.saturating_sub(2)).max(area.height.min(5));
    area.centered(Constraint::Length(width), Constraint::Length(height))
}
