//! A rolling switch from the fleet screen (SPEC §16): `R` opens a form
//! (group, level, batch size, healthy-for) over the hosts shown; Enter
//! hands a [`Start`] to the loop, which runs the command line's own driver
//! (`isinit_client::fleet::rollout::drive`) and feeds its events back
//! here as [`RollMessage`]s. `S` stops after the current wave.

use super::Host;
use isinit_client::fleet::HostSet;
use isinit_client::fleet::rollout::Batch;
use isinit_client::fleet::rollout::drive::{Event, HostStep, Outcome, Plan};
use isinit_client::transport::Dest;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How long a told host has past its healthy-for to become healthy:
/// the console's `--timeout` of `tell --batch`.
pub const GRACE: Duration = Duration::from_secs(30);

/// The form's fields, in Tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The group (← → choose).
    Group,
    /// The level (← → choose).
    Level,
    /// Hosts a wave: `N` or `P%`.
    Batch,
    /// Seconds every respawn entry must run without a restart.
    HealthyFor,
}

impl Field {
    const ORDER: [Field; 4] = [Field::Group, Field::Level, Field::Batch, Field::HealthyFor];

    fn step(self, by: isize) -> Field {
        let at = Field::ORDER.iter().position(|f| *f == self).unwrap_or(0) as isize;
        Field::ORDER[(at + by).rem_euclid(Field::ORDER.len() as isize) as usize]
    }
}

/// The rollout form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    /// The hosts to roll, as given (the ones the filter shows).
    pub hosts: Vec<usize>,
    /// Their names, folded (`web[01-40]`).
    pub set: String,
    /// Every group the hosts have.
    pub groups: Vec<String>,
    /// The chosen group (index into `groups`).
    pub group: usize,
    /// The levels of the chosen group, then `0`.
    pub levels: Vec<String>,
    /// The chosen level (index into `levels`).
    pub level: usize,
    /// What is typed for the batch.
    pub batch: String,
    /// What is typed for healthy-for, in seconds.
    pub healthy_for: String,
    /// The field being edited.
    pub field: Field,
    /// Why the last Enter was refused.
    pub error: Option<String>,
}

/// What a key did to the form.
#[derive(Debug)]
pub enum FormKey {
    /// Still editing.
    Open,
    /// Esc.
    Cancel,
    /// Enter on a valid form.
    Start(Start),
}

/// A rollout the loop is to run.
#[derive(Debug, Clone)]
pub struct Start {
    /// What to roll.
    pub plan: Plan,
    /// The hosts, in order.
    pub hosts: Vec<Dest>,
    /// How long each host has to answer and to become healthy.
    pub deadline: Duration,
    /// Raised by `S`: stop after the current wave.
    pub stop: Arc<AtomicBool>,
}

/// What the loop's rollout task reports.
#[derive(Debug)]
pub enum RollMessage {
    /// A step of the driver.
    Event(Event),
    /// It ended.
    Done(Outcome),
}

fn fold<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let mut set = HostSet::new();
    for n in names {
        set.insert(n.to_string());
    }
    set.fold()
}

impl Form {
    /// A form over `shown` (indices into `hosts`, kept in the order given),
    /// its group preselected as `prefer` when the hosts have it.
    pub fn new(hosts: &[Host], shown: &[usize], prefer: Option<&str>) -> Form {
        let mut shown = shown.to_vec();
        shown.sort_unstable();
        let mut groups: Vec<String> = Vec::new();
        for s in shown.iter().filter_map(|i| hosts[*i].app.snapshot()) {
            for g in &s.groups {
                if !groups.contains(&g.name) {
                    groups.push(g.name.clone());
                }
            }
        }
        groups.sort();
        let group = prefer.and_then(|p| groups.iter().position(|g| g == p)).unwrap_or(0);
        let mut form = Form {
            set: fold(shown.iter().map(|i| hosts[*i].dest.as_str())),
            hosts: shown,
            groups,
            group,
            levels: Vec::new(),
            level: 0,
            batch: "1".to_string(),
            healthy_for: "5".to_string(),
            field: Field::Group,
            error: None,
        };
        form.levels = form.levels_of(hosts);
        form
    }

