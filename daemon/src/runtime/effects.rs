//! Carrying out what the supervisor decided: spawns, stop signals,
//! events for subscribers, the status and state files.

use super::{Runtime, SPAWN_BATCH, push_capped};
use crate::supervisor::{Effect, Now};
use isinit_shared::protocol::{Event, NOTICES_KEPT, NoticeRecord};

impl Runtime {
    /// Carries out every pending effect; true once shutdown is complete.
    ///
    /// Yields to the other tasks every [`SPAWN_BATCH`] spawns, so that
    /// starting a thousand processes does not keep `status` or the console
    /// waiting.
    pub(super) async fn carry_out(&mut self) -> bool {
        let mut exit = false;
        let mut spawned = 0usize;
        let mut sent = std::collections::HashSet::new();
        loop {
            let effects = self.sup.take_effects();
            if effects.is_empty() {
                return exit;
            }
            for effect in effects {
                match effect {
                    Effect::Spawn(req) => {
                        let result = self.spawn_one(&req);
                        match &result {
                            Ok(pid) => tracing::debug!("{}: started pid {pid}", req.tag),
                            Err(e) => tracing::warn!("{}: {e}", req.tag),
                        }
                        self.sup.spawned(Now::real(), &req.tag, result);
                        spawned += 1;
                        if spawned.is_multiple_of(SPAWN_BATCH) {
                            tokio::task::yield_now().await;
                        }
                    }
                    Effect::Signal { pgid, signal } => self.send_stop(pgid, signal, &mut sent),
                    Effect::Publish(event) => {
                        match &event {
                            Event::Halting => self.info.send_modify(|i| i.halting = true),
                            Event::Notice { at_ms, message } => {
                                let notice = NoticeRecord { at_ms: *at_ms, message: message.clone() };
                                push_capped(&mut self.notices, notice, NOTICES_KEPT);
                            }
                            _ => {}
                        }
                        self.publish(event);
                    }
                    Effect::WriteStatus => {
                        if let Some(f) = &self.status_file {
                            f.update(self.sup.status_lines());
                        }
                        // A group settled or began switching: keep the
                        // state file's progress current (no one waits).
                        self.save_state();
                        self.tidy_cgroups();
                    }
                    Effect::Log(line) => tracing::warn!("{line}"),
                    Effect::Exit => exit = true,
                }
            }
        }
    }
}
