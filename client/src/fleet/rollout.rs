//! The pure rules of a rolling switch (SPEC §16, `tell … --batch`): how
//! hosts are cut into waves, when a host's group counts as healthy or
//! failed, when the rollout stops, and the lines that report it. The
//! command line drives them over ssh; nothing here does I/O, so every rule
//! is tested without a host.
//!
//! Modelled on Nomad's `update` stanza and Ansible's `serial`: a wave's
//! health gate is decided before the next wave starts, and the report says
//! which hosts were never told.

use super::hostset::HostSet;
use isinit_shared::config::{Levels, Mode};
use isinit_shared::protocol::{GroupState, ProcessState, Snapshot};
use std::str::FromStr;
use std::time::{Duration, Instant};

/// `--batch N` or `--batch P%`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Batch {
    /// N hosts a wave.
    Hosts(usize),
    /// P percent of the hosts a wave (1–100), rounded down, at least one.
    Percent(u8),
}

impl FromStr for Batch {
    type Err = String;

    fn from_str(text: &str) -> Result<Batch, String> {
        let bad = || format!("`{text}` is not a batch size (a number of hosts, or a percentage like 25%)");
        match text.trim().strip_suffix('%') {
            Some(p) => match p.trim().parse::<u8>() {
                Ok(p @ 1..=100) => Ok(Batch::Percent(p)),
                _ => Err(bad()),
            },
            None => match text.trim().parse::<usize>() {
                Ok(n) if n >= 1 => Ok(Batch::Hosts(n)),
                _ => Err(bad()),
            },
        }
    }
}

impl Batch {
    /// Hosts a wave out of `hosts`: never zero, never more than all.
    pub fn size(self, hosts: usize) -> usize {
        let n = match self {
            Batch::Hosts(n) => n,
            Batch::Percent(p) => hosts.saturating_mul(usize::from(p)) / 100,
        };
        n.clamp(1, hosts.max(1))
    }
}

/// The hosts in waves of `batch`, in the order given.
pub fn waves(hosts: &[String], batch: Batch) -> Vec<Vec<String>> {
    hosts.chunks(batch.size(hosts.len())).map(<[String]>::to_vec).collect()
}

/// The running respawn processes of a level: (tag, pid, start in ms).
pub type Stamp = Vec<(String, u32, u64)>;

/// What one snapshot says of the group on a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judgement {
    /// Not there yet (switching, or an entry not running yet).
    Pending(String),
    /// At the level, DONE or PASSED, every respawn entry of the level
    /// running; the stamp names those processes (tag, pid, start), so a
    /// restart shows as a new stamp.
    Settled(Stamp),
    /// The host has failed: the group FAILED, an entry went into backoff
    /// or could not start, the daemon is halting.
    Failed(String),
}

/// Judges `group` at `level` in one snapshot.
pub fn judge(snap: &Snapshot, group: &str, level: &str) -> Judgement {
    let Some(g) = snap.group(group) else {
        return Judgement::Failed(format!("no group {group}"));
    };
    if snap.daemon.halting {
        return Judgement::Failed("daemon halting".to_string());
    }
    if g.level.as_deref() != Some(level) {
        return Judgement::Pending(format!("at level {}", g.level.as_deref().unwrap_or("-")));
    }
    match g.state {
        GroupState::Failed => return Judgement::Failed("FAILED".to_string()),
        GroupState::Done | GroupState::Passed => {}
        other => return Judgement::Pending(other.to_string()),
    }
    let mut stamp = Vec::new();
    for p in snap.processes_of(group) {
        match p.state {
            ProcessState::Backoff => return Judgement::Failed(format!("{} backoff", p.tag)),
            ProcessState::FailedToStart => return Judgement::Failed(format!("{} failed to start", p.tag)),
            _ => {}
        }
        let respawn = matches!(p.mode, Mode::Respawn | Mode::Notify);
        if !respawn || !p.in_file || !Levels::from_field(&p.levels).contains(level) {
            continue;
        }
        let up = p.state == ProcessState::Running && (p.mode != Mode::Notify || p.ready);
        match (up, p.pid) {
            (true, Some(pid)) => stamp.push((p.tag.clone(), pid, p.started_at_ms.unwrap_or_default())),
            _ => return Judgement::Pending(format!("{} {}", p.tag, p.state.as_str())),
        }
    }
    Judgement::Settled(stamp)
}

