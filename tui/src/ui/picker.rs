//! The level picker popup: the group's levels and a free-text line on the
//! left, the daemon's dry-run preview of the highlighted level on the right.

use super::{popup_area, theme};
use crate::app::{App, Picker, Preview};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget, Wrap};

/// Width of the levels column.
const LEVELS_WIDTH: u16 = 22;

pub(super) fn render(picker: &Picker, app: &App, area: Rect, buf: &mut Buffer) {
    let rows = u16::try_from(picker.levels.len()).unwrap_or(u16::MAX).saturating_add(6).max(12);
    let popup = popup_area(area, 76, rows);
    Clear.render(popup, buf);
    let block = Block::bordered()
        .border_style(theme::border(true))
        .title(Line::styled(format!(" switch {} to a level ", picker.group), theme::title(true)))
        .title_bottom(Line::styled(" ↑↓ choose · type a level · Enter switch · Esc cancel ", theme::muted()));
    let inner = block.inner(popup);
    block.render(popup, buf);

    let [now, body] = Layout::vertical([Constraint::Length(2), Constraint::Fill(1)]).areas(inner);
    let group = app.snapshot().and_then(|s| s.group(&picker.group));
    let state = group.map(|g| g.state);
    let mut current = vec![Span::styled(" now at level ", theme::muted())];
    current.push(Span::styled(picker.current.as_deref().unwrap_or("-"), Style::new().add_modifier(Modifier::BOLD)));
    if let Some(state) = state {
        current.push(Span::raw(" "));
        current.push(Span::styled(state.as_str(), theme::group_state(state)));
    }
    // SPEC §18: the daemon refuses a switch of an owned group from here.
    if let Some(owner) = group.and_then(|g| g.owner.as_ref()) {
        current.push(Span::styled(format!(" · owned by {owner}: switch it through {}", owner.manager), theme::flag()));
    }
    Line::from(current).render(now, buf);

    let [levels, preview] = Layout::horizontal([Constraint::Length(LEVELS_WIDTH), Constraint::Fill(1)]).areas(body);
    render_levels(picker, levels, buf);
    render_preview(picker, preview, buf);
}

fn render_levels(picker: &Picker, area: Rect, buf: &mut Buffer) {
    let block = Block::new().borders(Borders::RIGHT).border_style(theme::border(false));
    let inner = block.inner(area);
    block.render(area, buf);
    let highlight = Style::new().add_modifier(Modifier::REVERSED);
    let mut lines: Vec<Line> = vec![Line::styled("  levels", theme::header())];
    // Keep the highlight on screen when a group names more levels than fit.
    let room = usize::from(inner.height.saturating_sub(2));
    let skip = (picker.cursor + 1).saturating_sub(room).min(picker.levels.len());
    for (i, level) in picker.levels.iter().enumerate().skip(skip).take(room) {
        let marker = if picker.current.as_deref() == Some(level.as_str()) { " (now)" } else { "" };
        let line = if i == picker.cursor {
            Line::from(format!("› {level}{marker}")).style(highlight)
        } else {
            Line::from(format!("  {level}{marker}"))
        };
        lines.push(line);
    }
    let typed = Line::from(vec![
        Span::raw(if picker.on_text_line() { "› " } else { "  " }),
        Span::styled("other: ", theme::muted()),
        Span::raw(picker.typed.as_str()),
        Span::styled(if picker.on_text_line() { "▏" } else { "" }, theme::key()),
    ]);
    lines.push(if picker.on_text_line() { typed.style(highlight) } else { typed });
    Paragraph::new(lines).render(inner, buf);
}

/// A labelled list of tags, or a dash.
fn tags_line<'a>(label: &'a str, tags: &'a [String], color: Color) -> Line<'a> {
    let value = if tags.is_empty() { "-".to_owned() } else { tags.join(", ") };
    Line::from(vec![
        Span::styled(format!(" {label:<6}"), Style::new().fg(color).add_modifier(Modifier::BOLD)),
        Span::raw(value),
    ])
}

fn render_preview(picker: &Picker, area: Rect, buf: &mut Buffer) {
    let heading = |level: &str| Line::styled(format!(" tell {} {level}", picker.group), theme::header());
    let lines: Vec<Line> = match &picker.preview {
        Preview::Nothing => vec![Line::styled(" type a level name", theme::muted())],
        Preview::Invalid(why) => vec![Line::styled(format!(" {why}"), theme::error())],
        Preview::Pending(level) => vec![heading(level), Line::styled(" asking the daemon…", theme::muted())],
        Preview::Failed { level, failure } => {
            let mut lines =
                vec![heading(level), Line::styled(format!(" cannot preview: {}", failure.message), theme::error())];
            lines.extend(failure.details.iter().map(|d| Line::styled(format!(" {d}"), theme::error())));
            lines
        }
        Preview::Ready(plan) => {
            let mut lines = vec![heading(&plan.level)];
            if let Some(error) = &plan.error {
                lines.push(Line::styled(format!(" would fail: {error}"), theme::error()));
            } else {
                lines.push(tags_line("stop", &plan.stop, Color::Red));
                lines.push(tags_line("keep", &plan.keep, Color::Reset));
                lines.push(tags_line("start", &plan.start, Color::Green));
                lines.push(tags_line("done", &plan.done, Color::DarkGray));
                if plan.stop.is_empty() && plan.start.is_empty() {
                    lines.push(Line::styled(" nothing would change", theme::muted()));
                }
            }
            lines
        }
    };
    Paragraph::new(lines).wrap(Wrap { trim: false }).render(area, buf);
}
