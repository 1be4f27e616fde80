//! The invariants checked after the load, from the outside: `/proc` says
//! what runs, not the daemon.

use crate::daemon::{Layout, StressDaemon};
use isinit_e2e::procfs;
use isinit_shared::protocol::{GroupState, ProcessState, Snapshot};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// How long the daemon may take to settle after the last tell: stopping
/// and starting up to a thousand processes on a loaded two-core machine.
pub const SETTLE_DEADLINE: Duration = Duration::from_secs(180);

/// Waits until the daemon says every group is at its `expected` level,
/// `DONE`, with nothing stopping and every entry of the level running.
pub async fn settle(d: &StressDaemon, layout: &Layout, expected: &[String]) -> Result<Duration, String> {
    let start = Instant::now();
    let mut last = String::new();
    while start.elapsed() < SETTLE_DEADLINE {
        match d.snapshot().await {
            Ok(s) => match unsettled(&s, layout, expected) {
                None => return Ok(start.elapsed()),
                Some(why) => last = why,
            },
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("the daemon did not settle within {SETTLE_DEADLINE:?}: {last}"))
}

/// Why `s` is not settled yet, if it is not.
fn unsettled(s: &Snapshot, layout: &Layout, expected: &[String]) -> Option<String> {
    for (g, level) in expected.iter().enumerate() {
        let name = layout.group(g);
        let Some(group) = s.group(&name) else { return Some(format!("{name} missing")) };
        if group.level.as_deref() != Some(level) || group.state != GroupState::Done {
            return Some(format!("{name} is {:?} {}", group.level, group.state));
        }
        let wanted: BTreeSet<String> = layout.tags_at(g, level).into_iter().collect();
        for p in s.processes_of(&name) {
            let ok = if wanted.contains(&p.tag) {
                p.state == ProcessState::Running && p.pid.is_some()
            } else {
                p.pid.is_none() && p.state != ProcessState::Stopping
            };
            if !ok {
                return Some(format!("{} is {} (pid {:?})", p.tag, p.state.as_str(), p.pid));
            }
        }
    }
    None
}

/// What `/proc` shows of the run's processes.
#[derive(Debug, Default)]
pub struct Census {
    /// Live processes per (group, tag), from their `ISINIT_GROUP` and
    /// `ISINIT_TAG`.
    pub by_tag: BTreeMap<(String, String), Vec<i32>>,
    /// Zombie children of the daemon.
    pub zombies: Vec<i32>,
}

impl Census {
    /// Reads `/proc` now.
    pub fn take(marker: &str, daemon_pid: Option<i32>) -> Census {
        let mut census = Census::default();
        for stat in procfs::all() {
            if stat.state == 'Z' {
                if Some(stat.ppid) == daemon_pid {
                    census.zombies.push(stat.pid);
                }
                continue;
            }
            let env = procfs::environ(stat.pid);
            if !env.iter().any(|v| v == marker) {
                continue;
            }
            let var = |name: &str| env.iter().find_map(|v| v.strip_prefix(name)?.strip_prefix('=')).map(String::from);
            if let (Some(group), Some(tag)) = (var("ISINIT_GROUP"), var("ISINIT_TAG")) {
                census.by_tag.entry((group, tag)).or_default().push(stat.pid);
            }
        }
        census
    }

    /// Every way the census differs from "each group runs exactly its
    /// level's respawn entries, once each, and no zombie".
    pub fn problems(&self, layout: &Layout, expected: &[String]) -> Vec<String> {
        let mut problems = Vec::new();
        let mut wanted = BTreeSet::new();
        for (g, level) in expected.iter().enumerate() {
            for tag in layout.tags_at(g, level) {
                wanted.insert((layout.group(g), tag));
            }
        }
        for key in &wanted {
            match self.by_tag.get(key).map(Vec::len).unwrap_or(0) {
                1 => {}
                0 => problems.push(format!("{}/{}: missing", key.0, key.1)),
                n => problems.push(format!("{}/{}: {n} processes {:?}", key.0, key.1, self.by_tag[key])),
            }
        }
        for (key, pids) in &self.by_tag {
            if !wanted.contains(key) {
                problems.push(format!("{}/{}: alive outside its level {pids:?}", key.0, key.1));
            }
        }
        if !self.zombies.is_empty() {
            problems.push(format!("zombie children of the daemon: {:?}", self.zombies));
        }
        problems
    }

    /// How many processes of the run are alive.
    pub fn alive(&self) -> usize {
        self.by_tag.values().map(Vec::len).sum()
    }
}

/// Takes censuses until one has no problem, or the deadline passes (a
/// process between fork and exec, a zombie about to be reaped).
pub async fn census(d: &StressDaemon, layout: &Layout, expected: &[String]) -> (Census, Vec<String>) {
    let start = Instant::now();
    loop {
        let census = Census::take(&d.marker(), d.pid());
        let problems = census.problems(layout, expected);
        if problems.is_empty() || start.elapsed() > Duration::from_secs(20) {
            return (census, problems);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The parts of two snapshots a subscriber must agree on with `status`:
/// everything but the moment each was taken.
pub fn same_state(a: &Snapshot, b: &Snapshot) -> Result<(), String> {
    let strip = |s: &Snapshot| {
        let mut s = s.clone();
        s.daemon.now_ms = 0;
        s
    };
    let (a, b) = (strip(a), strip(b));
    if a == b {
        return Ok(());
    }
    let why = if a.seq != b.seq {
        format!("seq {} vs {}", a.seq, b.seq)
    } else if a.groups != b.groups {
        "groups differ".to_string()
    } else if a.processes != b.processes {
        let diff = a.processes.iter().zip(&b.processes).find(|(x, y)| x != y);
        format!("processes differ ({} vs {} rows; first: {diff:?})", a.processes.len(), b.processes.len())
    } else if a.audit != b.audit {
        "audit differs".to_string()
    } else if a.notices != b.notices {
        "notices differ".to_string()
    } else {
        "daemon info differs".to_string()
    };
    Err(why)
}
