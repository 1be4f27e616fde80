//! The resource columns' figures. The console asks the daemon for a usage
//! sample only while the processes table shows a running process, at most
//! once per [`USAGE_EVERY_MS`], riding on the uptime tick — so a console
//! that shows nothing alive makes the daemon read nothing.

use super::{App, Connection};
use crate::client::{Command, Failure};
use isinit_shared::ProcessUsage;
use isinit_shared::time::UnixMillis;
use std::collections::HashMap;

/// The least time between two samples: the 1 s tick with some slack.
pub const USAGE_EVERY_MS: u64 = 900;

/// The last sample and whether the next is on its way.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UsageView {
    /// By tag.
    pub(super) rows: HashMap<String, ProcessUsage>,
    /// A request is out; no second one until it is answered.
    pub(super) pending: bool,
    /// When the last request went out, by the daemon's clock.
    pub(super) asked_at_ms: Option<UnixMillis>,
}

impl App {
    /// The last sample of `tag`'s process groups, if it runs.
    pub fn usage_of(&self, tag: &str) -> Option<&ProcessUsage> {
        self.usage.rows.get(tag)
    }

    /// Every row of the last sample, by tag (for sorting).
    pub fn usage_rows(&self) -> &HashMap<String, ProcessUsage> {
        &self.usage.rows
    }

    /// On each tick: ask for a sample if the table shows something alive
    /// and the last one is old enough.
    pub(super) fn maybe_ask_usage(&mut self) {
        if self.connection != Connection::Connected || self.usage.pending {
            return;
        }
        if self.usage.asked_at_ms.is_some_and(|at| self.now_ms.saturating_sub(at) < USAGE_EVERY_MS) {
            return;
        }
        let trends_shown = self.mode == super::Mode::Pulses || self.sampling;
        if !trends_shown && !self.processes_view().items.iter().any(|p| p.pid.is_some()) {
            return;
        }
        self.usage.pending = true;
        self.usage.asked_at_ms = Some(self.now_ms);
        self.commands.push(Command::Usage);
    }

    /// The usage request last queued was never sent (the fleet holds back
    /// an off-screen host's samples): none is outstanding, and the next
    /// tick may ask again.
    pub fn forget_usage_request(&mut self) {
        self.usage.pending = false;
        self.usage.asked_at_ms = None;
    }

    pub(super) fn on_usage(&mut self, result: Result<Vec<ProcessUsage>, Failure>) {
        self.usage.pending = false;
        // A failed sample keeps the last figures; the next tick asks again.
        if let Ok(rows) = result {
            self.usage.rows = rows.into_iter().map(|u| (u.tag.clone(), u)).collect();
            self.dirty = true;
            self.record_pulse();
        }
    }
}
