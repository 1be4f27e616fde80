//! The y/n question before a restart or retry: what exactly will happen,
//! so an operator on call cannot restart the wrong thing by a stray key.

use super::{popup_area, theme};
use crate::app::Confirm;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget, Wrap};

pub(super) fn render(confirm: &Confirm, area: Rect, buf: &mut Buffer) {
    let width = confirm.lines.iter().map(|l| l.chars().count()).max().unwrap_or(0).max(40) + 4;
    let height = u16::try_from(confirm.lines.len()).unwrap_or(u16::MAX).saturating_add(4);
    let popup = popup_area(area, u16::try_from(width).unwrap_or(u16::MAX), height);
    Clear.render(popup, buf);
    let block = Block::bordered()
        .border_style(theme::flag())
        .title(Line::styled(format!(" {} ", confirm.title), theme::flag()))
        .title_bottom(Line::from(vec![
            Span::styled(" y ", theme::key()),
            Span::styled("yes, do it · ", theme::muted()),
            Span::styled("n Esc ", theme::key()),
            Span::styled("no ", theme::muted()),
        ]));
    let mut lines: Vec<Line> = confirm.lines.iter().map(|l| Line::raw(format!(" {l}"))).collect();
    lines.push(Line::default());
    lines.push(Line::from(vec![
        Span::raw(" "),
        Span::styled(format!("{}? [y/n]", confirm.action.describe()), theme::key()),
    ]));
    Paragraph::new(lines).wrap(Wrap { trim: false }).block(block).render(popup, buf);
}
