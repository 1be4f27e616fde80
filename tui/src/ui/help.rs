//! The `?` overlay: the key contract, as README "Keys" documents it.

use super::{popup_area, theme};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget};

/// Every key, grouped by where it applies. Kept in step with README.md.
pub const KEYS: &[(&str, &str)] = &[
    ("↑ ↓  k j", "move the selection (output: scroll a line)"),
    ("PgUp PgDn", "move a page (output: scroll a page)"),
    ("Home End  g G", "first / last row (output: oldest / follow)"),
    ("Tab  Shift-Tab", "focus groups → processes → output"),
    ("Enter", "level picker for the selected group"),
    ("f", "output: stick to the newest line, or stop"),
    ("r", "reload the isinittab (errors in a popup)"),
    ("R", "restart the selected process (throttled: retry now)"),
    ("S", "send the selected process a signal (picker)"),
    ("s  I", "sort processes: next column / reverse"),
    ("/", "filter groups and processes; Enter keeps, Esc clears"),
    ("/  (output)", "search the output; n N next / previous match"),
    ("w", "output: wrap long lines, or cut them"),
    ("x", "x-ray: every process of the selected entry, as a tree"),
    ("A", "timeline of the selected group's last switch"),
    (":", "command palette: Tab completes, ↑ ↓ history"),
    ("L", "one log of the selected group's tags; t: timestamps"),
    ("P", "pulses: CPU, memory, restarts of each group over time"),
    ("Esc", "close / cancel / clear the filter"),
    ("?", "this help"),
    ("q  Ctrl-C", "quit"),
    ("", ""),
    ("in the picker", ""),
    ("↑ ↓", "highlight a level; the preview follows"),
    ("type, Backspace", "edit the free-text level line"),
    ("Enter / Esc", "switch the group / cancel"),
];

pub(super) fn render(area: Rect, buf: &mut Buffer) {
    let popup = popup_area(area, 72, KEYS.len() as u16 + 2);
    Clear.render(popup, buf);
    let lines: Vec<Line> = KEYS
        .iter()
        .map(|(key, what)| {
            if what.is_empty() {
                Line::styled(format!(" {key}"), theme::header())
            } else {
                Line::from(vec![Span::styled(format!(" {key:<16}"), theme::key()), Span::raw(*what)])
            }
        })
        .collect();
    let block = Block::bordered()
        .border_style(theme::border(true))
        .title(Line::styled(" keys ", theme::title(true)))
        .title_bottom(Line::styled(" Esc or ? closes ", theme::muted()));
    Paragraph::new(lines).block(block).render(popup, buf);
}
