//! Folding what the client task reports into the model.

use super::{App, Connection, Mode, Tone};
use crate::client::{ClientEvent, Failure, Reply};
use isinit_shared::{Event, ProcessStatus, Update};

/// What a client event may have changed of the groups list and the
/// processes table, so that [`App::update`] looks for the selection again
/// only when it could have moved: that look filters and sorts every row
/// of the selected group, which with 10,000 processes cost more than the
/// rest of the event (issue 22).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reach {
    /// No row came, went, changed group or changed its place in the
    /// processes table's order: the lists hold the same rows in the same
    /// order, so the selection and the scrolling stand as they were.
    InPlace,
    /// Rows may have come, gone or moved.
    Lists,
}

impl App {
    pub(super) fn on_client_event(&mut self, event: ClientEvent) -> Reach {
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
            ClientEvent::Update(update) => return self.on_update(*update),
            ClientEvent::Disconnected { at_ms, reason } => {
                let since_ms = match &self.connection {
                    Connection::Disconnected { since_ms, .. } => *since_ms,
                    _ => at_ms,
                };
                self.connection = Connection::Disconnected { since_ms, reason };
                self.dirty = true;
            }
            ClientEvent::Reply(reply) => self.on_reply(reply),
            output => {
                self.on_output(output);
                return Reach::InPlace;
            }
        }
        Reach::Lists
    }

    /// A process's output or the group log's: either panel, nothing else.
    fn on_output(&mut self, event: ClientEvent) {
        match event {
            ClientEvent::Logs { id, lines } if self.is_group_log(id) => self.on_group_log(lines, true, None),
            ClientEvent::Output { id, line } if self.is_group_log(id) => self.on_group_log(vec![line], false, None),
            ClientEvent::OutputEnded { id, reason } if self.is_group_log(id) => {
                self.on_group_log(Vec::new(), false, Some(reason))
            }
            ClientEvent::Logs { id, lines } => self.dirty |= self.output.on_backlog(id, lines),
            ClientEvent::Output { id, line } => self.dirty |= self.output.on_line(id, line),
            ClientEvent::OutputEnded { id, reason } => self.dirty |= self.output.on_ended(id, reason),
            ClientEvent::Snapshot(_)
            | ClientEvent::Update(_)
            | ClientEvent::Disconnected { .. }
            | ClientEvent::Reply(_) => {}
        }
    }

    fn on_update(&mut self, update: Update) -> Reach {
        let Some(snapshot) = &mut self.snapshot else { return Reach::InPlace };
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
        let reach = match (at, update.event) {
            (Some(i), Event::Process(p)) => {
                snapshot.seq = update.seq;
                let old = std::mem::replace(&mut snapshot.processes[i], p);
                let new = &snapshot.processes[i];
                // The row stands where it stood in file order, under the
                // same tag. The filter reads tags and group names alone, so
                // it can move in the lists only by changing group or, in
                // the selected group's table, its place in the order.
                let shown = self.groups.name.as_ref().is_some_and(|g| *g == new.group);
                if old.group != new.group || (shown && !self.sort.keeps_place(&old, new, &self.usage.rows)) {
                    Reach::Lists
                } else {
                    Reach::InPlace
                }
            }
            (_, event) => {
                let reach = match &event {
                    Event::Process(_) | Event::ProcessRemoved { .. } | Event::GroupRemoved { .. } => Reach::Lists,
                    Event::Group(g) if snapshot.groups.binary_search_by(|x| x.name.cmp(&g.name)).is_err() => {
                        Reach::Lists
                    }
                    // A known group's level or state, the file's name, an
                    // audit record, a notice, halting: no row of either
                    // list comes, goes or moves.
                    _ => Reach::InPlace,
                };
                let moves_rows = matches!(event, Event::Process(_) | Event::ProcessRemoved { .. });
                let halting = matches!(event, Event::Halting);
                snapshot.apply(&Update { seq: update.seq, event });
                if moves_rows {
                    self.index_processes();
                }
                if halting {
                    self.set_status(Tone::Info, "the daemon is shutting down");
                }
                reach
            }
        };
        self.dirty = true;
        reach
    }

    /// The row of `tag`, found by the index rather than a scan.
    pub(super) fn process(&self, tag: &str) -> Option<&ProcessStatus> {
        let at = *self.process_at.get(tag)?;
        self.snapshot.as_ref()?.processes.get(at).filter(|p| p.tag == tag)
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
