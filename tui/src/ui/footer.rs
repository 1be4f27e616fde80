//! The status line (the last request's outcome, or the filter being typed)
//! and the key hints for what the operator can do right now.

use super::theme;
use crate::app::{App, Focus, Mode, Tone};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

pub(super) fn render(app: &App, status: Rect, footer: Rect, buf: &mut Buffer) {
    status_line(app).render(status, buf);
    hints(app).render(footer, buf);
}

fn status_line(app: &App) -> Line<'_> {
    if matches!(app.mode(), Mode::Search) {
        return Line::from(vec![
            Span::styled(" search output: ", theme::key()),
            Span::raw(app.search().query.as_str()),
            Span::styled("▏", theme::key()),
        ]);
    }
    if matches!(app.mode(), Mode::Filter) {
        return Line::from(vec![
            Span::styled(" filter: ", theme::key()),
            Span::raw(app.filter()),
            Span::styled("▏", theme::key()),
        ]);
    }
    let Some(status) = app.status() else {
        if !app.filter().is_empty() {
            return Line::from(vec![
                Span::styled(" filter: ", theme::muted()),
                Span::raw(app.filter()),
                Span::styled("  (Esc clears)", theme::muted()),
            ]);
        }
        return Line::default();
    };
    let (mark, color) = match status.tone {
        Tone::Pending => ("…", Color::Yellow),
        Tone::Success => ("✓", Color::Green),
        Tone::Error => ("✗", Color::Red),
        Tone::Info => ("•", Color::Cyan),
    };
    Line::from(vec![
        Span::styled(format!(" {} ", app.time_zone().hms(status.at_ms)), theme::muted()),
        Span::styled(format!("{mark} {}", status.text), Style::new().fg(color)),
    ])
}

fn hints(app: &App) -> Line<'static> {
    let keys: &[(&str, &str)] = match app.mode() {
        Mode::Picker(_) => &[("↑↓", "choose"), ("type", "other level"), ("Enter", "switch"), ("Esc", "cancel")],
        Mode::Filter => &[("type", "filter"), ("↑↓", "move"), ("Enter", "keep"), ("Esc", "clear")],
        Mode::Help => &[("Esc", "close help")],
        Mode::Errors(_) | Mode::Inside(_) => &[("↑↓", "scroll"), ("Esc", "close")],
        Mode::Pulses => &[("P Esc", "close")],
        Mode::GroupLog(_) => &[("↑↓", "scroll"), ("G", "newest"), ("t", "timestamps"), ("Esc", "close")],
        Mode::Confirm(_) => &[("y", "yes, do it"), ("n Esc", "no")],
        Mode::Signals(_) => &[("↑↓", "choose"), ("Enter", "send"), ("Esc", "cancel")],
        Mode::Search => &[("type", "search"), ("Enter", "keep"), ("Esc", "clear")],
        Mode::Palette(_) => {
            &[("type", "command"), ("Tab", "complete"), ("↑↓", "history"), ("Enter", "run"), ("Esc", "cancel")]
        }
        Mode::Normal => match app.focus() {
            Focus::Output => &[
                ("↑↓", "scroll"),
                ("f", "follow"),
                ("/", "search"),
                ("n N", "next/prev"),
                ("w", "wrap"),
                ("R", "restart"),
                ("S", "signal"),
                ("?", "help"),
                ("q", "quit"),
            ],
            Focus::Processes => &[
                ("↑↓", "move"),
                ("Tab", "focus"),
                ("Enter", "level"),
                ("R", "restart"),
                ("S", "signal"),
                ("s", "sort"),
                ("?", "help"),
                ("q", "quit"),
            ],
            Focus::Groups => &[
                ("↑↓", "move"),
                ("Tab", "focus"),
                ("Enter", "level"),
                ("r", "reload"),
                ("/", "filter"),
                ("?", "help"),
                ("q", "quit"),
            ],
        },
    };
    let mut spans = vec![Span::raw(" ")];
    for (key, what) in keys {
        spans.push(Span::styled(*key, theme::key()));
        spans.push(Span::styled(format!(" {what}  "), theme::muted()));
    }
    Line::from(spans)
}
