//! `isinit logs -g GROUP -H SET -b`: identical lines of many hosts printed
//! once, after the set of hosts that printed them (SPEC §19):
//! `web[01-38] (38) app | listening on :80`.
//!
//! Lines are identical when their tag and text are. A host's k-th copy of
//! a line folds with the other hosts' k-th copies, so a line every host
//! printed three times is three folded lines, not one (and a host that
//! printed it once more than the others shows that one on its own).
//!
//! A backlog is folded whole ([`fold_backlog`]). A followed stream cannot
//! wait for the end, so [`Follower`] holds each new line for a short
//! [`FOLLOW_WINDOW`] in which the same line from other hosts joins it,
//! then prints it: the same event across a fleet arrives within far less.

use isinit_client::fleet::hostset::HostSet;
use isinit_shared::protocol::OutputLine;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long a followed line waits for the same line from other hosts.
pub const FOLLOW_WINDOW: Duration = Duration::from_millis(700);
/// Most lines held at once: past it the oldest goes out unfolded, so a
/// host that floods distinct lines costs a bounded memory and a bounded
/// search per line.
pub const HELD_MAX: usize = 1024;

/// One line as several hosts printed it: the hosts (indexes into the
/// command's host list, in the order they printed it) and the line as the
/// first of them printed it (its time is the earliest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folded {
    /// Who printed it.
    pub hosts: Vec<usize>,
    /// The first copy.
    pub line: OutputLine,
}

impl Folded {
    /// `SET (N) ` before the line, naming `hosts` by the command's list.
    pub fn prefix(&self, names: &[String]) -> String {
        let mut set = HostSet::new();
        for &i in &self.hosts {
            if let Some(name) = names.get(i) {
                set.insert(name.clone());
            }
        }
        format!("{} ({})", set.fold(), self.hosts.len())
    }
}

/// Folds a time-ordered backlog of `(host, line)`: one [`Folded`] per
/// distinct (tag, text, copy number), in the order of their first copy.
pub fn fold_backlog(merged: Vec<(usize, OutputLine)>) -> Vec<Folded> {
    let mut out: Vec<Folded> = Vec::new();
    // (tag, text, k) → index into `out`; (host, tag, text) → copies seen.
    let mut index: HashMap<(String, String, usize), usize> = HashMap::new();
    let mut copies: HashMap<(usize, String, String), usize> = HashMap::new();
    for (host, line) in merged {
        let seen = copies.entry((host, line.tag.clone(), line.text.clone())).or_insert(0);
        let key = (line.tag.clone(), line.text.clone(), *seen);
        *seen += 1;
        match index.get(&key) {
            Some(&at) => out[at].hosts.push(host),
            None => {
                index.insert(key, out.len());
                out.push(Folded { hosts: vec![host], line });
            }
        }
    }
    out
}

/// A line held by [`Follower`] until its window closes.
struct Held {
    folded: Folded,
    until: Instant,
}

/// Folds a followed stream: lines held for [`FOLLOW_WINDOW`], in the
/// order they first arrived.
#[derive(Default)]
pub struct Follower {
    held: Vec<Held>,
}

impl Follower {
    /// Takes `line` from `host` at `now`: joins the held copy of the same
    /// line if that host has not given it one already, else is held anew.
    /// Returns the oldest held line when that made more than [`HELD_MAX`]:
    /// it is due now.
    pub fn take(&mut self, host: usize, line: OutputLine, now: Instant) -> Option<Folded> {
        let same = self.held.iter_mut().find(|h| {
            h.folded.line.tag == line.tag && h.folded.line.text == line.text && !h.folded.hosts.contains(&host)
        });
        match same {
            Some(held) => held.folded.hosts.push(host),
            None => self.held.push(Held { folded: Folded { hosts: vec![host], line }, until: now + FOLLOW_WINDOW }),
        }
        (self.held.len() > HELD_MAX).then(|| self.held.remove(0).folded)
    }

