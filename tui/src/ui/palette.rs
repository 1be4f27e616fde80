//! The `:` command palette: the line being typed and, after an ambiguous
//! Tab, the choices.

use super::theme;
use crate::app::Palette;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget, Wrap};

/// Draws the palette near the top of `area`; `commands` are its words,
/// listed until a Tab offers choices.
pub fn render(p: &Palette, commands: &[&str], area: Rect, buf: &mut Buffer) {
    let width = area.width.saturating_sub(4).min(90);
    let popup = Rect { x: area.x + (area.width - width) / 2, y: area.y + 2, width, height: 4.min(area.height) };
    Clear.render(popup, buf);
    let hint = if p.candidates.is_empty() {
        Line::styled(format!("{} · Tab completes", commands.join(" ")), theme::muted())
    } else {
        Line::styled(p.candidates.join("  "), theme::key())
    };
    let lines =
        vec![Line::from(vec![Span::styled(":", theme::key()), Span::raw(p.text.clone()), Span::raw("█")]), hint];
    let block =
        Block::bordered().border_style(theme::border(true)).title(Line::styled(" command ", theme::title(true)));
    Paragraph::new(lines).wrap(Wrap { trim: true }).block(block).render(popup, buf);
}
