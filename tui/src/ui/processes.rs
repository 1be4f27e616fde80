//! The processes table of the selected group. Only the visible window of
//! rows is built, so a group of thousands scrolls as fast as one of ten.

use super::table::{self, Column};
use super::theme;
use crate::app::{App, Focus, scroll_into_view};
use isinit_shared::config::Mode;
use isinit_shared::time::{UnixMillis, human_duration};
use isinit_shared::{GroupUsage, Health, ProcessState, ProcessStatus, usage_by_group};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Row, Table, Widget};
use std::time::Duration;

/// How long a live process has been running, by the daemon's clock.
pub(super) fn uptime(p: &ProcessStatus, now_ms: UnixMillis) -> Option<String> {
    let started = p.started_at_ms.filter(|_| p.pid.is_some())?;
    Some(human_duration(Duration::from_millis(now_ms.saturating_sub(started))))
}

/// CPU use in percent of one core: one decimal below 100.
pub(super) fn cpu_text(percent: f64) -> String {
    if percent < 99.95 { format!("{percent:.1}") } else { format!("{percent:.0}") }
}

pub(super) use isinit_shared::protocol::rss_text;

/// The state cell's text and colour. A running `notify` process shows
/// whether it has reported `READY=1` — what its group's start waits for —
/// instead of a bare "running".
pub(super) fn state_label(p: &ProcessStatus) -> (&'static str, Style) {
    match (p.mode, p.state, p.ready) {
        (Mode::Notify, ProcessState::Running, true) => ("ready", theme::process_state(ProcessState::Running)),
        (Mode::Notify, ProcessState::Running, false) => ("not ready", theme::process_state(ProcessState::Waiting)),
        (_, state, _) => (state.as_str(), theme::process_state(state)),
    }
}

/// The mark after the state of a running entry with a `:::probe:` (SPEC
/// §17): a check passed, failed, or has not answered yet for this run.
pub(super) fn health_mark(p: &ProcessStatus) -> Option<(&'static str, Style)> {
    p.pid?;
    Some(match p.health? {
        Health::Healthy => (" ✓", theme::process_state(ProcessState::Running)),
        Health::Unhealthy => (" ✗", theme::error()),
        Health::NotProbed => (" ?", theme::muted()),
    })
}

/// Indices of the columns below, in display order.
const TAG: usize = 0;
const LEVELS: usize = 2;
const START_ERROR: usize = 10;

fn cells<'a>(p: &'a ProcessStatus, app: &App, kept: &[(usize, u16)]) -> [Cell<'a>; 11] {
    let width_of = |column| table::width_of(kept, column);
    let dash = || Cell::from(Span::styled("-", theme::muted()));
    // Figures only for what runs now; `…` until the first rate arrives.
    let usage = p.pid.and(app.usage_of(&p.tag));
    let cpu = match (p.pid, usage.and_then(|u| u.cpu_percent)) {
        (None, _) => dash(),
        (Some(_), None) => Cell::from(Span::styled("…", theme::muted())),
        (Some(_), Some(c)) => Cell::from(cpu_text(c)),
    };
    [
        Cell::from(table::clip_middle(&p.tag, width_of(TAG))),
        Cell::from(p.mode.as_str()),
        Cell::from(table::clip(&p.levels, width_of(LEVELS))),
        {
            let (text, style) = state_label(p);
            let mut spans = vec![Span::styled(text, style)];
            spans.extend(health_mark(p).map(|(mark, style)| Span::styled(mark, style)));
            Cell::from(Line::from(spans))
        },
        p.pid.map_or_else(dash, |pid| Cell::from(pid.to_string())),
        uptime(p, app.as_of_ms()).map_or_else(dash, Cell::from),
        Cell::from(p.respawns.to_string()),
        cpu,
        usage.map_or_else(dash, |u| Cell::from(rss_text(u.rss_bytes))),
        p.last_exit.map_or_else(dash, |e| {
            let style = if e.success() { theme::muted() } else { theme::error() };
            Cell::from(Span::styled(e.to_string(), style))
        }),
        p.start_error.as_deref().map_or_else(
            || Cell::from(""),
            |e| Cell::from(Span::styled(table::clip(e, width_of(START_ERROR)), theme::error())),
        ),
    ]
}

/// The selected group's share of the last usage sample: its entries' sum.
fn group_usage(app: &App, group: &str) -> Option<GroupUsage> {
    let snapshot = app.snapshot()?;
    usage_by_group(&snapshot.processes, app.usage_rows().values()).remove(group)
}

