//! Which groups and processes are visible (the filter), which one is
//! selected (by name, so it survives resyncs), and how far each list is
//! scrolled.

use super::App;
use isinit_shared::time::UnixMillis;
use isinit_shared::{GroupStatus, ProcessState, ProcessStatus};

/// A process that exited this many times within [`FLAP_WINDOW_MS`] is
/// flagged as flapping in the groups list.
pub const FLAP_EXITS: usize = 3;
/// The window [`FLAP_EXITS`] is counted over.
pub const FLAP_WINDOW_MS: u64 = 60_000;

/// The selection and scroll position of one list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Cursor {
    /// The selected group name or process tag.
    pub name: Option<String>,
    /// Its row last time; where the selection lands if it disappears.
    pub index: usize,
    /// First visible row.
    pub offset: usize,
}

/// A list as the renderer needs it: the visible items, the selected row
/// and the first row shown.
#[derive(Debug)]
pub struct ListView<'a, T> {
    /// Every row that passes the filter, in display order.
    pub items: Vec<&'a T>,
    /// The selected row, if any row is selected.
    pub selected: Option<usize>,
    /// The first row shown, as last scrolled by the app; the renderer
    /// still clamps it so the selection is visible at any height.
    pub offset: usize,
}

/// The first visible row that keeps `selected` on screen, moving the view
/// as little as possible from `offset` (editor-style scrolling).
pub fn scroll_into_view(offset: usize, selected: usize, height: usize) -> usize {
    let height = height.max(1);
    if selected < offset {
        selected
    } else if selected >= offset + height {
        selected + 1 - height
    } else {
        offset
    }
}

/// Whether `needle` (already lower-case ASCII) occurs in `hay`, ignoring
/// ASCII case, without allocating: this runs for every row on every frame.
pub(super) fn contains_folded(hay: &str, needle: &str) -> bool {
    needle.is_empty()
        || hay
            .as_bytes()
            .windows(needle.len())
            .any(|w| w.iter().zip(needle.bytes()).all(|(a, b)| a.to_ascii_lowercase() == b))
}

/// Whether a process exited within the flapping window.
pub(super) fn exited_recently(p: &ProcessStatus, now_ms: UnixMillis) -> bool {
    p.recent_exits.last().is_some_and(|e| now_ms.saturating_sub(e.at_ms) < FLAP_WINDOW_MS)
}

/// Whether a process deserves the operator's attention in the groups list:
/// throttled, or restarting over and over.
pub fn is_flapping(p: &ProcessStatus, now_ms: UnixMillis) -> bool {
    p.state == ProcessState::Backoff
        || p.recent_exits.iter().filter(|e| now_ms.saturating_sub(e.at_ms) < FLAP_WINDOW_MS).count() >= FLAP_EXITS
}

impl App {
    fn filter_folded(&self) -> String {
        self.filter.to_ascii_lowercase()
    }

    /// The groups that pass the filter: by name, or because one of their
    /// processes' tags matches.
    pub fn visible_groups(&self) -> Vec<&GroupStatus> {
        let Some(snapshot) = &self.snapshot else { return Vec::new() };
        let needle = self.filter_folded();
        if needle.is_empty() {
            return snapshot.groups.iter().collect();
        }
        let mut by_tag: Vec<&str> =
            snapshot.processes.iter().filter(|p| contains_folded(&p.tag, &needle)).map(|p| p.group.as_str()).collect();
        by_tag.sort_unstable();
        by_tag.dedup();
        snapshot
            .groups
            .iter()
            .filter(|g| contains_folded(&g.name, &needle) || by_tag.binary_search(&g.name.as_str()).is_ok())
            .collect()
    }

    /// The selected group's processes that pass the filter: all of them if
    /// the group's name matches, else those whose tag does; in the chosen
    /// sort order.
    pub fn visible_processes(&self) -> Vec<&ProcessStatus> {
        let (Some(snapshot), Some(group)) = (&self.snapshot, &self.groups.name) else { return Vec::new() };
        let needle = self.filter_folded();
        let all = contains_folded(group, &needle);
        let mut rows: Vec<&ProcessStatus> =
            snapshot.processes_of(group).filter(|p| all || contains_folded(&p.tag, &needle)).collect();
        self.sort.apply(&mut rows, &self.usage.rows);
        rows
    }

