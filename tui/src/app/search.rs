//! Searching the output panel: `/` (with the output focused) types a
//! query, every match is highlighted, `n` and `N` jump to the next
//! (newer) and previous (older) line that matches, wrapping around.
//! Matching ignores ASCII case, like the filter.

use super::{Action, App, Mode, Tone};

/// The output search: the query and the line last jumped to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutputSearch {
    /// What to look for; empty for no search.
    pub query: String,
    /// The number (counted since the stream began, see
    /// [`super::OutputView::line_number`]) of the current match's line.
    pub current: Option<u64>,
}

/// The byte ranges where `needle` (lower-case) occurs in `hay`, ignoring
/// ASCII case, left to right, not overlapping.
pub fn match_ranges(hay: &str, needle: &str) -> Vec<(usize, usize)> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    let mut ranges = Vec::new();
    if n.is_empty() {
        return ranges;
    }
    let mut i = 0;
    while i + n.len() <= h.len() {
        if h[i..i + n.len()].iter().zip(n).all(|(a, b)| a.to_ascii_lowercase() == *b) {
            ranges.push((i, i + n.len()));
            i += n.len();
        } else {
            i += 1;
        }
    }
    ranges
}

impl App {
    /// The output search (the query may be empty).
    pub fn search(&self) -> &OutputSearch {
        &self.search
    }

    pub(super) fn on_key_search(&mut self, action: Action) {
        match action {
            Action::Input(c) => {
                self.search.query.push(c);
                self.jump_to_match(true, true);
            }
            Action::Backspace => {
                self.search.query.pop();
                self.jump_to_match(true, true);
            }
            Action::Confirm => {
                self.mode = Mode::Normal;
                self.report_matches();
            }
            Action::Cancel => {
                self.search = OutputSearch::default();
                self.mode = Mode::Normal;
            }
            _ => {}
        }
    }

    /// `n` / `N`.
    pub(super) fn next_match(&mut self, forward: bool) {
        if self.search.query.is_empty() {
            self.set_status(Tone::Info, "no search: press / in the output panel");
            return;
        }
        self.jump_to_match(forward, false);
        self.report_matches();
    }

    /// Jumps to the nearest matching line in a direction, wrapping. While
    /// typing (`from_view`) a match on screen wins, else the newest one
    /// above the view — in a log, the most recent occurrence; `n`/`N` start
    /// past the current match.
    fn jump_to_match(&mut self, forward: bool, from_view: bool) {
        let needle = self.search.query.to_ascii_lowercase();
        let height = self.viewport.output;
        let lines = self.output.lines();
        let first = self.output.line_number(0);
        let len = lines.len();
        if needle.is_empty() || len == 0 {
            self.search.current = None;
            return;
        }
        let hit = |i: usize| !match_ranges(&lines[i], &needle).is_empty();
        let current = self.search.current.and_then(|n| n.checked_sub(first)).map(|n| n as usize).filter(|&n| n < len);
        let top = self.output.top(height);
        let in_view = (top..(top + height).min(len)).find(|&i| hit(i));
        let (start, forward) = match (current, from_view) {
            (Some(c), false) => (c, forward),
            // Typing: what is on screen first, else the newest match above.
            _ => (top, false),
        };
        if let Some(i) = in_view.filter(|_| from_view || current.is_none()) {
            self.search.current = Some(first + i as u64);
            return;
        }
        let order: Vec<usize> = if forward {
            (1..=len).map(|k| (start + k) % len).collect()
        } else {
            (1..=len).map(|k| (start + len - k) % len).collect()
        };
        match order.into_iter().find(|&i| hit(i)) {
            Some(i) => {
                self.search.current = Some(first + i as u64);
                self.output.show_line(i, height);
            }
            None => self.search.current = None,
        }
    }

    /// `match 3 of 17` on the status line, or that there is none.
    fn report_matches(&mut self) {
        let needle = self.search.query.to_ascii_lowercase();
        if needle.is_empty() {
            return;
        }
        let first = self.output.line_number(0);
        let lines: Vec<bool> = self.output.lines().iter().map(|l| !match_ranges(l, &needle).is_empty()).collect();
        let total = lines.iter().filter(|m| **m).count();
        match self.search.current {
            Some(n) if total > 0 => {
                let at = (n.saturating_sub(first)) as usize;
                let rank = lines.iter().take(at + 1).filter(|m| **m).count();
                self.set_status(Tone::Info, format!("/{}: matching line {rank} of {total}", self.search.query));
            }
            _ => self.set_status(Tone::Error, format!("/{}: no match in the output", self.search.query)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_ignore_ascii_case_and_do_not_overlap() {
        assert_eq!(match_ranges("Error: error ERROR", "error"), vec![(0, 5), (7, 12), (13, 18)]);
        assert_eq!(match_ranges("aaaa", "aa"), vec![(0, 2), (2, 4)]);
        assert_eq!(match_ranges("héllo wörld", "wö"), vec![(7, 10)]);
        assert!(match_ranges("abc", "").is_empty());
        assert!(match_ranges("ab", "abc").is_empty());
    }
}