    /// When the oldest held line is due, if any line is held.
    pub fn next_due(&self) -> Option<Instant> {
        self.held.first().map(|h| h.until)
    }

    /// The held lines due at `now`, oldest first. Lines are due in the
    /// order they arrived, so this never prints a newer line first.
    pub fn due(&mut self, now: Instant) -> Vec<Folded> {
        let n = self.held.iter().take_while(|h| h.until <= now).count();
        self.held.drain(..n).map(|h| h.folded).collect()
    }

    /// Everything still held (the streams ended).
    pub fn rest(&mut self) -> Vec<Folded> {
        self.held.drain(..).map(|h| h.folded).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(tag: &str, at: u64, text: &str) -> OutputLine {
        OutputLine { tag: tag.into(), at_ms: at, text: text.into() }
    }

    fn names(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("web{i:02}")).collect()
    }

    #[test]
    fn the_same_line_of_every_host_is_one_line_under_their_set() {
        let merged = vec![
            (0, line("app", 1, "listening")),
            (1, line("app", 2, "listening")),
            (2, line("app", 3, "listening")),
            (1, line("app", 4, "slow disk")),
        ];
        let folded = fold_backlog(merged);
        assert_eq!(folded.len(), 2);
        assert_eq!(folded[0].prefix(&names(3)), "web[01-03] (3)");
        assert_eq!(folded[0].line.at_ms, 1, "the first copy's time");
        assert_eq!(folded[1].prefix(&names(3)), "web02 (1)");
    }

    #[test]
    fn a_line_printed_twice_folds_copy_by_copy() {
        let merged = vec![
            (0, line("app", 1, "tick")),
            (1, line("app", 1, "tick")),
            (0, line("app", 2, "tick")),
            (1, line("other", 2, "tick")),
        ];
        let folded = fold_backlog(merged);
        let shown: Vec<(String, String)> =
            folded.iter().map(|f| (f.prefix(&names(2)), format!("{} | {}", f.line.tag, f.line.text))).collect();
        assert_eq!(
            shown,
            [
                ("web[01-02] (2)".to_string(), "app | tick".to_string()),
                ("web01 (1)".to_string(), "app | tick".to_string()),
                ("web02 (1)".to_string(), "other | tick".to_string()),
            ]
        );
    }

    #[test]
    fn a_followed_line_waits_for_its_copies_then_goes_out_in_order() {
        let t0 = Instant::now();
        let mut f = Follower::default();
        f.take(0, line("app", 1, "reloaded"), t0);
        f.take(1, line("app", 1, "reloaded"), t0 + Duration::from_millis(100));
        f.take(1, line("app", 2, "reloaded"), t0 + Duration::from_millis(200)); // web02's second copy
        f.take(0, line("db", 3, "checkpoint"), t0 + Duration::from_millis(300));
        assert!(f.due(t0 + Duration::from_millis(600)).is_empty(), "nothing is due within the window");
        let first = f.due(t0 + FOLLOW_WINDOW);
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].hosts, [0, 1]);
        assert_eq!(f.next_due(), Some(t0 + Duration::from_millis(200) + FOLLOW_WINDOW));
        let rest = f.rest();
        assert_eq!(rest.iter().map(|r| r.hosts.clone()).collect::<Vec<_>>(), [vec![1], vec![0]]);
    }

    #[test]
    fn a_flood_of_distinct_lines_holds_at_most_held_max() {
        let t0 = Instant::now();
        let mut f = Follower::default();
        for i in 0..HELD_MAX {
            assert_eq!(f.take(0, line("app", 1, &format!("l{i}")), t0), None);
        }
        let out = f.take(0, line("app", 1, "one more"), t0).expect("the oldest goes out");
        assert_eq!(out.line.text, "l0");
        assert_eq!(f.rest().len(), HELD_MAX);
    }
}