    /// The groups list as shown.
    pub fn groups_view(&self) -> ListView<'_, GroupStatus> {
        let items = self.visible_groups();
        let selected = self.groups.name.as_ref().and_then(|n| items.iter().position(|g| &g.name == n));
        ListView { items, selected, offset: self.groups.offset }
    }

    /// The processes table as shown.
    pub fn processes_view(&self) -> ListView<'_, ProcessStatus> {
        let items = self.visible_processes();
        let selected = self.processes.name.as_ref().and_then(|t| items.iter().position(|p| &p.tag == t));
        ListView { items, selected, offset: self.processes.offset }
    }

    /// The selected group, if one is visible.
    pub fn selected_group(&self) -> Option<&GroupStatus> {
        let name = self.groups.name.as_deref()?;
        self.snapshot.as_ref()?.group(name)
    }

    /// The selected process, if one is visible.
    pub fn selected_process(&self) -> Option<&ProcessStatus> {
        self.process(self.processes.name.as_deref()?)
    }

    /// Moves the group selection by `delta` rows (clamped); a different
    /// group starts with its first process selected.
    pub(super) fn move_group(&mut self, delta: isize) {
        let groups = self.visible_groups();
        let at = self.groups.name.as_ref().and_then(|n| groups.iter().position(|g| &g.name == n));
        let Some(target) = step(groups.len(), at, delta).map(|i| groups[i].name.clone()) else { return };
        if self.groups.name.as_ref() != Some(&target) {
            self.groups.name = Some(target);
            self.processes = Cursor::default();
        }
    }

    /// Moves the process selection by `delta` rows (clamped).
    pub(super) fn move_process(&mut self, delta: isize) {
        let processes = self.visible_processes();
        let at = self.processes.name.as_ref().and_then(|t| processes.iter().position(|p| &p.tag == t));
        if let Some(target) = step(processes.len(), at, delta).map(|i| processes[i].tag.clone()) {
            self.processes.name = Some(target);
        }
    }

    /// Re-establishes the selection after the lists changed: keep the same
    /// name if it is still visible, else land on the nearest row; then
    /// scroll so the selection is on screen.
    pub(super) fn reselect(&mut self) {
        let groups = self.visible_groups();
        let (name, index) = match self.groups.name.as_ref().and_then(|n| groups.iter().position(|g| &g.name == n)) {
            Some(i) => (Some(groups[i].name.clone()), i),
            None => {
                // Groups are sorted by name: the nearest is where the old
                // name would sort, so a removed group hands over to the next.
                let i = match &self.groups.name {
                    Some(old) => groups.partition_point(|g| g.name.as_str() < old.as_str()),
                    None => 0,
                };
                let i = i.min(groups.len().saturating_sub(1));
                (groups.get(i).map(|g| g.name.clone()), i)
            }
        };
        if name != self.groups.name {
            self.processes = Cursor::default();
        }
        self.groups.name = name;
        self.groups.index = index;
        self.groups.offset = scroll_into_view(self.groups.offset, index, self.viewport.groups);

        let processes = self.visible_processes();
        let found = self.processes.name.as_ref().and_then(|t| processes.iter().position(|p| &p.tag == t));
        let index = found.unwrap_or(self.processes.index).min(processes.len().saturating_sub(1));
        self.processes.name = processes.get(index).map(|p| p.tag.clone());
        self.processes.index = index;
        self.processes.offset = scroll_into_view(self.processes.offset, index, self.viewport.processes);
    }
}

/// The row `delta` rows away from `at` in a list of `len`, clamped to the
/// ends; `None` for an empty list.
fn step(len: usize, at: Option<usize>, delta: isize) -> Option<usize> {
    let last = len.checked_sub(1)?;
    Some(at.unwrap_or(0).saturating_add_signed(delta).min(last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrolling_moves_the_view_only_when_needed() {
        assert_eq!(scroll_into_view(0, 3, 10), 0);
        assert_eq!(scroll_into_view(0, 10, 10), 1);
        assert_eq!(scroll_into_view(5, 2, 10), 2);
        assert_eq!(scroll_into_view(5, 14, 10), 5);
        assert_eq!(scroll_into_view(3, 0, 0), 0);
    }

    #[test]
    fn folded_substring() {
        assert!(contains_folded("MailSpool", "spool"));
        assert!(contains_folded("x", ""));
        assert!(!contains_folded("ma", "mail"));
    }
}
