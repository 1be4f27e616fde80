//! Two header lines: which daemon and file this is, and whether it can be
//! heard — the one thing an operator must never misread.

use super::theme;
use crate::app::{App, Connection};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

pub(super) fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let identity = match app.snapshot() {
        Some(s) => {
            let d = &s.daemon;
            let sha = d.config_sha256.get(..8).unwrap_or(&d.config_sha256);
            Line::from(vec![
                Span::styled(" isinit ", Style::new().fg(Color::Black).bg(Color::Cyan).add_modifier(Modifier::BOLD)),
                Span::styled(format!(" {}  ", d.hostname), Style::new().add_modifier(Modifier::BOLD)),
                Span::raw(format!("pid {}  v{}  ", d.pid, d.version)),
                Span::raw(d.config_path.as_str()),
                Span::styled(" sha256:", theme::muted()),
                Span::raw(sha),
            ])
        }
        None => Line::from(vec![
            Span::styled(" isinit ", Style::new().fg(Color::Black).bg(Color::Cyan).add_modifier(Modifier::BOLD)),
            Span::styled(format!(" socket {}", app.socket().display()), theme::muted()),
        ]),
    };

    let halting = app.snapshot().is_some_and(|s| s.daemon.halting);
    let state = match app.connection() {
        Connection::Connecting => {
            Line::styled(format!(" connecting to {}…", app.socket().display()), Style::new().fg(Color::Yellow))
        }
        Connection::Connected if halting => Line::styled(
            " ● connected — the daemon is shutting down, stopping every process",
            Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD),
        ),
        Connection::Connected => {
            let mut spans = vec![Span::styled(" ● connected", Style::new().fg(Color::Green))];
            if let Some(s) = app.snapshot() {
                let alive = s.processes.iter().filter(|p| p.pid.is_some()).count();
                let summary = format!("  {} groups, {} processes, {alive} alive", s.groups.len(), s.processes.len());
                spans.push(Span::styled(summary, theme::muted()));
            }
            Line::from(spans)
        }
        Connection::Disconnected { since_ms, reason } => {
            let what = if app.snapshot().is_some() {
                format!(" DISCONNECTED — daemon gone since {}, reconnecting… ", app.time_zone().hms(*since_ms))
            } else {
                format!(" DISCONNECTED — no daemon since {}, retrying… ", app.time_zone().hms(*since_ms))
            };
            let mut spans =
                vec![Span::styled(what, Style::new().fg(Color::White).bg(Color::Red).add_modifier(Modifier::BOLD))];
            spans.push(Span::styled(format!(" {reason}"), theme::muted()));
            Line::from(spans)
        }
    };
    Paragraph::new(vec![identity, state]).render(area, buf);
}
