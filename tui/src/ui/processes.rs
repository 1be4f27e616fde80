//! The processes table of the selected group. Only the visible window of
//! rows is built, so a group of thousands scrolls as fast as one of ten.

use super::table::{self, Column};
use super::theme;
use crate::app::{App, Focus, scroll_into_view};
use isinit_shared::ProcessStatus;
use isinit_shared::time::{UnixMillis, human_duration};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Row, Table, Widget};
use std::time::Duration;

const COLUMNS: [Column; 9] = [
    Column { title: "tag", width: 7, fill: true, priority: 0 },
    Column { title: "mode", width: 7, fill: false, priority: 6 },
    Column { title: "levels", width: 7, fill: false, priority: 7 },
    Column { title: "state", width: 11, fill: false, priority: 0 },
    Column { title: "pid", width: 7, fill: false, priority: 1 },
    Column { title: "uptime", width: 6, fill: false, priority: 2 },
    Column { title: "↻", width: 3, fill: false, priority: 4 },
    Column { title: "last exit", width: 9, fill: false, priority: 3 },
    Column { title: "start error", width: 16, fill: false, priority: 8 },
];

/// How long a live process has been running, by the daemon's clock.
pub(super) fn uptime(p: &ProcessStatus, now_ms: UnixMillis) -> Option<String> {
    let started = p.started_at_ms.filter(|_| p.pid.is_some())?;
    Some(human_duration(Duration::from_millis(now_ms.saturating_sub(started))))
}

fn cells(p: &ProcessStatus, now_ms: UnixMillis) -> [Cell<'_>; 9] {
    let dash = || Cell::from(Span::styled("-", theme::muted()));
    [
        Cell::from(p.tag.as_str()),
        Cell::from(p.mode.as_str()),
        Cell::from(p.levels.as_str()),
        Cell::from(Span::styled(p.state.as_str(), theme::process_state(p.state))),
        p.pid.map_or_else(dash, |pid| Cell::from(pid.to_string())),
        uptime(p, now_ms).map_or_else(dash, Cell::from),
        Cell::from(p.respawns.to_string()),
        p.last_exit.map_or_else(dash, |e| {
            let style = if e.success() { theme::muted() } else { theme::error() };
            Cell::from(Span::styled(e.to_string(), style))
        }),
        p.start_error.as_deref().map_or_else(|| Cell::from(""), |e| Cell::from(Span::styled(e, theme::error()))),
    ]
}

pub(super) fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let focused = app.focus() == Focus::Processes;
    let view = app.processes_view();
    let group = app.selected_group().map_or("", |g| g.name.as_str());
    let mut title = vec![Span::styled(format!(" processes of {group} "), theme::title(focused))];
    if let Some(selected) = view.selected {
        title.push(Span::styled(format!("{}/{} ", selected + 1, view.items.len()), theme::muted()));
    }
    let block = Block::bordered().border_style(theme::border(focused)).title(Line::from(title));
    let inner = block.inner(area);
    // Tags get the width they need (up to a limit) before the start error
    // column appears; that column then takes the rest. Without it, the tag
    // column takes the rest.
    let tag_width = view.items.iter().map(|p| p.tag.chars().count()).max().unwrap_or(0).clamp(7, 24) as u16;
    let mut columns = COLUMNS;
    columns[8].width += tag_width - columns[0].width;
    let mut kept = table::fit(&columns, inner.width);
    if kept.contains(&8) {
        columns[0] = Column { width: tag_width, fill: false, ..columns[0] };
        columns[8].fill = true;
    } else {
        kept.retain(|&k| k != 8);
    }

    let height = usize::from(inner.height.saturating_sub(1));
    let offset = view.selected.map_or(0, |s| scroll_into_view(view.offset, s, height));
    let now = app.now_ms();
    let rows = view.items.iter().enumerate().skip(offset).take(height).map(|(i, p)| {
        let mut all = cells(p, now).map(Some);
        let row = Row::new(kept.iter().map(|&k| all[k].take().unwrap_or_default()));
        if view.selected == Some(i) { row.style(theme::selected(focused)) } else { row }
    });
    let header = Row::new(kept.iter().map(|&k| columns[k].title)).style(theme::header());
    Table::new(rows, table::constraints(&columns, &kept))
        .header(header)
        .column_spacing(table::SPACING)
        .block(block)
        .render(area, buf);
    if view.items.is_empty() && app.snapshot().is_some() {
        let text = if app.selected_group().is_some() { "no processes" } else { "no group selected" };
        Line::styled(text, theme::muted()).render(Rect { y: inner.y + 1, height: 1, ..inner }, buf);
    }
    table::scrollbar(area, view.items.len(), height, offset, buf);
}
