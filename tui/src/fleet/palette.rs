//! The `:` palette on the fleet screen (SPEC §19): `host NAME` jumps to a
//! host and opens it, `filter TEXT`, `sort given|trouble|name`, `roll
//! [GROUP [LEVEL [BATCH]]]` (the rollout form, filled in so far), `pulses`
//! (the hosts' trends), `quit`; Tab completes host names and words, ↑
//! recalls. The line editing is the single-host palette's own.

use super::Fleet;
use super::order::HostSort;
use crate::app::{Action, Edit, Palette};

/// The fleet palette's command words, in the order completion offers them.
pub const FLEET_COMMANDS: &[&str] = &["host", "filter", "sort", "roll", "pulses", "quit"];

impl Fleet {
    /// `:`: opens the palette on an empty line.
    pub(super) fn open_palette(&mut self) {
        self.palette = Some(Palette::default());
    }

    /// What may come at word `index` after `words`.
    fn choices(&self, words: &[&str], index: usize) -> Vec<String> {
        match (words.first().copied(), index) {
            (_, 0) => FLEET_COMMANDS.iter().map(|c| c.to_string()).collect(),
            (Some("host"), 1) => self.hosts.iter().map(|h| h.dest.to_string()).collect(),
            (Some("sort"), 1) => HostSort::ALL.iter().map(|s| s.word().to_string()).collect(),
            (Some("roll"), 1 | 2) => {
                let form = super::roll::Form::new(&self.hosts, &self.order(), words.get(1).copied());
                if index == 1 { form.groups } else { form.levels }
            }
            _ => Vec::new(),
        }
    }

    /// One key's action while the palette is open.
    pub(super) fn on_palette_action(&mut self, action: Action) {
        let Some(mut palette) = self.palette.take() else { return };
        let mut history = std::mem::take(&mut self.history);
        let edit = palette.edit(action, &mut history, &|words, index| self.choices(words, index));
        self.history = history;
        match edit {
            Edit::Open => self.palette = Some(palette),
            Edit::Closed => {}
            Edit::Run(line) => self.run_palette(&line),
        }
    }

    /// Carries out one palette command, or says why not.
    fn run_palette(&mut self, line: &str) {
        let words: Vec<&str> = line.split_whitespace().collect();
        self.note = None;
        match words.as_slice() {
            ["host", name] => match self.hosts.iter().position(|h| h.dest.as_str() == *name) {
                Some(i) => {
                    if !self.order().contains(&i) {
                        self.filter.clear();
                    }
                    self.selected = i;
                    self.follow();
                    self.open(i);
                }
                None => self.note = Some(format!("no such host: {name}")),
            },
            ["filter", rest @ ..] => {
                self.filter = rest.join(" ");
                self.follow();
            }
            ["sort", word] => match HostSort::ALL.into_iter().find(|s| s.word() == *word) {
                Some(sort) => {
                    self.sort = sort;
                    self.follow();
                }
                None => self.note = Some(format!("no such sort: {word} (given, trouble, name)")),
            },
            ["roll", prefill @ ..] if prefill.len() <= 3 => {
                self.open_form();
                if let Some(form) = &mut self.form {
                    form.prefill(prefill, &self.hosts);
                }
            }
            ["pulses"] => self.toggle_pulses(),
            ["quit"] => self.running = false,
            _ => self.note = Some(format!("unknown command: {line} (Tab completes)")),
        }
        self.dirty = true;
    }
}
