//! The fleet console: `isinit-tui -H a -H b …` — one row per host, a
//! groups × hosts matrix, and today's single-host console for the host the
//! operator opens.
//!
//! Every host keeps its own [`App`] (the single-host model), fed by its own
//! client task, whether it is on screen or not: opening a host shows its
//! current state at once, and the fleet screen is drawn from the very same
//! models. A lost host only ever affects its own row: its client task
//! reconnects by itself, and the others keep flowing.
//!
//! With one host or none the console is exactly the single-host one; this
//! module is only used for two or more.

mod summary;
#[cfg(test)]
mod tests;
pub mod view;

pub use summary::{HostSummary, Link, majority_sha};

use crate::app::{Action, App, InputMode};
use crate::client::{ClientEvent, Command};
use crate::clock::{DaemonClock, TimeZone};
use crate::input;
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use isinit_client::transport::Dest;
use std::path::PathBuf;

/// One host of the fleet: its name as given and its single-host model.
pub struct Host {
    /// The ssh destination, as given on the command line.
    pub dest: Dest,
    /// The host's console model, kept current off screen too.
    pub app: App,
    /// The host's daemon clock, anchored on its snapshots.
    clock: DaemonClock,
    /// The output stream its model wants, held back while it is off screen
    /// so that a fleet of twenty does not hold twenty `logs -f` sessions.
    held_follow: Option<Command>,
}

/// What is on screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// The fleet screen; `help` is the `?` overlay.
    Fleet {
        /// Whether the key help is open.
        help: bool,
    },
    /// One host's single-host console (index into the hosts).
    Host(usize),
}

/// The fleet console's whole state.
pub struct Fleet {
    hosts: Vec<Host>,
    view: View,
    selected: usize,
    /// First group row shown in the matrix.
    scroll: usize,
    tz: TimeZone,
    /// Held-back output streams to start now that their host is open.
    resume: Vec<(usize, Command)>,
    dirty: bool,
    running: bool,
}

impl Fleet {
    /// A fleet of `dests`, in the order given.
    pub fn new(dests: &[Dest], tz: TimeZone) -> Fleet {
        let hosts = dests
            .iter()
            .map(|d| Host {
                dest: d.clone(),
                app: App::new(PathBuf::from(d.as_str()), tz),
                clock: DaemonClock::default(),
                held_follow: None,
            })
            .collect();
        Fleet {
            hosts,
            view: View::Fleet { help: false },
            selected: 0,
            scroll: 0,
            tz,
            resume: Vec::new(),
            dirty: true,
            running: true,
        }
    }

    /// The hosts, in the order given.
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// What is on screen.
    pub fn view(&self) -> View {
        self.view
    }

    /// The highlighted host row.
    pub fn selected(&self) -> usize {
        self.selected
    }

    /// First matrix row shown.
    pub fn scroll(&self) -> usize {
        self.scroll
    }

    /// The zone times are shown in.
    pub fn time_zone(&self) -> TimeZone {
        self.tz
    }

    /// False once the operator quit.
    pub fn is_running(&self) -> bool {
        self.running
    }

    /// Returns and clears "needs a redraw"; the host on screen counts.
    pub fn take_dirty(&mut self) -> bool {
        let mut dirty = std::mem::take(&mut self.dirty);
        for (i, h) in self.hosts.iter_mut().enumerate() {
            // Off-screen models change all the time; only the one shown,
            // or any on the fleet screen, needs a frame.
            let shown = match self.view {
                View::Fleet { .. } => true,
                View::Host(v) => v == i,
            };
            dirty |= h.app.take_dirty() && shown;
        }
        dirty
    }

    /// Commands for each host's client task: `(host, command)`. Off-screen
    /// hosts send only what the operator asked for, never their output
    /// stream or usage samples.
    pub fn take_commands(&mut self) -> Vec<(usize, Command)> {
        let mut out = std::mem::take(&mut self.resume);
        for (i, h) in self.hosts.iter_mut().enumerate() {
            let shown = self.view == View::Host(i);
            for command in h.app.take_commands() {
                match command {
                    Command::Follow { .. } if !shown => h.held_follow = Some(command),
                    Command::Usage if !shown => {}
                    command => out.push((i, command)),
                }
            }
        }
        out
    }

    /// Whether a 1 s tick would change the screen: the open host's own
    /// rule; the fleet screen shows uptimes to the minute and asks for
    /// [`Fleet::wants_minute_tick`] instead.
    pub fn wants_tick(&self) -> bool {
        match self.view {
            View::Host(i) => self.hosts[i].app.wants_tick(),
            View::Fleet { .. } => false,
        }
    }

    /// Whether the fleet screen shows an uptime that a minute will change.
    pub fn wants_minute_tick(&self) -> bool {
        matches!(self.view, View::Fleet { .. }) && self.hosts.iter().any(|h| h.app.snapshot().is_some())
    }

    /// Folds one host's client event into its model.
    pub fn on_client_event(&mut self, host: usize, event: ClientEvent) {
        let Some(h) = self.hosts.get_mut(host) else { return };
        if let ClientEvent::Snapshot(s) = &event {
            h.clock.anchor(s.daemon.now_ms);
        }
        h.app.update(Action::Tick(h.clock.now_ms()));
        h.app.update(Action::Client(event));
    }

    /// The clock ticked: every model ages its uptimes.
    pub fn tick(&mut self) {
        for h in &mut self.hosts {
            h.app.update(Action::Tick(h.clock.now_ms()));
        }
        self.dirty = true;
    }

    /// The terminal was resized: every host's model learns its viewport.
    pub fn resize(&mut self, viewport: crate::app::Viewport) {
        for h in &mut self.hosts {
            h.app.update(Action::Resize(viewport));
        }
        self.dirty = true;
    }

    /// Quits (SIGTERM, SIGHUP).
    pub fn quit(&mut self) {
        self.running = false;
    }

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
            View::Fleet { help: false } => self.on_fleet_key(key),
        }
    }

    fn on_fleet_key(&mut self, key: KeyEvent) {
        let last = self.hosts.len().saturating_sub(1);
        match key.code {
            KeyCode::Char('q') => self.running = false,
            KeyCode::Up | KeyCode::Char('k') => self.selected = self.selected.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => self.selected = (self.selected + 1).min(last),
            KeyCode::Home | KeyCode::Char('g') => self.selected = 0,
            KeyCode::End | KeyCode::Char('G') => self.selected = last,
            KeyCode::PageDown | KeyCode::Char(' ') => self.scroll = self.scroll.saturating_add(10),
            KeyCode::PageUp => self.scroll = self.scroll.saturating_sub(10),
            KeyCode::Enter => self.open(self.selected),
            KeyCode::Char('?') => self.view = View::Fleet { help: true },
            _ => return,
        }
        self.dirty = true;
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

    /// Opens host `i` in the single-host view, resuming its output stream.
    pub fn open(&mut self, i: usize) {
        if i >= self.hosts.len() {
            return;
        }
        self.view = View::Host(i);
        self.selected = i;
        self.dirty = true;
        if let Some(follow) = self.hosts[i].held_follow.take() {
            self.resume.push((i, follow));
        }
    }
}