pub(super) fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let focused = app.focus() == Focus::Processes;
    let view = app.processes_view();
    let sort = app.sort();
    let heading = match app.selected_group() {
        Some(g) => format!(" processes of {} ", g.name),
        None => " processes ".to_owned(),
    };
    let mut title = vec![Span::styled(heading, theme::title(focused))];
    // SPEC §18: a group a cluster manager owns says whose it is.
    if let Some(owner) = app.selected_group().and_then(|g| g.owner.as_ref()) {
        title.push(Span::styled(format!("owned by {owner} "), theme::flag()));
    }
    if let Some(u) = app.selected_group().and_then(|g| group_usage(app, &g.name)) {
        let cpu = u.cpu_percent.map_or_else(|| "-".to_owned(), |pct| format!("{}%", cpu_text(pct)));
        title.push(Span::styled(format!("cpu {cpu} rss {} ", rss_text(u.rss_bytes)), theme::muted()));
    }
    if let Some(selected) = view.selected {
        title.push(Span::styled(format!("{}/{} ", selected + 1, view.items.len()), theme::muted()));
    }
    if sort.key.column().is_none() && sort.reversed {
        title.push(Span::styled("reverse file order ", theme::muted()));
    }
    let block = Block::bordered().border_style(theme::border(focused)).title(Line::from(title));
    let inner = block.inner(area);
    let items = &view.items;
    let tag_width = table::measure("tag", items.iter().map(|p| p.tag.as_str()), 24);
    let levels_width = table::measure("levels", items.iter().map(|p| p.levels.as_str()), 16);
    let states: Vec<String> =
        items.iter().map(|p| format!("{}{}", state_label(p).0, health_mark(p).map_or("", |m| m.0))).collect();
    let state_width = table::measure("state", states.iter().map(String::as_str), 17);
    let mut columns = [
        Column { min: 7, ..Column::fill("tag", tag_width) },
        Column::fixed("mode", 7, 7),
        Column::squeezable("levels", levels_width, 7, 7),
        Column::fixed("state", state_width, 0),
        Column::fixed("pid", 7, 1),
        Column::fixed("uptime", 6, 2),
        Column::fixed("↻", 3, 4),
        Column::fixed("cpu%", 5, 5),
        Column::fixed("rss", 5, 6),
        Column::fixed("last exit", 9, 3),
        // Only when the tags can have all the width they want: the start
        // error is also shown in the detail panel.
        Column::fixed("start error", 16 + tag_width.saturating_sub(7), 8),
    ];
    // The sorted column's header carries an arrow: one cell more.
    let sorted = sort.key.column().and_then(|title| columns.iter().position(|c| c.title == title));
    if let Some(c) = sorted.map(|i| &mut columns[i]) {
        c.width += 1;
        c.min += 1;
    }
    let tag_width = if sorted == Some(TAG) { tag_width + 1 } else { tag_width };
    let mut kept = table::layout(&columns, inner.width);
    if table::width_of(&kept, START_ERROR) > 0 {
        // Hand the tag column's spare width to the error column instead.
        let spare = table::width_of(&kept, TAG).saturating_sub(tag_width);
        for (k, w) in &mut kept {
            match *k {
                TAG => *w -= spare,
                START_ERROR => *w += spare,
                _ => {}
            }
        }
    }

    let height = usize::from(inner.height.saturating_sub(1));
    let offset = view.selected.map_or(0, |s| scroll_into_view(view.offset, s, height));
    let rows = view.items.iter().enumerate().skip(offset).take(height).map(|(i, p)| {
        let mut all = cells(p, app, &kept).map(Some);
        let row = Row::new(kept.iter().map(|&(k, _)| all[k].take().unwrap_or_default()));
        if view.selected == Some(i) { row.style(theme::selected(focused)) } else { row }
    });
    let header = Row::new(kept.iter().map(|&(k, _)| match sorted == Some(k) {
        true => Cell::from(Line::from(vec![Span::raw(columns[k].title), Span::styled(sort.arrow(), theme::key())])),
        false => Cell::from(columns[k].title),
    }))
    .style(theme::header());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_notify_process_shows_whether_it_is_ready() {
        let mut p = crate::fixture::process("db", "pg", Mode::Notify, "run", "postgres");
        assert_eq!(state_label(&p).0, "not started");
        p.state = ProcessState::Running;
        assert_eq!(state_label(&p).0, "not ready");
        p.ready = true;
        assert_eq!(state_label(&p).0, "ready");
        p.mode = Mode::Respawn;
        assert_eq!(state_label(&p).0, "running", "other modes keep their state");
    }

    #[test]
    fn a_probed_running_process_carries_a_health_mark() {
        let mut p = crate::fixture::process("web", "srv", Mode::Respawn, "run", "serve");
        p.health = Some(Health::Unhealthy);
        assert_eq!(health_mark(&p), None, "nothing runs, nothing to mark");
        p.pid = Some(7);
        assert_eq!(health_mark(&p).map(|m| m.0), Some(" ✗"));
        p.health = Some(Health::Healthy);
        assert_eq!(health_mark(&p).map(|m| m.0), Some(" ✓"));
        p.health = Some(Health::NotProbed);
        assert_eq!(health_mark(&p).map(|m| m.0), Some(" ?"));
        p.health = None;
        assert_eq!(health_mark(&p), None, "no probe, no mark");
    }

    #[test]
    fn figures_fit_their_columns() {
        assert_eq!(cpu_text(0.0), "0.0");
        assert_eq!(cpu_text(12.345), "12.3");
        assert_eq!(cpu_text(99.99), "100");
        assert_eq!(cpu_text(187.2), "187");
    }
}
