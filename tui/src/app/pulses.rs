//! Trends (SPEC §19): `P` opens the pulses view, one row per group with
//! sparklines of its CPU, memory and restarts over the last minutes,
//! noisiest first. Samples are taken only while the view is open (one
//! usage request per tick, as the processes table asks), so a console
//! that does not show them costs the daemon nothing.

use super::{App, Mode};
use isinit_shared::protocol::usage_by_group;
use std::collections::{BTreeMap, VecDeque};

/// Samples kept per group: three minutes at one a second.
pub const PULSE_SAMPLES: usize = 180;

/// One group's recent samples, oldest first.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Pulse {
    /// CPU use, percent of one core.
    pub cpu: VecDeque<f64>,
    /// Resident memory, bytes.
    pub rss: VecDeque<u64>,
    /// Restarts of its processes so far (the sum of respawn counts).
    pub restarts: VecDeque<u64>,
}

impl Pulse {
    /// Adds a sample, dropping the oldest past [`PULSE_SAMPLES`].
    pub fn push(&mut self, cpu: f64, rss: u64, restarts: u64) {
        if self.cpu.len() == PULSE_SAMPLES {
            self.cpu.pop_front();
            self.rss.pop_front();
            self.restarts.pop_front();
        }
        self.cpu.push_back(cpu);
        self.rss.push_back(rss);
        self.restarts.push_back(restarts);
    }

    /// Restarts within the samples kept.
    pub fn recent_restarts(&self) -> u64 {
        match (self.restarts.front(), self.restarts.back()) {
            (Some(first), Some(last)) => last.saturating_sub(*first),
            _ => 0,
        }
    }

    /// How loud the group is now, for the order: CPU, then restarts,
    /// then memory.
    fn noise(&self) -> (u64, u64, u64) {
        let cpu = self.cpu.back().copied().unwrap_or(0.0);
        ((cpu * 10.0) as u64, self.recent_restarts(), self.rss.back().copied().unwrap_or(0))
    }
}

/// The trends of every group, kept while the view has been open.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Pulses {
    /// By group name.
    pub groups: BTreeMap<String, Pulse>,
}

impl Pulses {
    /// Group names, noisiest first (ties by name).
    pub fn loudest_first(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.groups.keys().map(String::as_str).collect();
        names.sort_by_key(|n| std::cmp::Reverse(self.groups[*n].noise()));
        names
    }
}

impl App {
    /// `P`: opens (or closes) the pulses view.
    pub(super) fn toggle_pulses(&mut self) {
        self.mode = match self.mode {
            Mode::Pulses => Mode::Normal,
            _ => Mode::Pulses,
        };
    }

    /// The trends so far.
    pub fn pulses(&self) -> &Pulses {
        &self.pulses
    }

    /// Samples usage each second while `on`, whatever is shown here (the
    /// fleet's pulses view, which shows this host's [`App::totals`]).
    pub fn set_sampling(&mut self, on: bool) {
        self.sampling = on;
    }

    /// This host's CPU (percent of one core), memory and restarts (the sum
    /// of respawn counts) now, from the last usage sample; `None` before
    /// the first snapshot.
    pub fn totals(&self) -> Option<(f64, u64, u64)> {
        let snapshot = self.snapshot.as_ref()?;
        let cpu = self.usage.rows.values().filter_map(|u| u.cpu_percent).sum();
        let rss = self.usage.rows.values().map(|u| u.rss_bytes).sum();
        let restarts = snapshot.processes.iter().map(|p| u64::from(p.respawns)).sum();
        Some((cpu, rss, restarts))
    }

    /// Folds a usage sample into the trends, while the view is open.
    pub(super) fn record_pulse(&mut self) {
        if self.mode != Mode::Pulses {
            return;
        }
        let Some(snapshot) = &self.snapshot else { return };
        let usage = usage_by_group(&snapshot.processes, self.usage.rows.values());
        let mut restarts: BTreeMap<&str, u64> = BTreeMap::new();
        for p in &snapshot.processes {
            *restarts.entry(p.group.as_str()).or_default() += u64::from(p.respawns);
        }
        for g in &snapshot.groups {
            let u = usage.get(&g.name).copied().unwrap_or_default();
            let r = restarts.get(g.name.as_str()).copied().unwrap_or(0);
            self.pulses.groups.entry(g.name.clone()).or_default().push(u.cpu_percent.unwrap_or(0.0), u.rss_bytes, r);
        }
        let names: Vec<&String> = snapshot.groups.iter().map(|g| &g.name).collect();
        self.pulses.groups.retain(|n, _| names.contains(&n));
        self.dirty = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_bounded_and_restarts_counted_within_them() {
        let mut p = Pulse::default();
        for i in 0..(PULSE_SAMPLES as u64 + 10) {
            p.push(1.0, 10, i / 50);
        }
        assert_eq!(p.cpu.len(), PULSE_SAMPLES);
        // The samples kept are 10..190: restart counts 0 (10 / 50) to 3 (189 / 50).
        assert_eq!(p.recent_restarts(), 3);
    }

    #[test]
    fn the_busiest_group_comes_first() {
        let mut pulses = Pulses::default();
        pulses.groups.entry("quiet".into()).or_default().push(0.5, 1 << 20, 0);
        pulses.groups.entry("busy".into()).or_default().push(80.0, 1 << 10, 0);
        let flappy = pulses.groups.entry("flappy".into()).or_default();
        flappy.push(0.5, 1 << 10, 0);
        flappy.push(0.5, 1 << 10, 3);
        assert_eq!(pulses.loudest_first(), ["busy", "flappy", "quiet"], "restarts before memory");
    }
}
