//! The `:` command palette (SPEC §19): every key's action as a typed
//! command, with Tab completion from what the daemon last said and a
//! history walked with ↑ ↓. Commands: `tell GROUP LEVEL`, `restart TAG`,
//! `signal TAG SIG`, `logs TAG`, `ps TAG`, `analyze GROUP`, `sort COLUMN`,
//! `filter TEXT`, `quit`.

use super::{Action, App, Focus, Mode, SIGNALS, SortKey, SortOrder, Tone};
use crate::client::{Command, ProcessAction};
use isinit_shared::Snapshot;

/// Commands kept for ↑ ↓.
pub const HISTORY_KEPT: usize = 50;

/// The palette's command words, in the order completion offers them.
pub const COMMANDS: &[&str] = &["tell", "restart", "signal", "logs", "ps", "analyze", "sort", "filter", "quit"];

/// The line being typed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Palette {
    /// What has been typed.
    pub text: String,
    /// What Tab offered last, when it was not a single word.
    pub candidates: Vec<String>,
    /// How far back in the history ↑ went; `None` on the new line.
    pub recalled: Option<usize>,
}

/// The longest prefix all `words` share.
pub fn common_prefix(words: &[String]) -> String {
    let Some(first) = words.first() else { return String::new() };
    let mut len = first.len();
    for w in &words[1..] {
        len =
            first.chars().zip(w.chars()).take_while(|(a, b)| a == b).map(|(a, _)| a.len_utf8()).sum::<usize>().min(len);
    }
    first[..len].to_string()
}

/// What a key did to the palette's line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// Still typing.
    Open,
    /// Esc: closed, nothing run.
    Closed,
    /// Enter on this (non-empty) line: closed, run it.
    Run(String),
}

impl Palette {
    /// Tab: completes the word being typed as far as it is unambiguous,
    /// and lists the choices when there are several. `choices` says what
    /// may come at word `index` after the earlier `words`.
    pub fn complete(&mut self, choices: &dyn Fn(&[&str], usize) -> Vec<String>) {
        let text = self.text.clone();
        let (done, partial) = match text.rfind(' ') {
            Some(i) => (&text[..=i], &text[i + 1..]),
            None => ("", text.as_str()),
        };
        let words: Vec<&str> = done.split_whitespace().collect();
        let matching: Vec<String> =
            choices(&words, words.len()).into_iter().filter(|c| c.starts_with(partial)).collect();
        match matching.as_slice() {
            [] => self.candidates.clear(),
            [only] => {
                self.text = format!("{done}{only} ");
                self.candidates.clear();
            }
            several => {
                self.text = format!("{done}{}", common_prefix(several));
                self.candidates = several.to_vec();
            }
        }
    }

    /// One key's action on the line: typing, Tab completion from
    /// `choices`, ↑ ↓ through `history` (oldest first; the line run is
    /// added to it), Esc, Enter.
    pub fn edit(
        &mut self,
        action: Action,
        history: &mut Vec<String>,
        choices: &dyn Fn(&[&str], usize) -> Vec<String>,
    ) -> Edit {
        match action {
            Action::Input(c) => {
                self.text.push(c);
                self.candidates.clear();
            }
            Action::Backspace => {
                self.text.pop();
                self.candidates.clear();
            }
            Action::FocusNext => self.complete(choices),
            Action::Up | Action::Down => {
                let back = match (action, self.recalled) {
                    (Action::Up, None) => Some(0),
                    (Action::Up, Some(i)) => Some((i + 1).min(history.len().saturating_sub(1))),
                    (_, Some(0) | None) => None,
                    (_, Some(i)) => Some(i - 1),
                };
                self.recalled = back.filter(|_| !history.is_empty());
                self.text = self.recalled.and_then(|i| history.iter().rev().nth(i).cloned()).unwrap_or_default();
                self.candidates.clear();
            }
            Action::Cancel => return Edit::Closed,
            Action::Confirm => {
                let line = self.text.trim().to_string();
                if line.is_empty() {
                    return Edit::Closed;
                }
                history.retain(|h| h != &line);
                history.push(line.clone());
                if history.len() > HISTORY_KEPT {
                    history.remove(0);
                }
                return Edit::Run(line);
            }
            _ => {}
        }
        Edit::Open
    }
}

impl App {
    /// `:`: opens the palette on an empty line.
    pub(super) fn open_palette(&mut self) {
        self.mode = Mode::Palette(Palette::default());
    }

