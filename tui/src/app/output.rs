//! The followed process's output: a bounded buffer and a scroll position
//! that either sticks to the newest line or stays where the operator put it.

use isinit_shared::OutputLine;
use std::collections::VecDeque;

/// Lines kept per followed process; older ones are dropped.
pub const OUTPUT_KEPT: usize = 2000;

/// What the output panel knows about the selected process's output.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OutputView {
    /// Identifies the current stream; events of older streams are ignored.
    pub(super) id: u64,
    /// The tag being followed.
    pub(super) tag: Option<String>,
    lines: VecDeque<String>,
    state: OutputState,
    scroll: Scroll,
    /// Lines dropped from the front since the stream began, so a line keeps
    /// its number (for the search's current match) as older ones go.
    dropped: u64,
    /// Long lines continue on the next rows instead of being cut.
    wrap: bool,
}

/// Where the stream is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum OutputState {
    /// No process selected.
    #[default]
    Idle,
    /// Asked, no answer yet.
    Loading,
    /// Backlog received; new lines arrive as they are written.
    Live,
    /// The stream ended; the lines are what was received.
    Ended(String),
}

/// How the view scrolls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scroll {
    /// Stick to the newest line.
    #[default]
    Follow,
    /// Stay put with this line (index into the buffer) at the top.
    Pinned {
        /// Index into the kept lines of the first line shown.
        top: usize,
    },
}

impl OutputView {
    /// Points the view at another tag (or none); returns the new stream id.
    pub(super) fn retarget(&mut self, tag: Option<String>) -> u64 {
        self.id = self.id.wrapping_add(1);
        self.state = if tag.is_some() { OutputState::Loading } else { OutputState::Idle };
        self.tag = tag;
        self.lines.clear();
        self.scroll = Scroll::Follow;
        self.dropped = 0;
        self.id
    }

    /// The backlog of the current stream (also after a reconnect): replaces
    /// everything. Returns whether it was for the current stream.
    pub(super) fn on_backlog(&mut self, id: u64, lines: Vec<OutputLine>) -> bool {
        if id != self.id {
            return false;
        }
        self.dropped += self.lines.len() as u64;
        self.lines.clear();
        self.state = OutputState::Live;
        for line in lines {
            self.push(line.text);
        }
        true
    }

    /// One new line; returns whether it was for the current stream.
    pub(super) fn on_line(&mut self, id: u64, line: OutputLine) -> bool {
        if id != self.id {
            return false;
        }
        self.push(line.text);
        true
    }

    /// The stream ended; returns whether it was the current one.
    pub(super) fn on_ended(&mut self, id: u64, reason: String) -> bool {
        if id != self.id {
            return false;
        }
        self.state = OutputState::Ended(reason);
        true
    }

    fn push(&mut self, text: String) {
        let text = sanitize(text);
        if self.lines.len() == OUTPUT_KEPT {
            self.lines.pop_front();
            self.dropped += 1;
            if let Scroll::Pinned { top } = &mut self.scroll {
                *top = top.saturating_sub(1);
            }
        }
        self.lines.push_back(text);
    }

    /// Scrolls towards older lines; leaves follow mode.
    pub(super) fn scroll_up(&mut self, by: usize, height: usize) {
        let top = self.top(height).saturating_sub(by);
        self.scroll = Scroll::Pinned { top };
    }

    /// Scrolls towards newer lines, stopping at the newest (still pinned:
    /// only `f` or End resumes following, so reading is never yanked away).
    pub(super) fn scroll_down(&mut self, by: usize, height: usize) {
        if let Scroll::Pinned { top } = self.scroll {
            self.scroll = Scroll::Pinned { top: (top + by).min(self.max_top(height)) };
        }
    }

    /// Jumps to the oldest line.
    pub(super) fn jump_oldest(&mut self) {
        self.scroll = Scroll::Pinned { top: 0 };
    }

    /// Jumps to the newest line and follows.
    pub(super) fn jump_newest(&mut self) {
        self.scroll = Scroll::Follow;
    }

