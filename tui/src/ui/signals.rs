//! The signal picker: the signals an operator sends a service, each with
//! what it usually means.

use super::{popup_area, theme};
use crate::app::{SIGNALS, SignalPicker};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget};

pub(super) fn render(picker: &SignalPicker, area: Rect, buf: &mut Buffer) {
    let popup = popup_area(area, 66, u16::try_from(SIGNALS.len()).unwrap_or(u16::MAX) + 2);
    Clear.render(popup, buf);
    let whom = match picker.pid {
        Some(pid) => format!(" signal {} (process group {pid}) ", picker.tag),
        None => format!(" signal {} ", picker.tag),
    };
    let block = Block::bordered()
        .border_style(theme::border(true))
        .title(Line::styled(whom, theme::title(true)))
        .title_bottom(Line::styled(" ↑↓ choose · Enter send · Esc cancel ", theme::muted()));
    let lines: Vec<Line> = SIGNALS
        .iter()
        .enumerate()
        .map(|(i, (name, what))| {
            let line = Line::from(vec![
                Span::styled(format!(" {} SIG{name:<5} ", if i == picker.cursor { "›" } else { " " }), theme::key()),
                Span::raw(*what),
            ]);
            if i == picker.cursor { line.style(Style::new().add_modifier(Modifier::REVERSED)) } else { line }
        })
        .collect();
    Paragraph::new(lines).block(block).render(popup, buf);
}