    /// Fills in `[GROUP [LEVEL [BATCH]]]` as `:roll` gave them: a group or
    /// level the hosts do not have is left as it was, and said.
    pub fn prefill(&mut self, words: &[&str], hosts: &[Host]) {
        if let Some(group) = words.first() {
            match self.groups.iter().position(|g| g == group) {
                Some(at) => {
                    self.group = at;
                    self.levels = self.levels_of(hosts);
                    self.level = 0;
                    self.field = Field::Level;
                }
                None => self.error = Some(format!("no host shown has a group {group}")),
            }
        }
        if let Some(level) = words.get(1) {
            match self.levels.iter().position(|l| l == level) {
                Some(at) => {
                    self.level = at;
                    self.field = Field::Batch;
                }
                None => {
                    let group = self.groups.get(self.group).map_or("the group", String::as_str);
                    self.error = Some(format!("{group} has no level {level}"));
                }
            }
        }
        if let Some(batch) = words.get(2) {
            self.batch = batch.to_string();
        }
    }

    /// The chosen group's levels on the form's hosts, then `0` (stop).
    fn levels_of(&self, hosts: &[Host]) -> Vec<String> {
        let mut levels: Vec<String> = Vec::new();
        let Some(name) = self.groups.get(self.group) else { return levels };
        for g in self.hosts.iter().filter_map(|i| hosts[*i].app.snapshot()?.group(name)) {
            for l in &g.levels {
                if !levels.contains(l) {
                    levels.push(l.clone());
                }
            }
        }
        if !levels.iter().any(|l| l == "0") {
            levels.push("0".to_string());
        }
        levels
    }

    /// One key: Tab/↓ and Shift-Tab/↑ move between fields, ← → choose the
    /// group or level, digits, `.` and `%` type, Enter starts, Esc cancels.
    pub fn on_key(&mut self, key: crossterm::event::KeyCode, hosts: &[Host]) -> FormKey {
        use crossterm::event::KeyCode;
        match key {
            KeyCode::Esc => return FormKey::Cancel,
            KeyCode::Tab | KeyCode::Down => self.field = self.field.step(1),
            KeyCode::BackTab | KeyCode::Up => self.field = self.field.step(-1),
            KeyCode::Left | KeyCode::Right => {
                let by = if key == KeyCode::Left { -1 } else { 1 };
                let cycle = |at: usize, len: usize| ((at as isize + by).rem_euclid(len.max(1) as isize)) as usize;
                match self.field {
                    Field::Group => {
                        self.group = cycle(self.group, self.groups.len());
                        self.levels = self.levels_of(hosts);
                        self.level = 0;
                    }
                    Field::Level => self.level = cycle(self.level, self.levels.len()),
                    Field::Batch | Field::HealthyFor => {}
                }
            }
            KeyCode::Backspace => {
                if let Some(text) = self.text_mut() {
                    text.pop();
                }
            }
            KeyCode::Char(c) if c.is_ascii_digit() || c == '.' || c == '%' => {
                if let Some(text) = self.text_mut() {
                    text.push(c);
                }
            }
            KeyCode::Enter => match self.start(hosts) {
                Ok(start) => return FormKey::Start(start),
                Err(why) => self.error = Some(why),
            },
            _ => {}
        }
        FormKey::Open
    }

    fn text_mut(&mut self) -> Option<&mut String> {
        match self.field {
            Field::Batch => Some(&mut self.batch),
            Field::HealthyFor => Some(&mut self.healthy_for),
            Field::Group | Field::Level => None,
        }
    }

