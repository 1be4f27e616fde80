//! Carrying out what the supervisor decided: spawns, stop signals,
//! events for subscribers, the status and state files.

use super::leftovers::start_ticks;
use super::{Runtime, SPAWN_BATCH, push_capped};
use isinit_core::{Effect, Now};
use isinit_shared::protocol::{Event, NOTICES_KEPT, NoticeRecord};

/// How long after a burst of starts the free heap is handed back: long
/// enough for the state and status writers to have encoded their files.
/// (Trimming at once, as before, left what they freed afterwards.)
pub(super) const TRIM_AFTER: std::time::Duration = std::time::Duration::from_secs(2);

impl Runtime {
    /// Hands the allocator's free memory back to the kernel (after a burst
    /// of starts, [`TRIM_AFTER`]).
    pub(super) fn trim_heap(&mut self) {
        self.trim_due = None;
        // SAFETY: malloc_trim only releases free memory.
        unsafe { libc::malloc_trim(0) };
    }

    /// Hands the free heap back [`TRIM_AFTER`] from now, unless a trim is
    /// due already: after a whole snapshot, whose rows (a few megabytes at
    /// 10,000 entries, and its encoding in the connection's task) are
    /// freed once it is sent. Without it, a daemon of 10,000 entries kept
    /// 14 MB more after a `status --json`, a `ps` and a `logs` than before
    /// them (issue 22).
    pub(super) fn trim_later(&mut self) {
        self.trim_due.get_or_insert_with(|| std::time::Instant::now() + TRIM_AFTER);
    }

    /// Carries out every pending effect; true once shutdown is complete.
    ///
    /// A run of spawns (the `once` and `respawn` entries of a level, which
    /// SPEC §3 starts one after the other without waiting) is started by
    /// [`Runtime::spawn_batch`] on several threads, at most [`SPAWN_BATCH`]
    /// at a time; between two such batches the task yields, so that
    /// starting a thousand processes does not keep `status` or the console
    /// waiting.
    pub(super) async fn carry_out(&mut self) -> bool {
        let mut exit = false;
        let mut sent = std::collections::HashSet::new();
        let mut spawned = 0;
        loop {
            let effects = self.sup.take_effects();
            if effects.is_empty() {
                if spawned > 0 {
                    // The new pids and start times reach the state file
                    // (SPEC §15: only what is recorded there is adopted).
                    self.save_state();
                }
                if spawned >= SPAWN_BATCH {
                    // A burst of starts leaves the allocator's free memory
                    // spread over its heap (each spawner thread allocates a
                    // little, and the writer threads encode the files
                    // after it): hand back to the kernel what is free once
                    // they are done ([`TRIM_AFTER`]) — 1.1 MB of the
                    // daemon's 11 at 950 entries (issue 22).
                    self.trim_due = Some(std::time::Instant::now() + TRIM_AFTER);
                }
                return exit;
            }
            let mut effects = effects.into_iter().peekable();
            while let Some(effect) = effects.next() {
                match effect {
                    Effect::Spawn(first) => {
                        let mut batch = vec![first];
                        while batch.len() < SPAWN_BATCH {
                            match effects.next_if(|e| matches!(e, Effect::Spawn(_))) {
                                Some(Effect::Spawn(req)) => batch.push(req),
                                _ => break,
                            }
                        }
                        let results = self.spawn_batch(&batch);
                        for (req, result) in batch.iter().zip(results) {
                            match &result {
                                Ok(pid) => tracing::debug!("{}: started pid {pid}", req.tag),
                                Err(e) => {
                                    tracing::warn!("{}: {e}", req.tag);
                                    self.start_failed(&req.tag, e);
                                }
                            }
                            // Read before any reap: exactly this child's.
                            let ticks = result.as_ref().ok().and_then(|pid| Some((*pid, start_ticks(*pid)?)));
                            self.sup.spawned(Now::real(), &req.tag, result);
                            if let Some((pid, ticks)) = ticks {
                                self.sup.note_start_ticks(&req.tag, pid, ticks);
                            }
                        }
                        spawned += batch.len();
                        if batch.len() > 1 {
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
                    Effect::Probe(req) => self.probe(req),
                    Effect::Abort { pid } => {
                        let abrt = nix::sys::signal::Signal::SIGABRT;
                        if let Err(e) = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), abrt) {
                            tracing::warn!("cannot send SIGABRT to pid {pid}: {e}");
                        }
                    }
                }
            }
        }
    }
}
