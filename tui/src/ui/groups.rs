//! The groups list: name, level, state, running/total, and a mark for a
//! group with a throttled or flapping process.

use super::table::{self, Column};
use super::theme;
use crate::app::{App, Focus, is_flapping};
use isinit_shared::Mode;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Row, Table, Widget};
use std::collections::HashMap;

const COLUMNS: [Column; 5] = [
    Column { title: "group", width: 5, fill: true, priority: 0 },
    Column { title: "level", width: 6, fill: false, priority: 1 },
    Column { title: "state", width: 10, fill: false, priority: 0 },
    Column { title: "procs", width: 5, fill: false, priority: 2 },
    Column { title: "", width: 1, fill: false, priority: 0 },
];

/// Per group: processes alive, processes that can run (`off` excluded),
/// and whether one of them is flapping.
#[derive(Default, Clone, Copy)]
struct Counts {
    alive: usize,
    total: usize,
    flapping: bool,
}

pub(super) fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let focused = app.focus() == Focus::Groups;
    let view = app.groups_view();
    let title = if app.filter().is_empty() {
        Line::from(format!(" groups ({}) ", view.items.len()))
    } else {
        Line::from(format!(" groups matching {:?} ({}) ", app.filter(), view.items.len()))
    };
    let block = Block::bordered().border_style(theme::border(focused)).title(title.style(theme::title(focused)));
    let inner = block.inner(area);

    let mut counts: HashMap<&str, Counts> = HashMap::new();
    if let Some(snapshot) = app.snapshot() {
        let now = app.now_ms();
        for p in &snapshot.processes {
            let c = counts.entry(p.group.as_str()).or_default();
            c.alive += usize::from(p.pid.is_some());
            c.total += usize::from(p.mode != Mode::Off);
            c.flapping |= is_flapping(p, now);
        }
    }

    let kept = table::fit(&COLUMNS, inner.width);
    let height = usize::from(inner.height.saturating_sub(1));
    let offset = view.selected.map_or(0, |s| crate::app::scroll_into_view(view.offset, s, height));
    let rows = view.items.iter().enumerate().skip(offset).take(height).map(|(i, g)| {
        let c = counts.get(g.name.as_str()).copied().unwrap_or_default();
        let cells = [
            Cell::from(g.name.as_str()),
            Cell::from(g.level.as_deref().unwrap_or("-")),
            Cell::from(Span::styled(g.state.as_str(), theme::group_state(g.state))),
            Cell::from(format!("{}/{}", c.alive, c.total)),
            if c.flapping { Cell::from(Span::styled("!", theme::flag())) } else { Cell::from("") },
        ];
        let row = Row::new(kept.iter().map(|&k| cells[k].clone()));
        if view.selected == Some(i) { row.style(theme::selected(focused)) } else { row }
    });
    let header = Row::new(kept.iter().map(|&k| COLUMNS[k].title)).style(theme::header());
    let placeholder = view.items.is_empty();
    Table::new(rows, table::constraints(&COLUMNS, &kept))
        .header(header)
        .column_spacing(table::SPACING)
        .block(block)
        .render(area, buf);
    if placeholder {
        let text = match (app.snapshot(), app.filter().is_empty()) {
            (None, _) => "waiting for the daemon…",
            (Some(_), true) => "no groups in the isinittab",
            (Some(_), false) => "no group matches the filter",
        };
        let line_area = Rect { y: inner.y + 1, height: 1, ..inner };
        Line::styled(text, theme::muted()).render(line_area, buf);
    }
    table::scrollbar(area, view.items.len(), height, offset, buf);
}
