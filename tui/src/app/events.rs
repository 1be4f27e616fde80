//! Folding what the client task reports into the model.

use super::{App, Connection, Mode, Tone};
use crate::client::{ClientEvent, Failure, Reply};
use isinit_shared::{Event, Update};

impl App {
    pub(super) fn on_client_event(&mut self, event: ClientEvent) {
        match event {
            ClientEvent::Snapshot(snapshot) => {
                self.now_ms = snapshot.daemon.now_ms;
                self.as_of_ms = snapshot.daemon.now_ms;
                self.snapshot = Some(*snapshot);
                self.index_processes();
                self.connection = Connection::Connected;
                // Possibly another daemon: the figures of the old one's
                // processes mean nothing now.
                self.usage.rows.clear();
                self.dirty = true;
            }
            ClientEvent::Update(update) => self.on_update(*update),
            ClientEvent::Disconnected { at_ms, reason } => {
                let since_ms = match &self.connection {
                    Connection::Disconnected { since_ms, .. } => *since_ms,
                    _ => at_ms,
                };
                self.connection = Connection::Disconnected { since_ms, reason };
                self.dirty = true;
            }
            ClientEvent::Logs { id, lines } if self.is_group_log(id) => self.on_group_log(lines, true, None),
            ClientEvent::Output { id, line } if self.is_group_log(id) => self.on_group_log(vec![line], false, None),
            ClientEvent::OutputEnded { id, reason } if self.is_group_log(id) => {
                self.on_group_log(Vec::new(), false, Some(reason))
            }
            ClientEvent::Logs { id, lines } => self.dirty |= self.output.on_backlog(id, lines),
            ClientEvent::Output { id, line } => self.dirty |= self.output.on_line(id, line),
            ClientEvent::OutputEnded { id, reason } => self.dirty |= self.output.on_ended(id, reason),
            ClientEvent::Reply(reply) => self.on_reply(reply),
        }
    }

    fn on_update(&mut self, update: Update) {
        let Some(snapshot) = &mut self.snapshot else { return };
        // Notices, like everything else shown, are folded into the snapshot
        // by the same rule every subscriber uses: the console keeps no copy.
        // A process event, the common one, finds its row by the index
        // (issue 22: `Snapshot::apply` scans every row for its tag); a new
        // or removed row moves others, so the index is made again.
        let at = match &update.event {
            Event::Process(p) => self
                .process_at
                .get(&p.tag)
                .copied()
                .filter(|i| snapshot.processes.get(*i).is_some_and(|x| x.tag == p.tag)),
            _ => None,
        };
        match (at, update.event) {
            (Some(i), Event::Process(p)) => {
                snapshot.seq = update.seq;
                snapshot.processes[i] = p;
            }
            (_, event) => {
                let moves_rows = matches!(event, Event::Process(_) | Event::ProcessRemoved { .. });
                let halting = matches!(event, Event::Halting);
                snapshot.apply(&Update { seq: update.seq, event });
                if moves_rows {
                    self.index_processes();
                }
                if halting {
                    self.set_status(Tone::Info, "the daemon is shutting down");
                }
            }
        }
        self.dirty = true;
    }

    /// Makes the tag → row index again for the whole snapshot.
    fn index_processes(&mut self) {
        self.process_at.clear();
        if let Some(snapshot) = &self.snapshot {
            self.process_at.extend(snapshot.processes.iter().enumerate().map(|(i, p)| (p.tag.clone(), i)));
        }
    }

    fn on_reply(&mut self, reply: Reply) {
        match reply {
            Reply::Preview { group, level, outcome } => {
                if let Mode::Picker(picker) = &mut self.mode {
                    self.dirty |= picker.on_preview(&group, &level, outcome);
                }
                return;
            }
            Reply::Told { group, level, outcome } => match outcome {
                Ok(message) => self.set_status(Tone::Success, format!("{group} → {level}: {message}")),
                Err(Failure { message, details }) => {
                    self.show_failure(&format!("tell {group} {level} failed"), message, details)
                }
            },
            Reply::Reloaded(outcome) => match outcome {
                Ok(message) => self.set_status(Tone::Success, format!("reload: {message}")),
                Err(Failure { message, details }) => self.show_failure("reload failed", message, details),
            },
            Reply::Acted { action, outcome } => self.on_acted(action, outcome),
            Reply::Usage(result) => {
                self.on_usage(result);
                return;
            }
            Reply::Ps { tag, outcome } => {
                self.on_inside(&super::InsideKind::Xray { tag }, outcome.map(super::InsideContent::Processes));
                return;
            }
            Reply::Timeline { group, outcome } => {
                let content = outcome.map(super::InsideContent::Timeline);
                self.on_inside(&super::InsideKind::Timeline { group }, content);
                return;
            }
        }
        self.dirty = true;
    }
}