    pub(super) fn on_key_palette(&mut self, action: Action) {
        let Mode::Palette(p) = &mut self.mode else { return };
        let snapshot = self.snapshot.as_ref();
        match p.edit(action, &mut self.history, &|words, index| choices(snapshot, words, index)) {
            Edit::Open => {}
            Edit::Closed => self.mode = Mode::Normal,
            Edit::Run(line) => {
                self.mode = Mode::Normal;
                self.run_palette(&line);
            }
        }
    }

    /// Carries out one palette command, or says why not.
    fn run_palette(&mut self, line: &str) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["tell", group, level] => {
                self.commands.push(Command::Tell {
                    group: group.to_string(),
                    level: level.to_string(),
                    dry_run: false,
                });
                self.set_status(Tone::Pending, format!("telling {group} {level}…"));
            }
            ["restart", tag] => {
                if self.select_tag(tag) {
                    self.ask_restart();
                }
            }
            ["signal", tag, signal] => {
                let action = ProcessAction::Signal { tag: tag.to_string(), signal: signal.to_uppercase() };
                self.set_status(Tone::Pending, format!("{}…", action.describe()));
                self.commands.push(Command::Act(action));
            }
            ["logs", tag] => {
                if self.select_tag(tag) {
                    self.focus = Focus::Output;
                }
            }
            ["ps", tag] => {
                if self.select_tag(tag) {
                    self.open_xray();
                }
            }
            ["analyze", group] => {
                if self.select_group(group) {
                    self.open_timeline();
                }
            }
            ["sort", column] => match sort_keys().into_iter().find(|k| sort_word(*k) == *column) {
                Some(key) => {
                    self.sort = SortOrder { key, reversed: false };
                    self.set_status(Tone::Info, self.sort.describe());
                }
                None => self.set_status(Tone::Error, format!("no such column: {column}")),
            },
            ["filter", rest @ ..] => self.filter = rest.join(" "),
            ["quit"] => self.running = false,
            _ => self.set_status(Tone::Error, format!("unknown command: {line} (Tab completes)")),
        }
    }

    /// Selects `tag` (and its group), clearing a filter that hides it.
    fn select_tag(&mut self, tag: &str) -> bool {
        let Some(group) =
            self.snapshot.as_ref().and_then(|s| s.processes.iter().find(|p| p.tag == tag)).map(|p| p.group.clone())
        else {
            self.set_status(Tone::Error, format!("no such tag: {tag}"));
            return false;
        };
        self.filter.clear();
        self.groups.name = Some(group);
        self.processes.name = Some(tag.to_string());
        self.focus = Focus::Processes;
        true
    }

    /// Selects `group`, clearing a filter that hides it.
    fn select_group(&mut self, group: &str) -> bool {
        if self.snapshot.as_ref().and_then(|s| s.group(group)).is_none() {
            self.set_status(Tone::Error, format!("no such group: {group}"));
            return false;
        }
        self.filter.clear();
        self.groups.name = Some(group.to_string());
        self.processes.name = None;
        self.focus = Focus::Groups;
        true
    }
}

/// What may come at word `index` of a line whose earlier words are
/// `words`, from what the daemon last said.
fn choices(snapshot: Option<&Snapshot>, words: &[&str], index: usize) -> Vec<String> {
    let groups = || snapshot.map(|s| s.groups.iter().map(|g| g.name.clone()).collect()).unwrap_or_default();
    let tags = || snapshot.map(|s| s.processes.iter().map(|p| p.tag.clone()).collect()).unwrap_or_default();
    match (words.first().copied(), index) {
        (_, 0) => COMMANDS.iter().map(|c| c.to_string()).collect(),
        (Some("tell" | "analyze"), 1) => groups(),
        (Some("tell"), 2) => {
            words.get(1).and_then(|g| snapshot?.group(g)).map(|g| g.levels.clone()).unwrap_or_default()
        }
        (Some("restart" | "signal" | "logs" | "ps"), 1) => tags(),
        (Some("signal"), 2) => SIGNALS.iter().map(|(s, _)| s.to_string()).collect(),
        (Some("sort"), 1) => sort_keys().iter().map(|k| sort_word(*k).to_string()).collect(),
        _ => Vec::new(),
    }
}

/// Every sort column, file order first.
fn sort_keys() -> Vec<SortKey> {
    let mut keys = vec![SortKey::File];
    while let Some(next) = keys.last().map(|k| k.next()).filter(|k| *k != SortKey::File) {
        keys.push(next);
    }
    keys
}

/// A column's one-word name for `sort`.
fn sort_word(key: SortKey) -> &'static str {
    match key {
        SortKey::File => "file",
        other => other.name(),
    }
}
