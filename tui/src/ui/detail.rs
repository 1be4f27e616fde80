//! The selected process in detail: its command, its recent exits and its
//! output, scrollable and optionally following the newest line.

use super::theme;
use crate::app::{App, Focus, OutputState, OutputView, Scroll, match_ranges};
use crate::clock::TimeZone;
use isinit_shared::config::Mode;
use isinit_shared::time::human_duration;
use isinit_shared::{ExitRecord, Health, ProcessState, ProcessStatus};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget};
use std::time::Duration;

/// Width of the exits column, borders included.
const EXITS_WIDTH: u16 = 27;

pub(super) fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let focused = app.focus() == Focus::Output;
    let process = app.selected_process();
    let block = Block::bordered().border_style(theme::border(focused)).title(title(process, focused)).title_bottom(
        if process.is_some() { scroll_hint(app.output(), app.viewport().output) } else { Line::default() },
    );
    let inner = block.inner(area);
    block.render(area, buf);
    let Some(p) = process else {
        Line::styled(" no process selected", theme::muted()).render(inner, buf);
        return;
    };

    let [command, body] = Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(inner);
    command_line(p, app.time_zone()).render(command, buf);
    let [exits, output] = Layout::horizontal([Constraint::Length(EXITS_WIDTH), Constraint::Fill(1)]).areas(body);
    render_exits(p, app.time_zone(), exits, buf);
    render_output(app, output, buf);
}

fn title(process: Option<&ProcessStatus>, focused: bool) -> Line<'static> {
    let Some(p) = process else { return Line::styled(" output ", theme::title(focused)) };
    let mut spans = vec![
        Span::styled(format!(" {} ", p.tag), theme::title(focused)),
        Span::styled(format!("{} · levels {} ", p.mode, p.levels), theme::muted()),
    ];
    if !p.listen.is_empty() {
        // The sockets the daemon holds for it (SPEC §17): open even while
        // no process runs, so a client waits rather than being refused.
        spans.push(Span::styled(format!("· listens on {} ", p.listen.join(", ")), theme::muted()));
    }
    if !p.in_file {
        spans.push(Span::styled("· removed from the isinittab ", theme::error()));
    }
    Line::from(spans)
}

/// The command, and whatever keeps it from running; for a `notify`
/// process, whether it is ready and the last `STATUS=` text it reported.
fn command_line(p: &ProcessStatus, tz: TimeZone) -> Line<'_> {
    let mut spans = Vec::new();
    if p.mode == Mode::Notify && p.pid.is_some() {
        spans.push(match p.ready {
            true => Span::styled("ready ", theme::process_state(ProcessState::Running)),
            false => Span::styled("not ready ", theme::process_state(ProcessState::Waiting)),
        });
    }
    if let Some(text) = &p.status_text {
        spans.push(Span::styled(format!("status: {text} "), theme::header()));
    }
    if let (Some(health), Some(_)) = (p.health, p.pid) {
        let style = if health == Health::Unhealthy { theme::error() } else { theme::muted() };
        spans.push(Span::styled(format!("{health} "), style));
    }
    if let Some(reason) = &p.health_reason {
        spans.push(Span::styled(format!("last failed check: {reason} "), theme::muted()));
    }
    if let Some(e) = &p.start_error {
        spans.push(Span::styled(format!("cannot start: {e} "), theme::error()));
    }
    if let Some(until) = p.backoff_until_ms {
        spans.push(Span::styled(format!("throttled until {} ", tz.hms(until)), theme::flag()));
    }
    spans.push(Span::styled("$ ", theme::muted()));
    spans.push(Span::raw(p.command.as_str()));
    Line::from(spans)
}

/// How long a run lasted: tenths of a second for short ones, which is
/// what tells a crash loop from a slow failure.
fn ran_for(ms: u64) -> String {
    if ms < 10_000 { format!("{:.1}s", ms as f64 / 1000.0) } else { human_duration(Duration::from_millis(ms)) }
}

fn exit_line(e: &ExitRecord, tz: TimeZone) -> Line<'static> {
    let style = if e.status.success() { theme::muted() } else { theme::error() };
    Line::from(vec![
        Span::raw(tz.hms(e.at_ms)),
        Span::raw(" "),
        Span::styled(format!("{:<9}", e.status.to_string()), style),
        Span::styled(format!(" {:>6}", ran_for(e.ran_ms)), theme::muted()),
        Span::styled(e.reason.map_or(String::new(), |r| format!(" {r}")), theme::error()),
    ])
}

fn render_exits(p: &ProcessStatus, tz: TimeZone, area: Rect, buf: &mut Buffer) {
    let block = Block::new().borders(Borders::RIGHT).border_style(theme::border(false));
    let inner = block.inner(area);
    block.render(area, buf);
    let respawns = match p.respawns {
        1 => "1 respawn".to_owned(),
        n => format!("{n} respawns"),
    };
    let mut lines = vec![Line::styled(format!("exits · {respawns}"), theme::header())];
    if p.recent_exits.is_empty() {
        lines.push(Line::styled("none yet", theme::muted()));
    }
    // Newest first: the top of the list is what just happened.
    lines.extend(p.recent_exits.iter().rev().take(usize::from(inner.height)).map(|e| exit_line(e, tz)));
    Paragraph::new(lines).render(inner, buf);
}

