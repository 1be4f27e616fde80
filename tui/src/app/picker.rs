//! The level picker: the group's levels plus a free-text line, and the
//! daemon's dry-run preview of switching to the highlighted one.

use crate::client::{Command, Failure};
use isinit_shared::config::valid_level;
use isinit_shared::{GroupStatus, Plan};

/// An open level picker.
#[derive(Debug, Clone, PartialEq)]
pub struct Picker {
    /// The group being switched.
    pub group: String,
    /// Its level when the picker opened, shown for reference.
    pub current: Option<String>,
    /// The levels its entries name, in the daemon's order.
    pub levels: Vec<String>,
    /// Highlighted row: an index into `levels`, or `levels.len()` for the
    /// free-text line.
    pub cursor: usize,
    /// What was typed on the free-text line.
    pub typed: String,
    /// The preview of the chosen level.
    pub preview: Preview,
}

/// What the picker knows about the effect of the chosen level.
#[derive(Debug, Clone, PartialEq)]
pub enum Preview {
    /// Nothing chosen (empty free-text line).
    Nothing,
    /// The typed text is not a valid level name.
    Invalid(String),
    /// Dry run sent for this level, no answer yet.
    Pending(String),
    /// The daemon's plan.
    Ready(Plan),
    /// The dry run for this level failed.
    Failed {
        /// The level asked about.
        level: String,
        /// Why the daemon could not say.
        failure: Failure,
    },
}

impl Preview {
    /// The level this preview is about, if any.
    fn level(&self) -> Option<&str> {
        match self {
            Preview::Nothing | Preview::Invalid(_) => None,
            Preview::Pending(level) | Preview::Failed { level, .. } => Some(level),
            Preview::Ready(plan) => Some(&plan.level),
        }
    }
}

/// Why a level name is unusable, checked before asking the daemon by the
/// rule the daemon applies ([`valid_level`], SPEC §1: non-empty, no `:`,
/// `,` or whitespace), naming the character at fault.
pub fn check_level(level: &str) -> Result<(), String> {
    if valid_level(level) {
        Ok(())
    } else if let Some(c) = level.chars().find(|c| !valid_level(c.encode_utf8(&mut [0; 4]))) {
        Err(format!("a level cannot contain {c:?}"))
    } else {
        Err("type a level".into())
    }
}

impl Picker {
    /// Opens on `group` with its current level highlighted (if it is one of
    /// its levels), else the first level, else the free-text line.
    pub fn open(group: &GroupStatus) -> Picker {
        let cursor =
            group.level.as_ref().and_then(|current| group.levels.iter().position(|l| l == current)).unwrap_or(0);
        Picker {
            group: group.name.clone(),
            current: group.level.clone(),
            levels: group.levels.clone(),
            cursor,
            typed: String::new(),
            preview: Preview::Nothing,
        }
    }

    /// Whether the free-text line is highlighted.
    pub fn on_text_line(&self) -> bool {
        self.cursor >= self.levels.len()
    }

    /// The level Enter would switch to.
    pub fn chosen(&self) -> Option<&str> {
        match self.levels.get(self.cursor) {
            Some(level) => Some(level),
            None if self.typed.is_empty() => None,
            None => Some(&self.typed),
        }
    }

    pub(super) fn up(&mut self) {
        self.cursor = self.cursor.saturating_sub(1);
    }

    pub(super) fn down(&mut self) {
        self.cursor = (self.cursor + 1).min(self.levels.len());
    }

    /// Typing always edits the free-text line, wherever the highlight was.
    pub(super) fn input(&mut self, c: char) {
        self.cursor = self.levels.len();
        self.typed.push(c);
    }

    pub(super) fn backspace(&mut self) {
        self.cursor = self.levels.len();
        self.typed.pop();
    }

    /// Asks for a preview when the chosen level changed since the last one;
    /// re-asking for the same level would only cost a round trip.
    pub(super) fn refresh_preview(&mut self) -> Option<Command> {
        let chosen = self.chosen().map(str::to_owned);
        if chosen.as_deref() == self.preview.level() {
            return None;
        }
        let Some(level) = chosen else {
            self.preview = Preview::Nothing;
            return None;
        };
        if let Err(why) = check_level(&level) {
            self.preview = Preview::Invalid(why);
            return None;
        }
        self.preview = Preview::Pending(level.clone());
        Some(Command::Tell { group: self.group.clone(), level, dry_run: true })
    }

    /// A dry-run answer; dropped unless it is for the level still chosen.
    pub(super) fn on_preview(&mut self, group: &str, level: &str, outcome: Result<Plan, Failure>) -> bool {
        if group != self.group || !matches!(&self.preview, Preview::Pending(l) if l == level) {
            return false;
        }
        self.preview = match outcome {
            Ok(plan) => Preview::Ready(plan),
            Err(failure) => Preview::Failed { level: level.to_owned(), failure },
        };
        true
    }

    /// The switch Enter performs, or why there is none.
    pub(super) fn confirm(&self) -> Result<Command, String> {
        let level = self.chosen().ok_or("type a level")?;
        check_level(level)?;
        Ok(Command::Tell { group: self.group.clone(), level: level.to_owned(), dry_run: false })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_checked_by_the_daemons_rule_naming_the_culprit() {
        assert_eq!(check_level("runmore"), Ok(()));
        assert_eq!(check_level("0"), Ok(()));
        assert_eq!(check_level(""), Err("type a level".to_owned()));
        assert_eq!(check_level("a b"), Err("a level cannot contain ' '".to_owned()));
        assert_eq!(check_level("a:b"), Err("a level cannot contain ':'".to_owned()));
        assert_eq!(check_level("a,b"), Err("a level cannot contain ','".to_owned()));
        assert_eq!(check_level("a\tb"), Err("a level cannot contain '\\t'".to_owned()));
    }
}
