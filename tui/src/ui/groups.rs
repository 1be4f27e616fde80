//! The groups list: name, level, state, running/total, and a mark for a
//! group with a throttled or flapping process.

use super::table::{self, Column};
use super::theme;
use crate::app::{App, Connection, Focus, is_flapping};
use isinit_shared::Mode;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Row, Table, Widget};
use std::collections::HashMap;

/// Per group: processes alive, processes that can run (`off` excluded),
/// and whether one of them is flapping.
#[derive(Default, Clone, Copy)]
struct Counts {
    alive: usize,
    total: usize,
    flapping: bool,
}

impl Counts {
    fn text(self) -> String {
        format!("{}/{}", self.alive, self.total)
    }
}

/// The groups list for one frame: counted and measured once, then used
/// both to size the panel and to draw it.
pub(super) struct GroupsPanel<'a> {
    app: &'a App,
    counts: HashMap<&'a str, Counts>,
    columns: [Column; 5],
}

impl<'a> GroupsPanel<'a> {
    pub(super) fn new(app: &'a App) -> GroupsPanel<'a> {
        let mut counts: HashMap<&str, Counts> = HashMap::new();
        if let Some(snapshot) = app.snapshot() {
            let now = app.as_of_ms();
            for p in &snapshot.processes {
                let c = counts.entry(p.group.as_str()).or_default();
                c.alive += usize::from(p.pid.is_some());
                c.total += usize::from(p.mode != Mode::Off);
                c.flapping |= is_flapping(p, now);
            }
        }
        let groups = app.snapshot().map_or(&[][..], |s| &s.groups[..]);
        let procs: Vec<String> =
            groups.iter().map(|g| counts.get(g.name.as_str()).copied().unwrap_or_default().text()).collect();
        let columns = [
            Column::fill("group", table::measure("group", groups.iter().map(|g| g.name.as_str()), 16)),
            Column::squeezable(
                "level",
                table::measure("level", groups.iter().map(|g| g.level.as_deref().unwrap_or("-")), 12),
                5,
                1,
            ),
            Column::fixed("state", table::measure("state", groups.iter().map(|g| g.state.as_str()), 10), 0),
            Column::fixed("procs", table::measure("procs", procs.iter().map(String::as_str), 11), 2),
            Column::fixed("", 1, 0),
        ];
        GroupsPanel { app, counts, columns }
    }

    /// The panel width that shows every column in full, borders included.
    pub(super) fn wanted_width(&self) -> u16 {
        let gaps = table::SPACING * (self.columns.len() as u16 - 1);
        self.columns.iter().map(|c| c.width).sum::<u16>() + gaps + 2
    }

    pub(super) fn render(&self, area: Rect, buf: &mut Buffer) {
        let app = self.app;
        let focused = app.focus() == Focus::Groups;
        let view = app.groups_view();
        let heading = if app.filter().is_empty() {
            format!(" groups ({}) ", view.items.len())
        } else {
            format!(" groups matching {:?} ({}) ", app.filter(), view.items.len())
        };
        let mut title = vec![Span::styled(heading, theme::title(focused))];
        if matches!(app.connection(), Connection::Disconnected { .. }) && app.snapshot().is_some() {
            title.push(Span::styled(" STALE ", Style::new().fg(Color::White).bg(Color::Red)));
        }
        let block = Block::bordered().border_style(theme::border(focused)).title(Line::from(title));
        let inner = block.inner(area);

        let kept = table::layout(&self.columns, inner.width);
        let height = usize::from(inner.height.saturating_sub(1));
        let offset = view.selected.map_or(0, |s| crate::app::scroll_into_view(view.offset, s, height));
        let rows = view.items.iter().enumerate().skip(offset).take(height).map(|(i, g)| {
            let c = self.counts.get(g.name.as_str()).copied().unwrap_or_default();
            let mut cells = [
                Some(Cell::from(table::clip_middle(&g.name, table::width_of(&kept, 0)))),
                Some(Cell::from(table::clip(g.level.as_deref().unwrap_or("-"), table::width_of(&kept, 1)))),
                Some(Cell::from(Span::styled(g.state.as_str(), theme::group_state(g.state)))),
                Some(Cell::from(c.text())),
                Some(if c.flapping { Cell::from(Span::styled("!", theme::flag())) } else { Cell::from("") }),
            ];
            let row = Row::new(kept.iter().map(|&(k, _)| cells[k].take().unwrap_or_default()));
            if view.selected == Some(i) { row.style(theme::selected(focused)) } else { row }
        });
        let header = Row::new(kept.iter().map(|&(k, _)| self.columns[k].title)).style(theme::header());
        Table::new(rows, table::constraints(&kept))
            .header(header)
            .column_spacing(table::SPACING)
            .block(block)
            .render(area, buf);
        if view.items.is_empty() {
            let text = match (app.snapshot(), app.filter().is_empty()) {
                (None, _) => "waiting for the daemon…",
                (Some(_), true) => "no groups in the isinittab",
                (Some(_), false) => "no group matches the filter",
            };
            Line::styled(text, theme::muted()).render(Rect { y: inner.y + 1, height: 1, ..inner }, buf);
        }
        table::scrollbar(area, view.items.len(), height, offset, buf);
    }
}
