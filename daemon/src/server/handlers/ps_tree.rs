//! Reading an entry's processes from `/proc` and putting them in tree
//! order for `isinit ps` (SPEC §19). Blocking file reads: called on a
//! blocking thread (see `ps.rs`), never on the runtime's.
//!
//! The ordering itself ([`tree`]) is pure and unit-tested: the main
//! process first, its descendants depth first by pid, then every member
//! that is not its descendant — a stray — under its own stray parent when
//! it has one.

use crate::runtime::usage::Source;
use isinit_shared::protocol::{EntryProcesses, PsRow, Tracking};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Longest command line kept per row: bounds a reply of thousands of rows.
const MAX_COMMAND: usize = 256;
/// Most rows of one reply, over all entries: with [`MAX_COMMAND`] the
/// reply stays well inside a frame.
pub const MAX_ROWS: usize = 2000;

/// What is asked about one entry.
#[derive(Debug, Clone)]
pub struct Wanted {
    /// The entry's group.
    pub group: String,
    /// The entry's tag.
    pub tag: String,
    /// Its main process, when alive.
    pub main_pid: Option<u32>,
    /// Where its members are found.
    pub sources: Vec<Source>,
}

/// The fields of `/proc/PID/stat` a row needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// Parent process id.
    pub ppid: u32,
    /// Process group.
    pub pgid: i32,
    /// A zombie is no live process.
    pub zombie: bool,
    /// utime + stime, in clock ticks.
    pub ticks: u64,
    /// Start time after boot, in clock ticks.
    pub start_ticks: u64,
    /// Resident pages.
    pub rss_pages: u64,
}

/// Parses one `/proc/PID/stat` line (fields counted from the last `)`:
/// the name may hold spaces and parentheses) into its name and fields.
pub fn parse_stat(text: &str) -> Option<(String, Stat)> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let name = text.get(open + 1..close)?.to_string();
    let f: Vec<&str> = text[close + 1..].split_whitespace().collect();
    // Numbered as in proc(5): state(3) ppid(4) pgrp(5) utime(14) stime(15)
    // starttime(22) rss(24).
    let field = |n: usize| f.get(n - 3).copied();
    let num = |n: usize| field(n)?.parse::<i64>().ok().map(|v| v.max(0) as u64);
    let stat = Stat {
        ppid: field(4)?.parse().ok()?,
        pgid: field(5)?.parse().ok()?,
        zombie: field(3)? == "Z",
        ticks: num(14)? + num(15)?,
        start_ticks: num(22)?,
        rss_pages: num(24)?,
    };
    Some((name, stat))
}

/// The members of one entry in display order, each with its depth and
/// whether it is a stray. `parents` maps every member to its parent.
pub fn tree(main: Option<u32>, parents: &BTreeMap<u32, u32>) -> Vec<(u32, u32, bool)> {
    let mut children: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for (&pid, &ppid) in parents {
        children.entry(ppid).or_default().push(pid);
    }
    let mut out = Vec::with_capacity(parents.len());
    let mut seen = BTreeSet::new();
    let mut walk = |root: u32, stray: bool, out: &mut Vec<(u32, u32, bool)>| {
        let mut stack = vec![(root, 0u32)];
        while let Some((pid, depth)) = stack.pop() {
            if !seen.insert(pid) {
                continue; // a pid cycle cannot happen; a bad read could
            }
            out.push((pid, depth, stray));
            if let Some(kids) = children.get(&pid) {
                stack.extend(kids.iter().rev().map(|&k| (k, depth + 1)));
            }
        }
    };
    if let Some(main) = main.filter(|m| parents.contains_key(m)) {
        walk(main, false, &mut out);
    }
    // Strays: roots are members whose parent is no member left to show.
    let shown: BTreeSet<u32> = out.iter().map(|(p, ..)| *p).collect();
    let rest: Vec<u32> = parents.keys().copied().filter(|p| !shown.contains(p)).collect();
    let left: BTreeSet<u32> = rest.iter().copied().collect();
    for &pid in &rest {
        let parent_left = parents.get(&pid).is_some_and(|pp| left.contains(pp) && *pp != pid);
        if !parent_left {
            walk(pid, true, &mut out);
        }
    }
    // Whatever a cycle of parents kept from being a root.
    for pid in rest {
        walk(pid, true, &mut out);
    }
    out
}

