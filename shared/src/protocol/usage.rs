//! What a process group costs the host right now: the answer to
//! [`super::Request::Usage`]. Kept apart from the snapshot because it is
//! measured only when someone asks, never pushed on the event stream.

use serde::{Deserialize, Serialize};

/// CPU and memory of everything in one entry's process group(s).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessUsage {
    /// The entry whose processes were measured.
    pub tag: String,
    /// How many live processes its process groups hold (the leader and
    /// whatever it started), zombies excluded.
    pub processes: u32,
    /// CPU time used so far by those processes and the children they
    /// reaped, in milliseconds.
    pub cpu_time_ms: u64,
    /// CPU use since the previous sample of the same process group, in
    /// percent of one core (200.0 = two cores busy); `None` on the first
    /// sample, since a rate needs two.
    pub cpu_percent: Option<f64>,
    /// Resident memory of those processes, summed, in bytes (shared pages
    /// count once per process, as `ps` shows them).
    pub rss_bytes: u64,
}

/// One group's usage: the sum of the rows of its entries. Clients derive
/// it from a snapshot and a usage sample; it is never sent, so the daemon
/// reads nothing more for it.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct GroupUsage {
    /// Live processes of its entries.
    pub processes: u32,
    /// CPU time of its entries' current runs, in milliseconds: it falls
    /// when an entry stops, so it is no counter.
    pub cpu_time_ms: u64,
    /// Summed CPU use of the entries that have a rate; `None` if none has.
    pub cpu_percent: Option<f64>,
    /// Summed memory of its entries, in bytes.
    pub rss_bytes: u64,
}

/// Each group's [`GroupUsage`], by group name; rows of tags `processes`
/// does not list count for nothing, and a group none of whose entries
/// has a row is absent.
pub fn usage_by_group<'a>(
    processes: &[super::ProcessStatus],
    usage: impl IntoIterator<Item = &'a ProcessUsage>,
) -> std::collections::BTreeMap<String, GroupUsage> {
    let group_of: std::collections::HashMap<&str, &str> =
        processes.iter().map(|p| (p.tag.as_str(), p.group.as_str())).collect();
    let mut groups = std::collections::BTreeMap::<String, GroupUsage>::new();
    for u in usage {
        let Some(&group) = group_of.get(u.tag.as_str()) else { continue };
        let g = groups.entry(group.to_owned()).or_default();
        g.processes += u.processes;
        g.cpu_time_ms += u.cpu_time_ms;
        g.rss_bytes += u.rss_bytes;
        if let Some(pct) = u.cpu_percent {
            *g.cpu_percent.get_or_insert(0.0) += pct;
        }
    }
    groups
}

/// Resident memory in at most five characters: `812K`, `5.2M`, `1.3G`
/// (the console's columns and `isinit ps`).
pub fn rss_text(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["K", "M", "G", "T", "P", "E"];
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value < 9.95 && unit > 0 { format!("{value:.1}{}", UNITS[unit]) } else { format!("{value:.0}{}", UNITS[unit]) }
}

#[cfg(test)]
mod rss_tests {
    use super::rss_text;

    #[test]
    fn memory_fits_five_characters() {
        assert_eq!(rss_text(0), "0K");
        assert_eq!(rss_text(812 * 1024), "812K");
        assert_eq!(rss_text(5 * 1024 * 1024 + 200 * 1024), "5.2M");
        assert_eq!(rss_text(812 * 1024 * 1024), "812M");
        assert_eq!(rss_text(1300 * 1024 * 1024), "1.3G");
        for b in [1u64, 999 * 1024, 1000 * 1024, 9_999_999, u64::MAX] {
            assert!(rss_text(b).chars().count() <= 5, "{b}: {}", rss_text(b));
        }
    }
}