    /// `f`: follow, or stop following where the view is.
    pub(super) fn toggle_follow(&mut self, height: usize) {
        self.scroll = match self.scroll {
            Scroll::Follow => Scroll::Pinned { top: self.max_top(height) },
            Scroll::Pinned { .. } => Scroll::Follow,
        };
    }

    /// Brings line `index` into a view `height` lines tall, a third of the
    /// way down when it has to move (a following view keeps following if
    /// the line is already among the newest).
    pub(super) fn show_line(&mut self, index: usize, height: usize) {
        let top = self.top(height);
        if index >= top && index < top + height.max(1) {
            return;
        }
        self.scroll = Scroll::Pinned { top: index.saturating_sub(height / 3).min(self.max_top(height)) };
    }

    /// `w`: wrap long lines, or cut them.
    pub(super) fn toggle_wrap(&mut self) {
        self.wrap = !self.wrap;
    }

    /// Whether long lines wrap.
    pub fn wraps(&self) -> bool {
        self.wrap
    }

    /// The number of the kept line `index`, counted since the stream
    /// began: stable while older lines are dropped.
    pub fn line_number(&self, index: usize) -> u64 {
        self.dropped + index as u64
    }

    fn max_top(&self, height: usize) -> usize {
        self.lines.len().saturating_sub(height)
    }

    /// The index of the first line shown in a view `height` lines tall.
    pub fn top(&self, height: usize) -> usize {
        match self.scroll {
            Scroll::Follow => self.max_top(height),
            Scroll::Pinned { top } => top.min(self.max_top(height)),
        }
    }

    /// The tag followed, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// Every line kept, oldest first.
    pub fn lines(&self) -> &VecDeque<String> {
        &self.lines
    }

    /// Where the stream is.
    pub fn state(&self) -> &OutputState {
        &self.state
    }

    /// How the view scrolls.
    pub fn scroll(&self) -> Scroll {
        self.scroll
    }
}

/// Makes a line of process output safe and tidy to draw: colour and cursor
/// escape sequences are dropped (they would otherwise show as `[31m`
/// litter, the terminal never sees raw escapes), tabs expand to the next
/// multiple of 8, and other control characters go.
pub fn sanitize(text: String) -> String {
    if !text.chars().any(char::is_control) {
        return text;
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut column = 0;
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => {
                // CSI: ESC [ params… final byte in @..~; other escapes: ESC + one char.
                if chars.next_if_eq(&'[').is_some() {
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                } else {
                    chars.next();
                }
            }
            '\t' => {
                let pad = 8 - column % 8;
                out.extend(std::iter::repeat_n(' ', pad));
                column += pad;
            }
            c if c.is_control() => {}
            c => {
                out.push(c);
                column += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_strips_escapes_and_expands_tabs() {
        assert_eq!(sanitize("plain".into()), "plain");
        assert_eq!(sanitize("\u{1b}[1;31mred\u{1b}[0m ok".into()), "red ok");
        assert_eq!(sanitize("a\tb".into()), "a       b");
        assert_eq!(sanitize("bell\u{7}\r".into()), "bell");
    }

    fn line(text: &str) -> OutputLine {
        OutputLine { tag: "t".into(), at_ms: 0, text: text.into() }
    }

    #[test]
    fn pinned_view_stays_put_while_lines_arrive() {
        let mut v = OutputView::default();
        let id = v.retarget(Some("t".into()));
        v.on_backlog(id, (0..20).map(|i| line(&i.to_string())).collect());
        assert_eq!(v.top(5), 15);
        v.scroll_up(3, 5);
        assert_eq!(v.top(5), 12);
        v.on_line(id, line("new"));
        assert_eq!(v.top(5), 12, "pinned view must not move");
        v.toggle_follow(5);
        assert_eq!(v.top(5), 16);
        assert!(!v.on_line(id + 1, line("stale stream")), "other streams are ignored");
    }

    #[test]
    fn buffer_is_bounded() {
        let mut v = OutputView::default();
        let id = v.retarget(Some("t".into()));
        for i in 0..OUTPUT_KEPT + 10 {
            v.on_line(id, line(&i.to_string()));
        }
        assert_eq!(v.lines().len(), OUTPUT_KEPT);
        assert_eq!(v.lines()[0], "10");
    }
}