/// The machine's constants and clock for turning ticks into rates.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// Clock ticks per second.
    pub ticks_per_sec: u64,
    /// Bytes per page.
    pub page_bytes: u64,
    /// Seconds since boot, now.
    pub uptime_secs: f64,
}

impl Clock {
    /// This machine's, now.
    pub fn now() -> Clock {
        // SAFETY: sysconf only reads system constants.
        let (tck, page) = unsafe { (libc::sysconf(libc::_SC_CLK_TCK), libc::sysconf(libc::_SC_PAGESIZE)) };
        let uptime_secs = std::fs::read_to_string("/proc/uptime")
            .ok()
            .and_then(|t| t.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0);
        Clock {
            ticks_per_sec: u64::try_from(tck).unwrap_or(100).max(1),
            page_bytes: u64::try_from(page).unwrap_or(4096),
            uptime_secs,
        }
    }

    /// CPU time over a process's lifetime, in percent of one core.
    pub fn percent(&self, stat: &Stat) -> f64 {
        let tps = self.ticks_per_sec as f64;
        let alive = self.uptime_secs - stat.start_ticks as f64 / tps;
        if alive <= 0.0 { 0.0 } else { 100.0 * (stat.ticks as f64 / tps) / alive }
    }
}

/// One process as read: its stat and command line.
struct Read {
    stat: Stat,
    command: String,
}

/// Reads `/proc/PID`; `None` once it is gone (or is a zombie).
fn read_pid(pid: u32) -> Option<Read> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (name, stat) = parse_stat(&text)?;
    if stat.zombie {
        return None;
    }
    let args = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let command = command_line(&args, &name);
    Some(Read { stat, command })
}

/// `cmdline` as one line: NULs become spaces; `[name]` when it is empty.
pub fn command_line(args: &[u8], name: &str) -> String {
    let text = String::from_utf8_lossy(args);
    let joined = text.trim_end_matches('\0').replace('\0', " ");
    let mut line = if joined.trim().is_empty() { format!("[{name}]") } else { joined };
    if line.len() > MAX_COMMAND {
        let mut cut = MAX_COMMAND;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        line.truncate(cut);
    }
    line
}

/// Every live pid of the process groups asked for, in one scan of `/proc`.
fn group_members(pgids: &BTreeSet<i32>) -> BTreeMap<i32, Vec<u32>> {
    let mut members: BTreeMap<i32, Vec<u32>> = BTreeMap::new();
    if pgids.is_empty() {
        return members;
    }
    let Ok(dir) = std::fs::read_dir("/proc") else { return members };
    for pid in dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok()) {
        let Some((_, stat)) = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok().and_then(|t| parse_stat(&t))
        else {
            continue;
        };
        if pgids.contains(&stat.pgid) && !stat.zombie {
            members.entry(stat.pgid).or_default().push(pid);
        }
    }
    members
}

