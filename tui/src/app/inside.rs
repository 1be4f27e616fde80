//! Looking inside (SPEC §19) from the console: `x` opens the x-ray of the
//! selected process's entry (every process of it, as a tree, strays
//! marked), `A` the timeline of the selected group's last switch. Both are
//! one request each, answered into a popup that scrolls; nothing is
//! sampled while neither is open.

use super::{App, Mode};
use crate::client::{Command, Failure};
use isinit_shared::protocol::{EntryProcesses, SwitchTimeline};

/// What the popup shows.
#[derive(Debug, Clone, PartialEq)]
pub enum InsideKind {
    /// Every process of one entry.
    Xray {
        /// The entry.
        tag: String,
    },
    /// The last switch of one group.
    Timeline {
        /// The group.
        group: String,
    },
}

/// Where the popup's answer stands.
#[derive(Debug, Clone, PartialEq)]
pub enum InsideContent {
    /// Asked, not answered yet.
    Loading,
    /// The daemon refused, or could not be reached.
    Failed(String),
    /// The x-ray: the entry's processes (none listed: nothing of it runs).
    Processes(Vec<EntryProcesses>),
    /// The timeline of the switch.
    Timeline(Box<SwitchTimeline>),
}

/// The open popup.
#[derive(Debug, Clone, PartialEq)]
pub struct Inside {
    /// What was asked for.
    pub kind: InsideKind,
    /// The answer so far.
    pub content: InsideContent,
    /// First row shown.
    pub scroll: usize,
}

impl Inside {
    /// Rows of content, for the scroll bound.
    pub fn rows(&self) -> usize {
        match &self.content {
            InsideContent::Processes(entries) => entries.iter().map(|e| e.processes.len()).sum(),
            InsideContent::Timeline(t) => t.steps.len(),
            InsideContent::Loading | InsideContent::Failed(_) => 1,
        }
    }
}

impl App {
    /// `x`: the x-ray of the selected process's entry.
    pub(super) fn open_xray(&mut self) {
        let Some(tag) = self.selected_process().map(|p| p.tag.clone()) else { return };
        self.commands.push(Command::Ps { tag: tag.clone() });
        self.mode = Mode::Inside(Box::new(Inside {
            kind: InsideKind::Xray { tag },
            content: InsideContent::Loading,
            scroll: 0,
        }));
    }

    /// `A`: the timeline of the selected group's last switch.
    pub(super) fn open_timeline(&mut self) {
        let Some(group) = self.selected_group().map(|g| g.name.clone()) else { return };
        self.commands.push(Command::Analyze { group: group.clone() });
        self.mode = Mode::Inside(Box::new(Inside {
            kind: InsideKind::Timeline { group },
            content: InsideContent::Loading,
            scroll: 0,
        }));
    }

    /// An answer for the popup; dropped if the popup was closed or now
    /// shows something else.
    pub(super) fn on_inside(&mut self, kind: &InsideKind, content: Result<InsideContent, Failure>) {
        let Mode::Inside(open) = &mut self.mode else { return };
        if &open.kind != kind {
            return;
        }
        open.content = content.unwrap_or_else(|f| InsideContent::Failed(f.message));
        open.scroll = 0;
        self.dirty = true;
    }

    pub(super) fn on_key_inside(&mut self, action: super::Action) {
        use super::Action;
        let Mode::Inside(open) = &mut self.mode else { return };
        let last = open.rows().saturating_sub(1);
        match action {
            Action::Up => open.scroll = open.scroll.saturating_sub(1),
            Action::Down => open.scroll = (open.scroll + 1).min(last),
            Action::PageUp => open.scroll = open.scroll.saturating_sub(10),
            Action::PageDown => open.scroll = (open.scroll + 10).min(last),
            Action::Cancel | Action::Confirm => self.mode = Mode::Normal,
            _ => {}
        }
    }
}