fn render_output(app: &App, area: Rect, buf: &mut Buffer) {
    let output = app.output();
    let area = Rect { x: area.x + 1, width: area.width.saturating_sub(1), ..area };
    let height = usize::from(area.height);
    let lines = output.lines();
    if lines.is_empty() {
        let text = match output.state() {
            OutputState::Idle => "",
            OutputState::Loading => "loading output…",
            OutputState::Live => "no output yet",
            OutputState::Ended(reason) => reason.as_str(),
        };
        Line::styled(text, theme::muted()).render(area, buf);
        return;
    }
    let needle = app.search().query.to_ascii_lowercase();
    let current = app.search().current;
    let width = usize::from(area.width).max(1);
    let wrap = output.wraps();
    let rows_of = |i: usize| {
        let is_current = current == Some(output.line_number(i));
        line_rows(&lines[i], &needle, is_current, width, wrap)
    };
    let top = output.top(height);
    let rows: Vec<Line> = if wrap && output.scroll() == Scroll::Follow {
        // Anchored at the bottom: the newest line's last row is the last row.
        let mut rows: Vec<Line> = Vec::new();
        for i in (0..lines.len()).rev() {
            let mut line = rows_of(i);
            line.append(&mut rows);
            rows = line;
            if rows.len() >= height {
                break;
            }
        }
        let skip = rows.len().saturating_sub(height);
        rows.into_iter().skip(skip).collect()
    } else {
        (top..lines.len()).flat_map(rows_of).take(height).collect()
    };
    Paragraph::new(rows).render(area, buf);
}

/// One line of output as screen rows: the search's matches highlighted
/// (brighter on the current match's line), cut into rows of `width`
/// characters when wrapping, else one row that the panel's edge clips.
fn line_rows(text: &str, needle: &str, is_current: bool, width: usize, wrap: bool) -> Vec<Line<'static>> {
    let hit = if is_current { theme::search_current() } else { theme::search_match() };
    let mut pieces: Vec<(String, Style)> = Vec::new();
    let mut at = 0;
    for (start, end) in match_ranges(text, needle) {
        if start > at {
            pieces.push((text[at..start].to_string(), Style::new()));
        }
        pieces.push((text[start..end].to_string(), hit));
        at = end;
    }
    if at < text.len() || pieces.is_empty() {
        pieces.push((text[at..].to_string(), Style::new()));
    }
    if !wrap {
        return vec![Line::from(pieces.into_iter().map(|(t, s)| Span::styled(t, s)).collect::<Vec<_>>())];
    }
    let mut rows: Vec<Vec<Span<'static>>> = vec![Vec::new()];
    let mut used = 0;
    for (piece, style) in pieces {
        let mut rest: &str = &piece;
        while !rest.is_empty() {
            if used == width {
                rows.push(Vec::new());
                used = 0;
            }
            let take = rest.char_indices().nth(width - used).map_or(rest.len(), |(i, _)| i);
            let (head, tail) = rest.split_at(take);
            used += head.chars().count();
            if let Some(row) = rows.last_mut() {
                row.push(Span::styled(head.to_string(), style));
            }
            rest = tail;
        }
    }
    rows.into_iter().map(Line::from).collect()
}

/// Bottom title: where the output view is and whether it follows.
fn scroll_hint(output: &OutputView, height: usize) -> Line<'static> {
    let total = output.lines().len();
    let end = (output.top(height) + height).min(total);
    let mut spans = vec![match output.scroll() {
        Scroll::Follow => Span::styled(" following ", theme::muted()),
        Scroll::Pinned { .. } => Span::styled(" paused (f: follow) ", theme::flag()),
    }];
    if total > 0 {
        spans.push(Span::styled(format!("lines {}-{end} of {total} ", output.top(height) + 1), theme::muted()));
    }
    if output.wraps() {
        spans.push(Span::styled("· wrapped ", theme::muted()));
    }
    if let OutputState::Ended(reason) = output.state() {
        spans.push(Span::styled(format!("stream ended: {reason} "), theme::error()));
    }
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_title_names_the_held_sockets() {
        let mut p = crate::fixture::process("web", "srv", Mode::Respawn, "run", "serve");
        let text = |l: Line| l.spans.iter().map(|s| s.content.to_string()).collect::<String>();
        assert_eq!(text(title(Some(&p), false)), " srv respawn · levels run ");
        p.listen = vec!["tcp:127.0.0.1:8080".into(), "unix:/run/srv.sock".into()];
        assert_eq!(
            text(title(Some(&p), false)),
            " srv respawn · levels run · listens on tcp:127.0.0.1:8080, unix:/run/srv.sock "
        );
    }

    fn texts(rows: &[Line]) -> Vec<String> {
        rows.iter().map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect()).collect()
    }

    #[test]
    fn rows_wrap_at_the_width_and_keep_the_highlight() {
        let rows = line_rows("abcdefghij", "def", false, 4, true);
        assert_eq!(texts(&rows), ["abcd", "efgh", "ij"]);
        let styled: Vec<(&str, Style)> =
            rows.iter().flat_map(|l| l.spans.iter().map(|s| (s.content.as_ref(), s.style))).collect();
        assert_eq!(styled[1], ("d", theme::search_match()));
        assert_eq!(styled[2], ("ef", theme::search_match()));
        assert_eq!(texts(&line_rows("abcdefghij", "", false, 4, false)), ["abcdefghij"]);
        assert_eq!(texts(&line_rows("", "x", false, 4, true)), [""]);
        assert_eq!(texts(&line_rows("héllo", "", false, 2, true)), ["hé", "ll", "o"]);
    }
}
