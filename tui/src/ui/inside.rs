//! The `x` and `A` popups: the x-ray of an entry (its processes as a tree,
//! strays marked) and the timeline of a group's last switch as a Gantt
//! strip, one bar per stop or start on a shared time axis.

use super::processes::{cpu_text, rss_text};
use super::{popup_area, theme};
use crate::app::{Inside, InsideContent, InsideKind};
use isinit_shared::protocol::timeline::waited_on;
use isinit_shared::protocol::{EntryProcesses, StepAction, SwitchStep, SwitchTimeline};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget};

pub(super) fn render(open: &Inside, area: Rect, buf: &mut Buffer) {
    let title = match &open.kind {
        InsideKind::Xray { tag } => format!(" x-ray: {tag} "),
        InsideKind::Timeline { group } => format!(" last switch of {group} "),
    };
    let popup = popup_area(area, area.width.saturating_sub(8), area.height.saturating_sub(4));
    Clear.render(popup, buf);
    let inner_width = usize::from(popup.width.saturating_sub(2));
    let (heading, rows) = match &open.content {
        InsideContent::Loading => (None, vec![Line::styled("asking the daemon…", theme::muted())]),
        InsideContent::Failed(reason) => (None, vec![Line::styled(reason.clone(), theme::error())]),
        InsideContent::Processes(entries) => xray(entries),
        InsideContent::Timeline(t) => timeline(t, inner_width),
    };
    let shown = rows.len().saturating_sub(open.scroll.min(rows.len()));
    let footer = format!(" {}/{} · ↑↓ scroll · Esc closes ", (open.scroll + 1).min(rows.len()), rows.len());
    let block = Block::bordered()
        .border_style(theme::border(true))
        .title(Line::styled(title, theme::title(true)))
        .title_bottom(Line::styled(footer, theme::muted()));
    let mut lines: Vec<Line> = heading.into_iter().collect();
    lines.extend(rows.into_iter().skip(open.scroll).take(shown));
    Paragraph::new(lines).block(block).render(popup, buf);
}

/// `PID PPID RSS CPU% COMMAND`, children indented, strays marked.
fn xray(entries: &[EntryProcesses]) -> (Option<Line<'static>>, Vec<Line<'static>>) {
    let heading =
        Line::styled(format!("{:>7} {:>7} {:>5} {:>5}  COMMAND", "PID", "PPID", "RSS", "CPU%"), theme::header());
    let mut rows = Vec::new();
    for e in entries {
        for p in &e.processes {
            let indent =
                if p.depth == 0 { String::new() } else { format!("{}└ ", "  ".repeat(p.depth as usize - 1)) };
            let numbers =
                format!("{:>7} {:>7} {:>5} {:>5}  ", p.pid, p.ppid, rss_text(p.rss_bytes), cpu_text(p.cpu_percent));
            let mut spans = vec![Span::raw(numbers), Span::raw(indent)];
            if p.stray {
                spans.push(Span::styled("stray ", theme::flag()));
            }
            spans.push(Span::raw(p.command.clone()));
            rows.push(Line::from(spans));
        }
        if e.omitted > 0 {
            rows.push(Line::styled(format!("… {} more not shown", e.omitted), theme::muted()));
        }
    }
    if rows.is_empty() {
        rows.push(Line::styled("nothing of it runs", theme::muted()));
    }
    (Some(heading), rows)
}

/// Seconds with milliseconds, from microseconds.
fn secs(us: u64) -> String {
    format!("{}.{:03}s", us / 1_000_000, (us / 1000) % 1000)
}

/// Where a step's bar ends: when it was over (stopped, exited), or the
/// end of the axis for a process still running.
fn bar_end(s: &SwitchStep, span: u64) -> u64 {
    s.ended_us.unwrap_or(span)
}

/// One row per step: offset, tag, a bar on the switch's time axis, what
/// held it back.
fn timeline(t: &SwitchTimeline, width: usize) -> (Option<Line<'static>>, Vec<Line<'static>>) {
    let outcome = match (t.result, t.finished_us) {
        (Some(r), Some(at)) => format!("{} after {}", r.as_str(), secs(at)),
        _ => "still switching".to_owned(),
    };
    let heading = Line::styled(format!("{} told {}: {outcome}", t.group, t.level), theme::header());
    let span = t
        .steps
        .iter()
        .flat_map(|s| [Some(s.began_us), s.spawned_us, s.ready_us, s.ended_us])
        .flatten()
        .chain(t.finished_us)
        .max()
        .unwrap_or(0)
        .max(1);
    let tag_width = t.steps.iter().map(|s| s.tag.chars().count()).max().unwrap_or(0).min(16);
    let holders = waited_on(t);
    // offset (8) + tag + 2 spaces on either side of the bar + ~20 of note.
    let bar_width = width.saturating_sub(8 + tag_width + 4 + 22).max(10);
    let col = |us: u64| ((u128::from(us) * bar_width as u128) / u128::from(span)) as usize;
    let rows = t
        .steps
        .iter()
        .zip(&holders)
        .map(|(s, holder)| {
            let (from, to) = (col(s.began_us).min(bar_width - 1), col(bar_end(s, span)).min(bar_width));
            let len = to.saturating_sub(from).max(1);
            let color = match s.action {
                StepAction::Stop => Color::Red,
                StepAction::Start if s.mode.gates_start() => Color::Yellow,
                StepAction::Start => Color::Green,
            };
            let note = match holder.and_then(|h| t.steps.get(h)) {
                Some(h) if h.action == StepAction::Stop => format!("after stop of {}", h.tag),
                Some(h) => format!("after {}", h.tag),
                None => String::new(),
            };
            let tag: String = s.tag.chars().take(tag_width).collect();
            Line::from(vec![
                Span::raw(format!("+{:<7} {tag:<tag_width$}  ", secs(s.began_us))),
                Span::raw(" ".repeat(from)),
                Span::styled("█".repeat(len), Style::new().fg(color)),
                Span::raw(" ".repeat(bar_width.saturating_sub(from + len) + 2)),
                Span::styled(note, theme::muted()),
            ])
        })
        .collect();
    (Some(heading), rows)
}
