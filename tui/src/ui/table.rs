//! Pieces shared by the two list panels: choosing which columns fit, and
//! the scrollbar.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Margin, Rect};
use ratatui::widgets::{Scrollbar, ScrollbarOrientation, ScrollbarState, StatefulWidget};

/// One column a table may show.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub title: &'static str,
    /// Width in cells; for the `fill` column, its minimum.
    pub width: u16,
    /// Takes whatever width is left (one per table); [`fit`] guarantees
    /// it at least `width`.
    pub fill: bool,
    /// Lower is more important; columns are dropped from the highest
    /// priority down until the rest fit.
    pub priority: u8,
}

/// Space between columns.
pub const SPACING: u16 = 1;

/// The indices (in display order) of the columns that fit in `width`.
pub fn fit(columns: &[Column], width: u16) -> Vec<usize> {
    let mut by_priority: Vec<usize> = (0..columns.len()).collect();
    by_priority.sort_by_key(|&i| columns[i].priority);
    let mut used = 0u16;
    let mut kept = Vec::new();
    for i in by_priority {
        let need = columns[i].width + if kept.is_empty() { 0 } else { SPACING };
        if used + need <= width {
            used += need;
            kept.push(i);
        }
    }
    kept.sort_unstable();
    kept
}

/// The width constraints of the kept columns.
pub fn constraints(columns: &[Column], kept: &[usize]) -> Vec<Constraint> {
    kept.iter()
        .map(|&i| if columns[i].fill { Constraint::Fill(1) } else { Constraint::Length(columns[i].width) })
        .collect()
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

    fn col(width: u16, priority: u8) -> Column {
        Column { title: "", width, fill: false, priority }
    }

    #[test]
    fn columns_are_dropped_least_important_first() {
        let cols = [col(10, 0), col(5, 2), col(5, 1)];
        assert_eq!(fit(&cols, 30), vec![0, 1, 2]);
        assert_eq!(fit(&cols, 17), vec![0, 2]);
        assert_eq!(fit(&cols, 10), vec![0]);
    }
}