/// The health gate of one host: healthy once its group has stayed
/// [`Judgement::Settled`] with the same processes for `healthy_for`.
#[derive(Debug, Clone)]
pub struct Gate {
    healthy_for: Duration,
    settled: Option<(Stamp, Instant)>,
}

/// Where a host's gate stands after a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateState {
    /// Not healthy yet; check again at this instant if nothing changes
    /// (`None`: only a change can help).
    Waiting(Option<Instant>, String),
    /// Healthy: the wave may count this host as rolled.
    Healthy,
    /// Failed, with the reason for the report.
    Failed(String),
}

impl Gate {
    /// A gate that needs `healthy_for` of settled running.
    pub fn new(healthy_for: Duration) -> Gate {
        Gate { healthy_for, settled: None }
    }

    /// Folds the latest judgement in at `now`. A restart (a new stamp)
    /// starts the healthy time afresh.
    pub fn observe(&mut self, judgement: Judgement, now: Instant) -> GateState {
        match judgement {
            Judgement::Failed(why) => GateState::Failed(why),
            Judgement::Pending(why) => {
                self.settled = None;
                GateState::Waiting(None, why)
            }
            Judgement::Settled(stamp) => {
                let since = match &self.settled {
                    Some((old, since)) if *old == stamp => *since,
                    _ => now,
                };
                self.settled = Some((stamp, since));
                self.check(now)
            }
        }
    }

    /// The gate at `now` with no new judgement (its timer fired).
    pub fn check(&self, now: Instant) -> GateState {
        match &self.settled {
            None => GateState::Waiting(None, "not settled".to_string()),
            Some((_, since)) => {
                let ready = since.checked_add(self.healthy_for).unwrap_or(*since);
                if now >= ready {
                    GateState::Healthy
                } else {
                    GateState::Waiting(Some(ready), format!("healthy for {:.1} s", (now - *since).as_secs_f64()))
                }
            }
        }
    }
}

/// The stop rule: more than `max_fail` hosts failed so far, counted over
/// every wave, stops the rollout after the wave that saw it.
pub fn must_stop(failed_so_far: usize, max_fail: usize) -> bool {
    failed_so_far > max_fail
}

/// `wave 3/6 web[05-06]: ok`, or `…: failed web05 (FAILED), web06 (unreachable)`.
pub fn wave_line(n: usize, of: usize, hosts: &[String], failed: &[(String, String)]) -> String {
    let set = fold(hosts);
    if failed.is_empty() {
        return format!("wave {n}/{of} {set}: ok");
    }
    let why: Vec<String> = failed.iter().map(|(h, reason)| format!("{h} ({reason})")).collect();
    format!("wave {n}/{of} {set}: failed {}", why.join(", "))
}

/// What became of every host, for the final line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Told and healthy (and not reverted).
    pub rolled: Vec<String>,
    /// Failed, in the order seen.
    pub failed: Vec<String>,
    /// Told back to their level (`--revert`).
    pub reverted: Vec<String>,
    /// Never told: their level is unchanged.
    pub not_told: Vec<String>,
}

impl Tally {
    /// `rolled web[01-04] (4); failed web05 (1); not told web[07-12] (6)`:
    /// every kind that has a host, in that order (`reverted` after failed).
    pub fn line(&self) -> String {
        let parts: Vec<String> = [
            ("rolled", &self.rolled),
            ("failed", &self.failed),
            ("reverted", &self.reverted),
            ("not told", &self.not_told),
        ]
        .into_iter()
        .filter(|(_, hosts)| !hosts.is_empty())
        .map(|(kind, hosts)| format!("{kind} {} ({})", fold(hosts), hosts.len()))
        .collect();
        if parts.is_empty() { "no hosts".to_string() } else { parts.join("; ") }
    }
}

fn fold(hosts: &[String]) -> String {
    let mut set = HostSet::new();
    for h in hosts {
        set.insert(h.clone());
    }
    set.fold()
}

pub mod drive;
#[cfg(test)]
mod tests;