/// Reads every wanted entry; entries with no live member are left out.
pub fn read(wanted: &[Wanted]) -> Vec<EntryProcesses> {
    let clock = Clock::now();
    let pgids: BTreeSet<i32> = wanted
        .iter()
        .flat_map(|w| &w.sources)
        .filter_map(|s| match s {
            Source::Group(pgid) => Some(*pgid),
            Source::Cgroup(_) => None,
        })
        .collect();
    let by_group = group_members(&pgids);
    let mut budget = MAX_ROWS;
    let mut out = Vec::new();
    for w in wanted {
        let mut pids = BTreeSet::new();
        let mut tracking = Tracking::ProcessGroup;
        for s in &w.sources {
            match s {
                Source::Group(pgid) => pids.extend(by_group.get(pgid).into_iter().flatten().copied()),
                Source::Cgroup(dir) => {
                    tracking = Tracking::Cgroup;
                    pids.extend(cgroup_members(dir));
                }
            }
        }
        let reads: BTreeMap<u32, Read> = pids.into_iter().filter_map(|p| Some((p, read_pid(p)?))).collect();
        if reads.is_empty() {
            continue;
        }
        let parents: BTreeMap<u32, u32> = reads.iter().map(|(&p, r)| (p, r.stat.ppid)).collect();
        let order = tree(w.main_pid, &parents);
        let omitted = order.len().saturating_sub(budget);
        let processes: Vec<PsRow> = order
            .into_iter()
            .take(budget)
            .filter_map(|(pid, depth, stray)| {
                let r = reads.get(&pid)?;
                Some(PsRow {
                    pid,
                    ppid: r.stat.ppid,
                    depth,
                    stray,
                    rss_bytes: r.stat.rss_pages.saturating_mul(clock.page_bytes),
                    cpu_time_ms: r.stat.ticks.saturating_mul(1000) / clock.ticks_per_sec,
                    cpu_percent: clock.percent(&r.stat),
                    command: r.command.clone(),
                })
            })
            .collect();
        budget -= processes.len();
        out.push(EntryProcesses {
            group: w.group.clone(),
            tag: w.tag.clone(),
            main_pid: w.main_pid.filter(|m| reads.contains_key(m)),
            tracking,
            processes,
            omitted: u32::try_from(omitted).unwrap_or(u32::MAX),
        });
    }
    out
}

/// The pids in an entry cgroup (`cgroup.procs`).
fn cgroup_members(dir: &Path) -> Vec<u32> {
    crate::cgroup::procs(dir).into_iter().filter_map(|p| u32::try_from(p).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_names() {
        let text = "4242 (my (odd) name) S 7 4240 4240 0 -1 4194560 100 0 0 0 150 50 7 3 20 0 1 0 12345 9000000 250 1";
        let (name, s) = parse_stat(text).expect("parses");
        assert_eq!(name, "my (odd) name");
        assert_eq!(s, Stat { ppid: 7, pgid: 4240, zombie: false, ticks: 200, start_ticks: 12345, rss_pages: 250 });
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn the_main_process_first_children_indented_strays_last() {
        // 10 main → 11 → 13, 10 → 12; 20 re-parented to 1 (setsid) → 21.
        let parents: BTreeMap<u32, u32> = [(10, 5), (11, 10), (12, 10), (13, 11), (20, 1), (21, 20)].into();
        assert_eq!(
            tree(Some(10), &parents),
            [(10, 0, false), (11, 1, false), (13, 2, false), (12, 1, false), (20, 0, true), (21, 1, true)]
        );
    }

    #[test]
    fn without_a_live_main_process_everything_is_stray() {
        let parents: BTreeMap<u32, u32> = [(30, 1), (31, 30)].into();
        assert_eq!(tree(Some(99), &parents), [(30, 0, true), (31, 1, true)]);
        assert_eq!(tree(None, &parents), [(30, 0, true), (31, 1, true)]);
        // Even a (misread) cycle of parents lists every member once.
        let cycle: BTreeMap<u32, u32> = [(40, 41), (41, 40)].into();
        assert_eq!(tree(None, &cycle).len(), 2);
    }

    #[test]
    fn command_lines_are_joined_bounded_and_named_when_empty() {
        assert_eq!(command_line(b"sleep\x00100\x00", "sleep"), "sleep 100");
        assert_eq!(command_line(b"", "kworker"), "[kworker]");
        assert_eq!(command_line("é".repeat(200).as_bytes(), "x").len(), MAX_COMMAND);
    }

    #[test]
    fn lifetime_cpu_percent() {
        let clock = Clock { ticks_per_sec: 100, page_bytes: 4096, uptime_secs: 110.0 };
        let stat = Stat { ppid: 1, pgid: 1, zombie: false, ticks: 500, start_ticks: 10_000, rss_pages: 1 };
        // 5 s of CPU in the 10 s since it started.
        assert_eq!(clock.percent(&stat), 50.0);
        assert_eq!(clock.percent(&Stat { start_ticks: 20_000, ..stat }), 0.0);
    }
}
