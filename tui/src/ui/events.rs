//! The strip of recent happenings: who changed what (the daemon's audit
//! trail) and what the daemon wants noticed, newest at the bottom.

use super::theme;
use crate::app::App;
use isinit_shared::time::UnixMillis;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget};

/// One line of the strip, before formatting.
enum Item<'a> {
    Audit { at_ms: UnixMillis, uid: u32, request: &'a str },
    Notice { at_ms: UnixMillis, message: &'a str },
}

impl Item<'_> {
    fn at_ms(&self) -> UnixMillis {
        match self {
            Item::Audit { at_ms, .. } | Item::Notice { at_ms, .. } => *at_ms,
        }
    }
}

pub(super) fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let block = Block::new()
        .borders(Borders::TOP)
        .border_style(theme::border(false))
        .title(Line::styled(" recent changes and notices ", theme::title(false)));
    let inner = block.inner(area);
    block.render(area, buf);

    let mut items: Vec<Item> = Vec::new();
    if let Some(snapshot) = app.snapshot() {
        items.extend(snapshot.audit.iter().map(|a| Item::Audit { at_ms: a.at_ms, uid: a.uid, request: &a.request }));
    }
    items.extend(app.notices().iter().map(|n| Item::Notice { at_ms: n.at_ms, message: &n.message }));
    // Stable: an audit record and the notice it caused keep their order.
    items.sort_by_key(Item::at_ms);
    let shown = items.len().saturating_sub(usize::from(inner.height));

    let tz = app.time_zone();
    let lines: Vec<Line> = items[shown..]
        .iter()
        .map(|item| match item {
            Item::Audit { at_ms, uid, request } => Line::from(vec![
                Span::styled(tz.hms(*at_ms), theme::muted()),
                Span::styled(format!(" uid {uid:<5} "), theme::muted()),
                Span::raw(*request),
            ]),
            Item::Notice { at_ms, message } => Line::from(vec![
                Span::styled(tz.hms(*at_ms), theme::muted()),
                Span::styled(" notice    ", theme::flag()),
                Span::styled(*message, theme::flag()),
            ]),
        })
        .collect();
    if lines.is_empty() {
        Line::styled("nothing yet", theme::muted()).render(inner, buf);
    } else {
        Paragraph::new(lines).render(inner, buf);
    }
}
