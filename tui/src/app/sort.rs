//! The processes table's sort order: file order (the order the group
//! starts them in) by default, or one of the columns an operator scans
//! for trouble, either way round.

use isinit_shared::{ProcessState, ProcessStatus, ProcessUsage};
use std::cmp::Ordering;
use std::collections::HashMap;

/// What the processes table is sorted by; `s` cycles through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    /// The isinittab's order: the order the group starts them in.
    #[default]
    File,
    /// By tag.
    Tag,
    /// Trouble first: failed, throttled, stopping, then running, then idle.
    State,
    /// Longest running first.
    Uptime,
    /// Most restarted first.
    Respawns,
    /// Busiest first.
    Cpu,
    /// Largest first.
    Rss,
}

impl SortKey {
    /// The key after this one, wrapping back to file order.
    pub fn next(self) -> SortKey {
        match self {
            SortKey::File => SortKey::Tag,
            SortKey::Tag => SortKey::State,
            SortKey::State => SortKey::Uptime,
            SortKey::Uptime => SortKey::Respawns,
            SortKey::Respawns => SortKey::Cpu,
            SortKey::Cpu => SortKey::Rss,
            SortKey::Rss => SortKey::File,
        }
    }

    /// The processes table column this key sorts by (its header carries
    /// the arrow); `None` for file order.
    pub fn column(self) -> Option<&'static str> {
        match self {
            SortKey::File => None,
            SortKey::Tag => Some("tag"),
            SortKey::State => Some("state"),
            SortKey::Uptime => Some("uptime"),
            SortKey::Respawns => Some("↻"),
            SortKey::Cpu => Some("cpu%"),
            SortKey::Rss => Some("rss"),
        }
    }

    /// For the status line: `sorted by cpu`.
    pub fn name(self) -> &'static str {
        match self {
            SortKey::File => "file order",
            SortKey::Tag => "tag",
            SortKey::State => "state",
            SortKey::Uptime => "uptime",
            SortKey::Respawns => "respawns",
            SortKey::Cpu => "cpu",
            SortKey::Rss => "rss",
        }
    }

    /// Numbers read best largest first, names and file order first first.
    fn descending_by_default(self) -> bool {
        matches!(self, SortKey::Uptime | SortKey::Respawns | SortKey::Cpu | SortKey::Rss)
    }
}

/// A sort key and its direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SortOrder {
    /// The column.
    pub key: SortKey,
    /// Flipped from the key's natural direction with `I`.
    pub reversed: bool,
}

impl SortOrder {
    /// Whether the largest (or last) row comes first.
    pub fn descending(self) -> bool {
        self.key.descending_by_default() != self.reversed
    }

    /// `▲` for ascending, `▼` for descending, as the column header shows it.
    pub fn arrow(self) -> &'static str {
        if self.descending() { "▼" } else { "▲" }
    }

    /// For the status line: `processes sorted by cpu ▼`, `processes in
    /// file order`.
    pub fn describe(self) -> String {
        match (self.key, self.reversed) {
            (SortKey::File, false) => "processes in file order".into(),
            (SortKey::File, true) => "processes in reverse file order".into(),
            (key, _) => format!("processes sorted by {} {}", key.name(), self.arrow()),
        }
    }

    /// Sorts `rows` (given in file order) in place; ties keep file order.
    pub fn apply(self, rows: &mut [&ProcessStatus], usage: &HashMap<String, ProcessUsage>) {
        if self.key == SortKey::File {
            if self.reversed {
                rows.reverse();
            }
            return;
        }
        let descending = self.descending();
        rows.sort_by(|a, b| {
            let order = self.key.compare(a, b, usage);
            if descending { order.reverse() } else { order }
        });
    }

    /// Whether a row that changed from `old` to `new` where it stands in
    /// file order keeps its place in this order: it does when the key
    /// ranks the two alike, for then it ranks against every other row as
    /// before, and ties keep file order. A live event that keeps its row's
    /// place moves nothing in the table (issue 22: `App::update` then
    /// skips looking for the selection again).
    pub(super) fn keeps_place(
        self,
        old: &ProcessStatus,
        new: &ProcessStatus,
        usage: &HashMap<String, ProcessUsage>,
    ) -> bool {
        self.key.compare(old, new, usage) == Ordering::Equal
    }
}

