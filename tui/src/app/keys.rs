//! What each key action means, given the mode and the focus.

use super::{Action, App, ErrorList, Focus, Mode, OutputSearch, Picker, SortOrder, Tone};
use crate::client::Command;

impl App {
    pub(super) fn on_key(&mut self, action: Action) {
        match &self.mode {
            Mode::Normal => self.on_key_normal(action),
            Mode::Filter => self.on_key_filter(action),
            Mode::Picker(_) => self.on_key_picker(action),
            Mode::Help => {
                if matches!(action, Action::Cancel | Action::Confirm | Action::ToggleHelp) {
                    self.mode = Mode::Normal;
                }
            }
            Mode::Errors(_) => self.on_key_errors(action),
            Mode::Confirm(_) => self.on_key_confirm(action),
            Mode::Signals(_) => self.on_key_signals(action),
            Mode::Search => self.on_key_search(action),
            Mode::Inside(_) => self.on_key_inside(action),
            Mode::Palette(_) => self.on_key_palette(action),
            Mode::GroupLog(_) => self.on_key_group_log(action),
            Mode::Pulses => {
                if matches!(action, Action::Cancel | Action::Confirm | Action::Pulses) {
                    self.mode = Mode::Normal;
                }
            }
        }
    }

    fn on_key_normal(&mut self, action: Action) {
        match action {
            Action::Up => self.move_focused(-1),
            Action::Down => self.move_focused(1),
            Action::PageUp => self.move_focused(-self.page()),
            Action::PageDown => self.move_focused(self.page()),
            Action::Top => self.move_focused(isize::MIN),
            Action::Bottom => self.move_focused(isize::MAX),
            Action::FocusNext => self.focus = self.focus.next(),
            Action::FocusPrev => self.focus = self.focus.prev(),
            Action::Confirm => self.open_picker(),
            Action::Cancel => {
                if self.filter.is_empty() {
                    self.status = None;
                } else {
                    self.filter.clear();
                }
            }
            Action::Reload => {
                self.commands.push(Command::Reload);
                self.set_status(Tone::Pending, "reloading the isinittab…");
            }
            // `/` searches the output when it has the focus, else filters.
            Action::StartFilter if self.focus == Focus::Output => {
                self.search = OutputSearch::default();
                self.mode = Mode::Search;
            }
            Action::StartFilter => self.mode = Mode::Filter,
            Action::ToggleHelp => self.mode = Mode::Help,
            Action::ToggleFollow => self.output.toggle_follow(self.viewport.output),
            Action::Restart => self.ask_restart(),
            Action::Signal => self.open_signals(),
            Action::CycleSort => {
                self.sort = SortOrder { key: self.sort.key.next(), reversed: false };
                self.set_status(Tone::Info, self.sort.describe());
            }
            Action::ReverseSort => {
                self.sort.reversed = !self.sort.reversed;
                self.set_status(Tone::Info, self.sort.describe());
            }
            Action::NextMatch => self.next_match(true),
            Action::PrevMatch => self.next_match(false),
            Action::ToggleWrap => self.output.toggle_wrap(),
            Action::Xray => self.open_xray(),
            Action::Timeline => self.open_timeline(),
            Action::OpenPalette => self.open_palette(),
            Action::GroupLog => self.open_group_log(),
            Action::Pulses => self.toggle_pulses(),
            _ => {}
        }
    }

    fn on_key_filter(&mut self, action: Action) {
        match action {
            Action::Input(c) => self.filter.push(c),
            Action::Backspace => {
                self.filter.pop();
            }
            Action::Confirm => self.mode = Mode::Normal,
            Action::Cancel => {
                self.filter.clear();
                self.mode = Mode::Normal;
            }
            // Narrowing and picking at once: arrows still move the list.
            Action::Up => self.move_focused(-1),
            Action::Down => self.move_focused(1),
            _ => {}
        }
    }

    fn on_key_picker(&mut self, action: Action) {
        let Mode::Picker(picker) = &mut self.mode else { return };
        match action {
            Action::Up => picker.up(),
            Action::Down => picker.down(),
            Action::Input(c) => picker.input(c),
            Action::Backspace => picker.backspace(),
            Action::Cancel => {
                self.mode = Mode::Normal;
                return;
            }
            Action::Confirm => {
                match picker.confirm() {
                    Ok(command) => {
                        if let Command::Tell { group, level, .. } = &command {
                            let text = format!("telling {group} {level}…");
                            self.set_status(Tone::Pending, text);
                        }
                        self.commands.push(command);
                        self.mode = Mode::Normal;
                    }
                    Err(why) => self.set_status(Tone::Error, why),
                }
                return;
            }
            _ => {}
        }
        if let Some(command) = picker.refresh_preview() {
            self.commands.push(command);
        }
    }

    fn on_key_errors(&mut self, action: Action) {
        let Mode::Errors(list) = &mut self.mode else { return };
        let last = list.lines.len().saturating_sub(1);
        match action {
            Action::Up => list.scroll = list.scroll.saturating_sub(1),
            Action::Down => list.scroll = (list.scroll + 1).min(last),
            Action::PageUp => list.scroll = list.scroll.saturating_sub(10),
            Action::PageDown => list.scroll = (list.scroll + 10).min(last),
            Action::Cancel | Action::Confirm => self.mode = Mode::Normal,
            _ => {}
        }
    }

    /// One screenful of the focused panel, for PgUp/PgDn.
    fn page(&self) -> isize {
        let rows = match self.focus {
            Focus::Groups => self.viewport.groups,
            Focus::Processes => self.viewport.processes,
            Focus::Output => self.viewport.output,
        };
        isize::try_from(rows.max(1)).unwrap_or(isize::MAX)
    }

    /// Arrow keys act on the focused panel.
    fn move_focused(&mut self, delta: isize) {
        match self.focus {
            Focus::Groups => self.move_group(delta),
            Focus::Processes => self.move_process(delta),
            Focus::Output => {
                let height = self.viewport.output;
                match delta {
                    isize::MIN => self.output.jump_oldest(),
                    isize::MAX => self.output.jump_newest(),
                    d if d < 0 => self.output.scroll_up(d.unsigned_abs(), height),
                    d => self.output.scroll_down(d.unsigned_abs(), height),
                }
            }
        }
    }

    /// Enter: the level picker for the selected group, with the preview of
    /// its highlighted level already requested.
    fn open_picker(&mut self) {
        if self.focus == Focus::Output {
            return;
        }
        let Some(group) = self.selected_group() else { return };
        let mut picker = Picker::open(group);
        if let Some(command) = picker.refresh_preview() {
            self.commands.push(command);
        }
        self.mode = Mode::Picker(Box::new(picker));
    }

    /// Shows a failure: a popup when the daemon listed errors (an invalid
    /// isinittab), else just the status line.
    pub(super) fn show_failure(&mut self, what: &str, message: String, details: Vec<String>) {
        let title = format!("{what}: {message}");
        if details.is_empty() {
            self.set_status(Tone::Error, title);
        } else {
            self.set_status(Tone::Error, title.clone());
            self.mode = Mode::Errors(ErrorList { title, lines: details, scroll: 0 });
        }
    }
}
