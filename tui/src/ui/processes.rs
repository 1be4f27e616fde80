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

/// How long a live process has been running, by the daemon's clock.
pub(super) fn uptime(p: &ProcessStatus, now_ms: UnixMillis) -> Option<String> {
    let started = p.started_at_ms.filter(|_| p.pid.is_some())?;
    Some(human_duration(Duration::from_millis(now_ms.saturating_sub(started))))
}

fn cells<'a>(p: &'a ProcessStatus, now_ms: UnixMillis, kept: &[(usize, u16)]) -> [Cell<'a>; 9] {
    let width_of = |column| table::width_of(kept, column);
    let dash = || Cell::from(Span::styled("-", theme::muted()));
    [
        Cell::from(table::clip_middle(&p.tag, width_of(0))),
        Cell::from(p.mode.as_str()),
        Cell::from(table::clip(&p.levels, width_of(2))),
        Cell::from(Span::styled(p.state.as_str(), theme::process_state(p.state))),
        p.pid.map_or_else(dash, |pid| Cell::from(pid.to_string())),
        uptime(p, now_ms).map_or_else(dash, Cell::from),
        Cell::from(p.respawns.to_string()),
        p.last_exit.map_or_else(dash, |e| {
            let style = if e.success() { theme::muted() } else { theme::error() };
            Cell::from(Span::styled(e.to_string(), style))
        }),
        p.start_error
            .as_deref()
            .map_or_else(|| Cell::from(""), |e| Cell::from(Span::styled(table::clip(e, width_of(8)), theme::error()))),
    ]
}

pub(super) fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let focused = app.focus() == Focus::Processes;
    let view = app.processes_view();
    let heading = match app.selected_group() {
        Some(g) => format!(" processes of {} ", g.name),
        None => " processes ".to_owned(),
    };
    let mut title = vec![Span::styled(heading, theme::title(focused))];
    if let Some(selected) = view.selected {
        title.push(Span::styled(format!("{}/{} ", selected + 1, view.items.len()), theme::muted()));
    }
    let block = Block::bordered().border_style(theme::border(focused)).title(Line::from(title));
    let inner = block.inner(area);
    let items = &view.items;
    let tag_width = table::measure("tag", items.iter().map(|p| p.tag.as_str()), 24);
    let levels_width = table::measure("levels", items.iter().map(|p| p.levels.as_str()), 16);
    let state_width = table::measure("state", items.iter().map(|p| p.state.as_str()), 15);
    let columns = [
        Column { min: 7, ..Column::fill("tag", tag_width) },
        Column::fixed("mode", 7, 6),
        Column::squeezable("levels", levels_width, 7, 5),
        Column::fixed("state", state_width, 0),
        Column::fixed("pid", 7, 1),
        Column::fixed("uptime", 6, 2),
        Column::fixed("↻", 3, 4),
        Column::fixed("last exit", 9, 3),
        // Only when the tags can have all the width they want: the start
        // error is also shown in the detail panel.
        Column::fixed("start error", 16 + tag_width.saturating_sub(7), 8),
    ];
    let mut kept = table::layout(&columns, inner.width);
    if table::width_of(&kept, 8) > 0 {
        // Hand the tag column's spare width to the error column instead.
        let spare = table::width_of(&kept, 0).saturating_sub(tag_width);
        for (k, w) in &mut kept {
            match *k {
                0 => *w -= spare,
                8 => *w += spare,
                _ => {}
            }
        }
    }

    let height = usize::from(inner.height.saturating_sub(1));
    let offset = view.selected.map_or(0, |s| scroll_into_view(view.offset, s, height));
    let now = app.as_of_ms();
    let rows = view.items.iter().enumerate().skip(offset).take(height).map(|(i, p)| {
        let mut all = cells(p, now, &kept).map(Some);
        let row = Row::new(kept.iter().map(|&(k, _)| all[k].take().unwrap_or_default()));
        if view.selected == Some(i) { row.style(theme::selected(focused)) } else { row }
    });
    let header = Row::new(kept.iter().map(|&(k, _)| columns[k].title)).style(theme::header());
    Table::new(rows, table::constraints(&kept))
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
