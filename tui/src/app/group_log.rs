//! The group log (SPEC §19): `L` on a group opens one log of all its
//! tags, merged in time by the daemon (`logs -g -f`), each line under its
//! tag's colour, timestamps toggled with `t`. Its stream runs only while
//! the view is open.

use super::{Action, App, Mode};
use crate::client::Command;
use isinit_shared::protocol::OutputLine;
use std::collections::VecDeque;

/// Lines the view keeps; older ones are dropped.
pub const GROUP_LINES_KEPT: usize = 2000;

/// Stream ids of group logs start here, far from the output panel's, so
/// that an event of one is never taken for the other.
const FIRST_ID: u64 = 1 << 63;

/// The open group log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupLog {
    /// The group.
    pub group: String,
    /// The stream, as in [`Command::FollowGroup`].
    pub id: u64,
    /// Oldest first.
    pub lines: VecDeque<OutputLine>,
    /// Lines scrolled back from the newest; 0 follows new lines.
    pub back: usize,
    /// Whether each line starts with when the daemon read it.
    pub timestamps: bool,
    /// Why the stream ended, if it did.
    pub ended: Option<String>,
}

impl GroupLog {
    fn push(&mut self, line: OutputLine) {
        if self.lines.len() == GROUP_LINES_KEPT {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
        if self.back > 0 {
            // Scrolled back: the view stays on the same lines.
            self.back = (self.back + 1).min(self.lines.len().saturating_sub(1));
        }
    }
}

impl App {
    /// `L`: the log of the selected group.
    pub(super) fn open_group_log(&mut self) {
        let Some(group) = self.selected_group().map(|g| g.name.clone()) else { return };
        self.group_log_id = self.group_log_id.max(FIRST_ID).wrapping_add(1);
        let id = self.group_log_id;
        self.commands.push(Command::FollowGroup { id, group: Some(group.clone()) });
        self.mode = Mode::GroupLog(Box::new(GroupLog {
            group,
            id,
            lines: VecDeque::new(),
            back: 0,
            timestamps: false,
            ended: None,
        }));
    }

    /// Whether `id` is the open group log's stream.
    pub(super) fn is_group_log(&self, id: u64) -> bool {
        matches!(&self.mode, Mode::GroupLog(log) if log.id == id)
    }

    /// The backlog, a new line, or the end of the open group log's stream.
    pub(super) fn on_group_log(&mut self, lines: Vec<OutputLine>, replace: bool, ended: Option<String>) {
        let Mode::GroupLog(log) = &mut self.mode else { return };
        if replace {
            log.lines.clear();
            log.back = 0;
        }
        for line in lines {
            log.push(line);
        }
        if ended.is_some() {
            log.ended = ended;
        }
        self.dirty = true;
    }

    pub(super) fn on_key_group_log(&mut self, action: Action) {
        let Mode::GroupLog(log) = &mut self.mode else { return };
        let most = log.lines.len().saturating_sub(1);
        match action {
            Action::Up => log.back = (log.back + 1).min(most),
            Action::Down => log.back = log.back.saturating_sub(1),
            Action::PageUp => log.back = (log.back + 10).min(most),
            Action::PageDown => log.back = log.back.saturating_sub(10),
            Action::Top => log.back = most,
            Action::Bottom => log.back = 0,
            Action::ToggleTimestamps => log.timestamps = !log.timestamps,
            Action::Cancel | Action::Confirm => {
                let id = log.id;
                self.commands.push(Command::FollowGroup { id, group: None });
                self.mode = Mode::Normal;
            }
            _ => {}
        }
    }
}
