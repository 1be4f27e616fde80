//! Pieces shared by the two list panels: deciding which columns fit and how
//! wide each is, clipping text to its column, and the scrollbar.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Margin, Rect};
use ratatui::widgets::{Scrollbar, ScrollbarOrientation, ScrollbarState, StatefulWidget};
use std::borrow::Cow;

/// One column a table may show.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// Header text.
    pub title: &'static str,
    /// The width its content wants (usually measured from the rows).
    pub width: u16,
    /// The narrowest it may be squeezed to, clipping its text, rather than
    /// being dropped; equal to `width` for columns that must not be clipped.
    pub min: u16,
    /// Receives the width nobody else uses (one per table).
    pub fill: bool,
    /// Lower is more important; the least important columns are dropped
    /// first when the table is narrow.
    pub priority: u8,
}

impl Column {
    /// A column that is either shown whole or not at all.
    pub const fn fixed(title: &'static str, width: u16, priority: u8) -> Column {
        Column { title, width, min: width, fill: false, priority }
    }

    /// A column that may be clipped down to `min` before being dropped.
    pub const fn squeezable(title: &'static str, width: u16, min: u16, priority: u8) -> Column {
        let min = if min < width { min } else { width };
        Column { title, width, min, fill: false, priority }
    }

    /// The column that receives the spare width, never narrower than 5.
    /// It wants `width` (which [`layout`] does not guarantee: it gets
    /// whatever is left) and is always shown, since it names the row.
    pub const fn fill(title: &'static str, width: u16) -> Column {
        Column { title, width, min: 5, fill: true, priority: 0 }
    }
}

/// The width a column needs for `texts` and its title, capped at `cap`.
pub fn measure<'a>(title: &str, texts: impl Iterator<Item = &'a str>, cap: u16) -> u16 {
    let widest = texts.map(|t| t.chars().count()).max().unwrap_or(0).max(title.chars().count());
    u16::try_from(widest).unwrap_or(u16::MAX).min(cap)
}

/// Space between columns.
pub const SPACING: u16 = 1;

/// The columns shown in a table `total` cells wide, in display order, with
/// their widths. Showing a column clipped beats not showing it, so columns
/// are first admitted most important first at their minimum width; the
/// width left then grows the squeezed ones (again by importance, the fill
/// column included) back towards what they want, and the fill column
/// takes the rest.
pub fn layout(columns: &[Column], total: u16) -> Vec<(usize, u16)> {
    let mut by_priority: Vec<usize> = (0..columns.len()).collect();
    by_priority.sort_by_key(|&i| columns[i].priority);
    let mut used = 0u16;
    let mut kept: Vec<(usize, u16)> = Vec::new();
    for &i in &by_priority {
        let need = columns[i].min + if kept.is_empty() { 0 } else { SPACING };
        if used + need <= total {
            used += need;
            kept.push((i, columns[i].min));
        }
    }
    for (i, width) in &mut kept {
        let grow = columns[*i].width.saturating_sub(*width).min(total - used);
        *width += grow;
        used += grow;
    }
    kept.sort_unstable();
    if let Some(fill) = kept.iter_mut().find(|(i, _)| columns[*i].fill) {
        fill.1 += total - used;
    }
    kept
}

/// Column constraints for a [`layout`].
pub fn constraints(kept: &[(usize, u16)]) -> Vec<Constraint> {
    kept.iter().map(|&(_, w)| Constraint::Length(w)).collect()
}

/// The width given to `column`, 0 if it was dropped.
pub fn width_of(kept: &[(usize, u16)], column: usize) -> u16 {
    kept.iter().find(|(i, _)| *i == column).map_or(0, |&(_, w)| w)
}

/// `text` cut to `width` cells, ending in `…` when cut, so a truncated
/// `run,runmore` never passes for the level list `run,run`.
///
/// Identities (tags, group names) use [`clip_middle`] instead.
pub fn clip(text: &str, width: u16) -> Cow<'_, str> {
    let width = usize::from(width);
    if text.chars().count() <= width {
        return Cow::Borrowed(text);
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    if width > 0 {
        cut.push('…');
    }
    Cow::Owned(cut)
}

/// `text` cut to `width` cells by dropping its middle, so names that share
/// a prefix (`worker0021`, `worker0022`) stay tellable apart when clipped.
pub fn clip_middle(text: &str, width: u16) -> Cow<'_, str> {
    let len = text.chars().count();
    let width = usize::from(width);
    if len <= width || width < 5 {
        return clip(text, u16::try_from(width).unwrap_or(u16::MAX));
    }
    let tail = (width - 1) / 2;
    let head = width - 1 - tail;
    let mut cut: String = text.chars().take(head).collect();
    cut.push('…');
    cut.extend(text.chars().skip(len - tail));
    Cow::Owned(cut)
}

/// A scrollbar on the right border of `area` when `total` rows do not fit
/// in `visible`.
pub fn scrollbar(area: Rect, total: usize, visible: usize, offset: usize, buf: &mut Buffer) {
    if total <= visible {
        return;
    }
    let mut state =
        ScrollbarState::new(total.saturating_sub(visible)).position(offset).viewport_content_length(visible);
    let track = area.inner(Margin { horizontal: 0, vertical: 1 });
    Scrollbar::new(ScrollbarOrientation::VerticalRight)
        .begin_symbol(None)
        .end_symbol(None)
        .render(track, buf, &mut state);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_dropped_least_important_first() {
        let cols = [Column::fixed("a", 10, 0), Column::fixed("b", 5, 2), Column::fixed("c", 5, 1)];
        assert_eq!(layout(&cols, 30), vec![(0, 10), (1, 5), (2, 5)]);
        assert_eq!(layout(&cols, 17), vec![(0, 10), (2, 5)]);
        assert_eq!(layout(&cols, 10), vec![(0, 10)]);
    }

    #[test]
    fn squeezable_columns_shrink_before_being_dropped() {
        let cols = [Column::fixed("a", 10, 0), Column { min: 4, ..Column::fixed("b", 8, 1) }];
        assert_eq!(layout(&cols, 19), vec![(0, 10), (1, 8)]);
        assert_eq!(layout(&cols, 17), vec![(0, 10), (1, 6)]);
        assert_eq!(layout(&cols, 15), vec![(0, 10), (1, 4)]);
        assert_eq!(layout(&cols, 14), vec![(0, 10)]);
    }

    #[test]
    fn the_fill_column_takes_the_rest() {
        let cols = [Column::fill("a", 4), Column::fixed("b", 5, 0)];
        assert_eq!(layout(&cols, 20), vec![(0, 14), (1, 5)]);
    }

    #[test]
    fn clipped_text_says_so() {
        assert_eq!(clip("run,runmore", 7), "run,ru…");
        assert_eq!(clip("run", 7), "run");
        assert_eq!(clip("run", 0), "");
        assert_eq!(clip_middle("worker0021", 7), "wor…021");
        assert_eq!(clip_middle("worker0021", 10), "worker0021");
        assert_eq!(clip_middle("worker0021", 3), "wo…");
    }
}
