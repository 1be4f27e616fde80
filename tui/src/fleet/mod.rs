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
//! At hundreds of hosts the table scrolls with the selection, `/` filters
//! it by name or host set, `s` sorts trouble first, and the groups × hosts
//! matrix scrolls both ways (see [`order`] and [`keys`]); `R` rolls a
//! group over the hosts shown ([`roll`]).
//!
//! With one host or none the console is exactly the single-host one; this
//! module is only used for two or more.

mod keys;
pub mod order;
mod palette;
mod pulses;
pub mod roll;
mod roll_view;
mod summary;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_pulses;
#[cfg(test)]
mod tests_roll;
#[cfg(test)]
mod tests_scale;
pub mod view;

pub use order::HostSort;
pub use palette::FLEET_COMMANDS;
pub use summary::{HostSummary, Link, Trouble, majority_sha};

use crate::app::{Action, App, Palette, Pulse};
use crate::client::{ClientEvent, Command, Reply};
use crate::clock::{DaemonClock, TimeZone};
use isinit_client::transport::Dest;
use ratatui::layout::Size;
use roll::{Form, Progress, RollMessage, Start};
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
    /// First host column shown in the matrix (index into the order shown).
    column: usize,
    /// First host row shown in the table (index into the order shown).
    top: usize,
    /// The terminal's size, for what fits on screen.
    size: Size,
    /// The `/` filter: a substring or a host set.
    filter: String,
    /// `/` is being typed.
    filtering: bool,
    /// How the hosts table is sorted.
    sort: HostSort,
    /// The `:` palette, while open.
    palette: Option<Palette>,
    /// Palette lines run, oldest first.
    history: Vec<String>,
    /// A palette command's complaint, shown in the footer.
    note: Option<String>,
    /// The rollout form, while open.
    form: Option<Form>,
    /// The last rollout started from here.
    rollout: Option<Progress>,
    /// A rollout for the loop to start.
    start: Option<Start>,
    tz: TimeZone,
    /// Held-back output streams to start now that their host is open.
    resume: Vec<(usize, Command)>,
    /// `P`: the pulses view of the hosts is open (`pulses.rs`).
    pulses_open: bool,
    /// Each host's trends (by index), sampled while the view is open.
    host_pulses: Vec<Pulse>,
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
            column: 0,
            top: 0,
            size: Size { width: 120, height: 40 },
            filter: String::new(),
            filtering: false,
            sort: HostSort::Given,
            palette: None,
            history: Vec::new(),
            note: None,
            form: None,
            rollout: None,
            start: None,
            tz,
            resume: Vec::new(),
            pulses_open: false,
            host_pulses: vec![Pulse::default(); dests.len()],
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

    /// First matrix host column shown (index into [`Fleet::order`]).
    pub fn column(&self) -> usize {
        self.column
    }

    /// First host row shown (index into [`Fleet::order`]).
    pub fn top(&self) -> usize {
        self.top
    }

    /// The `/` filter as typed.
    pub fn filter(&self) -> &str {
        &self.filter
    }

    /// Whether `/` is being typed.
    pub fn filtering(&self) -> bool {
        self.filtering
    }

    /// The hosts table's sort.
    pub fn sort(&self) -> HostSort {
        self.sort
    }

    /// The `:` palette, while open.
    pub fn palette(&self) -> Option<&Palette> {
        self.palette.as_ref()
    }

    /// A palette command's complaint.
    pub fn note(&self) -> Option<&str> {
        self.note.as_deref()
    }

    /// The rollout form, while open.
    pub fn form(&self) -> Option<&Form> {
        self.form.as_ref()
    }

    /// The last rollout started here.
    pub fn rollout(&self) -> Option<&Progress> {
        self.rollout.as_ref()
    }

    /// The terminal size the screen is laid out for.
    pub fn size(&self) -> Size {
        self.size
    }

    /// Every host's row, drift judged against the majority.
    pub fn summaries(&self) -> Vec<HostSummary> {
        let majority = majority_sha(&self.hosts);
        self.hosts.iter().map(|h| HostSummary::of(h, majority.as_deref())).collect()
    }

    /// The hosts shown (filtered), in the order shown (sorted).
    pub fn order(&self) -> Vec<usize> {
        order::order(&self.hosts, &self.filter, self.sort, majority_sha(&self.hosts).as_deref())
    }

    /// A rollout the operator started, for the loop to run; its events
    /// come back through [`Fleet::on_rollout`].
    pub fn take_start(&mut self) -> Option<Start> {
        self.start.take()
    }

    /// Folds one message of the running rollout in.
    pub fn on_rollout(&mut self, message: RollMessage) {
        if let Some(p) = &mut self.rollout {
            p.on_message(message);
            self.dirty = true;
        }
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
                    Command::Usage if !shown && !self.pulses_open => h.app.forget_usage_request(),
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
            View::Fleet { .. } => self.pulses_open,
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
        let sample = matches!(event, ClientEvent::Reply(Reply::Usage(Ok(_))));
        h.app.update(Action::Tick(h.clock.now_ms()));
        h.app.update(Action::Client(event));
        if sample {
            self.record_pulse(host);
        }
    }

    /// The clock ticked: every model ages its uptimes.
    pub fn tick(&mut self) {
        for h in &mut self.hosts {
            h.app.update(Action::Tick(h.clock.now_ms()));
        }
        self.dirty = true;
    }

    /// The terminal was resized: every host's model learns its viewport,
    /// and the fleet screen what fits.
    pub fn resize(&mut self, size: Size) {
        let viewport = crate::ui::viewport(size);
        for h in &mut self.hosts {
            h.app.update(Action::Resize(viewport));
        }
        self.size = size;
        self.follow();
        self.dirty = true;
    }

    /// Quits (SIGTERM, SIGHUP).
    pub fn quit(&mut self) {
        self.running = false;
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
