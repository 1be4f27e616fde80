//! The `L` view: one log of a whole group, each line `TAG | text` with the
//! tag in a colour of its own (the same tag always gets the same colour),
//! optionally after `HH:MM:SS.mmm`; the newest line at the bottom unless
//! scrolled back.

use super::{popup_area, theme};
use crate::app::GroupLog;
use crate::clock::TimeZone;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget};

/// The colours tags are drawn in, picked by a hash of the tag.
const TAG_COLOURS: [Color; 6] = [Color::Cyan, Color::Green, Color::Yellow, Color::Magenta, Color::Blue, Color::Red];

/// A tag's colour: stable across runs and hosts (FNV-1a of its name).
pub fn tag_colour(tag: &str) -> Color {
    let hash = tag.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    TAG_COLOURS[hash as usize % TAG_COLOURS.len()]
}

pub(super) fn render(log: &GroupLog, tz: TimeZone, area: Rect, buf: &mut Buffer) {
    let popup = popup_area(area, area.width.saturating_sub(4), area.height.saturating_sub(2));
    Clear.render(popup, buf);
    let rows = usize::from(popup.height.saturating_sub(2));
    let tag_width = log.lines.iter().map(|l| l.tag.chars().count()).max().unwrap_or(0).min(16);
    let end = log.lines.len().saturating_sub(log.back);
    let start = end.saturating_sub(rows);
    let mut lines: Vec<Line> = log
        .lines
        .range(start..end)
        .map(|l| {
            let mut spans = Vec::with_capacity(4);
            if log.timestamps {
                spans.push(Span::styled(format!("{}.{:03} ", tz.hms(l.at_ms), l.at_ms % 1000), theme::muted()));
            }
            spans.push(Span::styled(format!("{:<tag_width$}", l.tag), Style::new().fg(tag_colour(&l.tag))));
            spans.push(Span::styled(" | ", theme::muted()));
            spans.push(Span::raw(l.text.clone()));
            Line::from(spans)
        })
        .collect();
    if log.lines.is_empty() {
        lines.push(Line::styled("no output yet", theme::muted()));
    }
    let state = match (&log.ended, log.back) {
        (Some(reason), _) => format!(" ended: {reason} "),
        (None, 0) => " following ".to_owned(),
        (None, back) => format!(" {back} lines back · G: newest "),
    };
    let block = Block::bordered()
        .border_style(theme::border(true))
        .title(Line::styled(format!(" log of {} ", log.group), theme::title(true)))
        .title_bottom(Line::styled(format!("{state}· t timestamps · Esc closes "), theme::muted()));
    Paragraph::new(lines).block(block).render(popup, buf);
}
