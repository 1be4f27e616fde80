//! The popup listing an invalid isinittab's errors, one `PATH:LINE:
//! message` a line, after a failed reload or tell.

use super::{popup_area, theme};
use crate::app::ErrorList;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Clear, Paragraph, Widget, Wrap};

pub(super) fn render(list: &ErrorList, area: Rect, buf: &mut Buffer) {
    let width = list.lines.iter().map(|l| l.chars().count()).max().unwrap_or(0).max(list.title.chars().count());
    let height = u16::try_from(list.lines.len()).unwrap_or(u16::MAX).saturating_add(2);
    let popup = popup_area(area, u16::try_from(width + 4).unwrap_or(u16::MAX), height);
    Clear.render(popup, buf);
    let more = if list.lines.len() > 1 {
        format!(" {}/{} · ↑↓ scroll · Esc closes ", list.scroll + 1, list.lines.len())
    } else {
        " Esc closes ".to_owned()
    };
    let block = Block::bordered()
        .border_style(theme::error())
        .title(Line::styled(format!(" {} ", list.title), theme::error()))
        .title_bottom(Line::styled(more, theme::muted()));
    let lines: Vec<Line> =
        list.lines[list.scroll.min(list.lines.len())..].iter().map(|l| Line::raw(l.as_str())).collect();
    Paragraph::new(lines).wrap(Wrap { trim: false }).block(block).render(popup, buf);
}