    /// The rollout the form describes, or why it cannot start.
    pub fn start(&self, hosts: &[Host]) -> Result<Start, String> {
        let group = self.groups.get(self.group).ok_or("no host has a group yet")?;
        let level = self.levels.get(self.level).ok_or("the group has no level")?;
        let batch: Batch = self.batch.parse()?;
        let healthy_for = self
            .healthy_for
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .filter(|d| *d <= Duration::from_secs(3600))
            .ok_or_else(|| format!("`{}` is not a number of seconds (at most 3600)", self.healthy_for))?;
        if self.hosts.is_empty() {
            return Err("no host shown: change the filter".to_string());
        }
        Ok(Start {
            plan: Plan { group: group.clone(), level: level.clone(), batch, healthy_for, max_fail: 0, revert: false },
            hosts: self.hosts.iter().map(|i| hosts[*i].dest.clone()).collect(),
            deadline: healthy_for + GRACE,
            stop: Arc::new(AtomicBool::new(false)),
        })
    }
}

/// A rollout running or done, as the progress panel shows it.
#[derive(Debug)]
pub struct Progress {
    /// What is rolled.
    pub plan: Plan,
    /// How many hosts in all.
    pub hosts: usize,
    /// Waves in all.
    pub waves: usize,
    /// The wave running: its number, and its hosts folded.
    pub wave: Option<(usize, String)>,
    /// Each host of that wave and where it stands.
    pub steps: Vec<(String, HostStep)>,
    /// Hosts rolled and failed so far (over finished waves).
    pub rolled: usize,
    /// Hosts failed so far.
    pub failed: usize,
    /// The wave and revert lines, as the command line prints them.
    pub lines: Vec<String>,
    /// The final line once done (and a note when stopped by `S`).
    pub outcome: Option<Outcome>,
    /// The running wave's hosts are not counted yet.
    open: bool,
    /// Raised by `S`.
    stop: Arc<AtomicBool>,
}

impl Progress {
    /// The progress of `start`, before its first event.
    pub fn new(start: &Start) -> Progress {
        Progress {
            plan: start.plan.clone(),
            hosts: start.hosts.len(),
            waves: start.hosts.len().div_ceil(start.plan.batch.size(start.hosts.len())),
            wave: None,
            steps: Vec::new(),
            rolled: 0,
            failed: 0,
            lines: Vec::new(),
            outcome: None,
            open: false,
            stop: start.stop.clone(),
        }
    }

    /// `S`: stop after the current wave.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Whether `S` was pressed.
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Whether it has ended.
    pub fn done(&self) -> bool {
        self.outcome.is_some()
    }

    /// Folds one message in.
    pub fn on_message(&mut self, message: RollMessage) {
        match message {
            RollMessage::Event(Event::Wave { n, hosts, .. }) => {
                self.wave = Some((n, fold(hosts.iter().map(String::as_str))));
                self.steps = hosts.into_iter().map(|h| (h, HostStep::Connecting)).collect();
                self.open = true;
            }
            RollMessage::Event(Event::Host { host, step }) => {
                if let Some((_, s)) = self.steps.iter_mut().find(|(h, _)| *h == host) {
                    *s = step;
                }
            }
            RollMessage::Event(Event::Unreachable { .. }) => {}
            RollMessage::Event(Event::WaveDone(line)) => {
                self.rolled += self.steps.iter().filter(|(_, s)| *s == HostStep::Healthy).count();
                self.failed += self.steps.iter().filter(|(_, s)| matches!(s, HostStep::Failed(_))).count();
                self.lines.push(line);
                self.open = false;
            }
            RollMessage::Event(Event::Reverted(line)) => self.lines.push(line),
            RollMessage::Done(outcome) => self.outcome = Some(outcome),
        }
    }

    /// Hosts not told yet.
    pub fn waiting(&self) -> usize {
        self.hosts.saturating_sub(self.rolled + self.failed + self.steps_open())
    }

    /// Hosts of the running wave (not yet counted).
    fn steps_open(&self) -> usize {
        if self.open { self.steps.len() } else { 0 }
    }
}
