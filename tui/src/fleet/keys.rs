//! The fleet screen's keys: moving the selection (the table and the
//! matrix follow it), `/` filter, `s` sort, ← → matrix columns, `:`
//! palette, `R` rollout form, `S` stop the rollout, `P` the hosts'
//! pulses, Enter open a host.

use super::roll::{Form, FormKey, Progress};
use super::{Fleet, View, order, view};
use crate::app::{Action, InputMode};
use crate::input;
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// What the first `q` says while a rollout runs.
const QUIT_WHILE_ROLLING: &str =
    "a rollout is running: q again quits now, mid-wave (hosts not told stay as they are); S stops it after this wave";

impl Fleet {
    /// One key press.
    pub fn on_key(&mut self, key: KeyEvent) {
        if key.kind == KeyEventKind::Release {
            return;
        }
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            self.running = false;
            return;
        }
        match self.view {
            View::Host(i) => self.on_host_key(i, key),
            View::Fleet { help: true } => {
                if matches!(key.code, KeyCode::Esc | KeyCode::Char('?') | KeyCode::Char('q') | KeyCode::Enter) {
                    self.view = View::Fleet { help: false };
                    self.dirty = true;
                }
            }
            View::Fleet { help: false } => {
                if self.palette.is_some() {
                    if let Some(action) = input::action_for(key, InputMode::Palette) {
                        self.on_palette_action(action);
                    }
                } else if let Some(form) = &mut self.form {
                    match form.on_key(key.code, &self.hosts) {
                        FormKey::Open => {}
                        FormKey::Cancel => self.form = None,
                        FormKey::Start(start) => {
                            self.form = None;
                            self.rollout = Some(Progress::new(&start));
                            self.start = Some(start);
                        }
                    }
                } else if self.filtering {
                    self.on_filter_key(key);
                } else {
                    self.on_fleet_key(key);
                }
                self.dirty = true;
            }
        }
    }

    fn on_filter_key(&mut self, key: KeyEvent) {
        match input::action_for(key, InputMode::Text) {
            Some(Action::Input(c)) => self.filter.push(c),
            Some(Action::Backspace) => {
                self.filter.pop();
            }
            Some(Action::Confirm) => self.filtering = false,
            Some(Action::Cancel) => {
                self.filter.clear();
                self.filtering = false;
            }
            Some(Action::Up) => return self.step(-1),
            Some(Action::Down) => return self.step(1),
            _ => return,
        }
        self.top = 0;
        self.column = 0;
        self.follow();
    }

    fn on_fleet_key(&mut self, key: KeyEvent) {
        let armed = self.note.as_deref() == Some(QUIT_WHILE_ROLLING);
        self.note = None;
        match key.code {
            // Quitting ends a running rollout mid-wave: ask for a second q.
            KeyCode::Char('q') if !armed && self.rollout.as_ref().is_some_and(|p| !p.done()) => {
                self.note = Some(QUIT_WHILE_ROLLING.to_string());
            }
            KeyCode::Char('q') => self.running = false,
            KeyCode::Up | KeyCode::Char('k') => self.step(-1),
            KeyCode::Down | KeyCode::Char('j') => self.step(1),
            KeyCode::Home | KeyCode::Char('g') => self.step(isize::MIN),
            KeyCode::End | KeyCode::Char('G') => self.step(isize::MAX),
            KeyCode::PageDown | KeyCode::Char(' ') => self.scroll = self.scroll.saturating_add(10),
            KeyCode::PageUp => self.scroll = self.scroll.saturating_sub(10),
            KeyCode::Right | KeyCode::Char('l') => {
                let last = self.order().len().saturating_sub(view::matrix_columns(self.size.width));
                self.column = (self.column + 1).min(last);
            }
            KeyCode::Left | KeyCode::Char('h') => self.column = self.column.saturating_sub(1),
            KeyCode::Enter if self.order().contains(&self.selected) => self.open(self.selected),
            KeyCode::Char('/') => self.filtering = true,
            KeyCode::Esc if self.pulses_open => self.toggle_pulses(),
            KeyCode::Esc if !self.filter.is_empty() => {
                self.filter.clear();
                self.follow();
            }
            // A finished rollout's panel gives the matrix back.
            KeyCode::Esc if self.rollout.as_ref().is_some_and(Progress::done) => self.rollout = None,
            KeyCode::Char('s') => {
                self.sort = self.sort.next();
                self.follow();
            }
            KeyCode::Char(':') => self.open_palette(),
            KeyCode::Char('R') => self.open_form(),
            KeyCode::Char('P') => self.toggle_pulses(),
            KeyCode::Char('S') => match &self.rollout {
                Some(p) if !p.done() => p.stop(),
                _ => self.note = Some("no rollout is running".to_string()),
            },
            KeyCode::Char('?') => self.view = View::Fleet { help: true },
            _ => {}
        }
    }

    /// `R` (or `:roll`): the rollout form over the hosts shown, unless one
    /// is still running.
    pub(super) fn open_form(&mut self) {
        if self.rollout.as_ref().is_some_and(|p| !p.done()) {
            self.note = Some("a rollout is running (S stops it after this wave)".to_string());
            return;
        }
        let prefer = self.hosts.get(self.selected).and_then(|h| h.app.selected_group()).map(|g| g.name.clone());
        self.form = Some(Form::new(&self.hosts, &self.order(), prefer.as_deref()));
    }

    /// Moves the selection `by` rows of the order shown (saturating at
    /// either end), then keeps it in view.
    fn step(&mut self, by: isize) {
        let shown = self.order();
        let Some(last) = shown.len().checked_sub(1) else { return };
        let at = shown.iter().position(|i| *i == self.selected).unwrap_or(0);
        let to = at.saturating_add_signed(by).min(last);
        self.selected = shown[to];
        self.follow_in(&shown);
    }

    /// Keeps the selection on a host shown (the first, when the filter
    /// hid it) and in view, in the table and in the matrix.
    pub(super) fn follow(&mut self) {
        let shown = self.order();
        self.follow_in(&shown);
    }

    /// [`Fleet::follow`] with the order shown already computed.
    fn follow_in(&mut self, shown: &[usize]) {
        let at = match shown.iter().position(|i| *i == self.selected) {
            Some(at) => at,
            None => match shown.first() {
                Some(first) => {
                    self.selected = *first;
                    0
                }
                None => return,
            },
        };
        let rows = view::table_rows(self.size.height, shown.len());
        self.top = order::window(self.top, at, rows, shown.len());
        let columns = view::matrix_columns(self.size.width);
        self.column = order::window(self.column, at, columns, shown.len());
    }

    fn on_host_key(&mut self, i: usize, key: KeyEvent) {
        let app = &mut self.hosts[i].app;
        let mode = app.input_mode();
        // Esc while browsing with nothing to cancel goes back to the fleet.
        if key.code == KeyCode::Esc && mode == InputMode::Normal && app.filter().is_empty() {
            self.view = View::Fleet { help: false };
            self.dirty = true;
            return;
        }
        if let Some(action) = input::action_for(key, mode) {
            let now = self.hosts[i].clock.now_ms();
            let app = &mut self.hosts[i].app;
            app.update(Action::Tick(now));
            app.update(action);
            if !app.is_running() {
                self.running = false;
            }
        }
    }
}
