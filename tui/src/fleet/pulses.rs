//! Trends per host (SPEC §19): `P` on the fleet screen opens one row per
//! host shown — its CPU, memory and restarts over the last minutes as
//! sparklines, noisiest first — the single-host pulses view with hosts for
//! groups. While it is open every host's model samples usage each second
//! (one request a host, over the connection it already has); closed,
//! nothing is sampled and an idle fleet console costs nothing.

use super::Fleet;
use crate::app::Pulses;

impl Fleet {
    /// `P` (or `:pulses`): opens or closes the hosts' pulses.
    pub(super) fn toggle_pulses(&mut self) {
        self.pulses_open = !self.pulses_open;
        for h in &mut self.hosts {
            h.app.set_sampling(self.pulses_open);
        }
        if self.pulses_open {
            // Start sampling now rather than at the next tick.
            self.tick();
        }
        self.dirty = true;
    }

    /// Whether the hosts' pulses are open.
    pub fn pulses_open(&self) -> bool {
        self.pulses_open
    }

    /// Folds host `i`'s newest usage sample into its trend.
    pub(super) fn record_pulse(&mut self, i: usize) {
        if !self.pulses_open {
            return;
        }
        let (Some(h), Some(pulse)) = (self.hosts.get(i), self.host_pulses.get_mut(i)) else { return };
        if let Some((cpu, rss, restarts)) = h.app.totals() {
            pulse.push(cpu, rss, restarts);
            self.dirty = true;
        }
    }

    /// The trends of the hosts shown (filtered), keyed by host name, for
    /// the pulses view (which orders them noisiest first).
    pub fn shown_pulses(&self) -> Pulses {
        let mut pulses = Pulses::default();
        for i in self.order() {
            let (Some(h), Some(p)) = (self.hosts.get(i), self.host_pulses.get(i)) else { continue };
            if !p.cpu.is_empty() {
                pulses.groups.insert(h.dest.to_string(), p.clone());
            }
        }
        pulses
    }
}