impl SortKey {
    /// Ascending order by this key alone; file order ranks every row alike.
    fn compare(self, a: &ProcessStatus, b: &ProcessStatus, usage: &HashMap<String, ProcessUsage>) -> Ordering {
        let cpu = |p: &ProcessStatus| p.pid.and(usage.get(&p.tag)).and_then(|u| u.cpu_percent).unwrap_or(-1.0);
        let rss = |p: &ProcessStatus| p.pid.and(usage.get(&p.tag)).map_or(0, |u| u.rss_bytes);
        // Running longer = started earlier; not running sorts as no uptime.
        let uptime = |p: &ProcessStatus| p.pid.and(p.started_at_ms).map(|s| u64::MAX - s);
        match self {
            SortKey::File => Ordering::Equal,
            SortKey::Tag => a.tag.cmp(&b.tag),
            SortKey::State => state_rank(a.state).cmp(&state_rank(b.state)),
            SortKey::Uptime => uptime(a).cmp(&uptime(b)),
            SortKey::Respawns => a.respawns.cmp(&b.respawns),
            SortKey::Cpu => cpu(a).total_cmp(&cpu(b)),
            SortKey::Rss => rss(a).cmp(&rss(b)),
        }
    }
}

/// Trouble first, idle last.
fn state_rank(state: ProcessState) -> u8 {
    match state {
        ProcessState::FailedToStart => 0,
        ProcessState::Fail => 1,
        ProcessState::Backoff => 2,
        ProcessState::Stopping => 3,
        ProcessState::Waiting => 4,
        ProcessState::Running => 5,
        ProcessState::Exited => 6,
        ProcessState::Pass => 7,
        ProcessState::NotStarted => 8,
        ProcessState::Off => 9,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;
    use isinit_shared::config::Mode;

    fn usage(tag: &str, cpu: Option<f64>, rss: u64) -> (String, ProcessUsage) {
        let u = ProcessUsage { tag: tag.into(), processes: 1, cpu_time_ms: 0, cpu_percent: cpu, rss_bytes: rss };
        (tag.to_string(), u)
    }

    fn tags(rows: &[&ProcessStatus]) -> Vec<String> {
        rows.iter().map(|p| p.tag.clone()).collect()
    }

    #[test]
    fn every_key_in_both_directions() {
        let mk = |tag: &str, pid: Option<u32>, started: u64, respawns: u32| {
            let mut p = fixture::process("g", tag, Mode::Respawn, "1", "x");
            p.pid = pid;
            p.state = if pid.is_some() { ProcessState::Running } else { ProcessState::Backoff };
            p.started_at_ms = Some(started);
            p.respawns = respawns;
            p
        };
        let (b, a, c) = (mk("b", Some(1), 300, 5), mk("a", Some(2), 100, 0), mk("c", None, 200, 9));
        let usage: HashMap<_, _> =
            [usage("b", Some(3.0), 10), usage("a", Some(50.0), 5), usage("c", Some(99.0), 99)].into();
        let sorted = |key, reversed| {
            let mut rows = vec![&b, &a, &c];
            SortOrder { key, reversed }.apply(&mut rows, &usage);
            tags(&rows)
        };
        assert_eq!(sorted(SortKey::File, false), ["b", "a", "c"]);
        assert_eq!(sorted(SortKey::File, true), ["c", "a", "b"]);
        assert_eq!(sorted(SortKey::Tag, false), ["a", "b", "c"]);
        assert_eq!(sorted(SortKey::Tag, true), ["c", "b", "a"]);
        assert_eq!(sorted(SortKey::State, false), ["c", "b", "a"], "backoff first");
        assert_eq!(sorted(SortKey::Uptime, false), ["a", "b", "c"], "longest first, not running last");
        assert_eq!(sorted(SortKey::Respawns, false), ["c", "b", "a"]);
        assert_eq!(sorted(SortKey::Cpu, false), ["a", "b", "c"], "a dead process's last figures do not count");
        assert_eq!(sorted(SortKey::Cpu, true), ["c", "b", "a"]);
        assert_eq!(sorted(SortKey::Rss, false), ["b", "a", "c"]);
    }

    #[test]
    fn keys_cycle_back_to_file_order_and_arrows_follow_the_direction() {
        let mut key = SortKey::File;
        let mut seen = Vec::new();
        for _ in 0..7 {
            key = key.next();
            seen.push(key.name());
        }
        assert_eq!(seen, ["tag", "state", "uptime", "respawns", "cpu", "rss", "file order"]);
        assert_eq!(SortOrder { key: SortKey::Tag, reversed: false }.arrow(), "▲");
        assert_eq!(SortOrder { key: SortKey::Cpu, reversed: false }.arrow(), "▼");
        assert_eq!(SortOrder { key: SortKey::Cpu, reversed: true }.arrow(), "▲");
    }
}
