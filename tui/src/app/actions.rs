//! Acting on the selected process: `R` restarts it (or lets it out of
//! backoff) after a y/n question that says what will happen, `S` picks a
//! signal for it. Both only queue a [`Command`]; the client task asks the
//! daemon and the answer comes back as a [`crate::client::Reply::Acted`].

use super::{Action, App, Mode, Tone};
use crate::client::{Command, Failure, ProcessAction};
use isinit_shared::ProcessState;

/// The signals the picker offers, with what each usually means to a
/// service, so an operator on call need not remember.
pub const SIGNALS: &[(&str, &str)] = &[
    ("HUP", "hang up: many services re-read their configuration"),
    ("INT", "interrupt, as Ctrl-C: a polite stop"),
    ("TERM", "terminate: the usual request to exit"),
    ("USR1", "user signal 1: meaning depends on the service"),
    ("USR2", "user signal 2: meaning depends on the service"),
    ("KILL", "kill at once: cannot be caught or ignored"),
];

/// An open y/n question about one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirm {
    /// What happens on `y`.
    pub action: ProcessAction,
    /// The question's title, e.g. `restart mta?`.
    pub title: String,
    /// What exactly will happen, one line each.
    pub lines: Vec<String>,
}

/// An open signal picker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalPicker {
    /// The process the signal goes to.
    pub tag: String,
    /// Its leader's pid, for the title.
    pub pid: Option<u32>,
    /// The highlighted row of [`SIGNALS`].
    pub cursor: usize,
}

impl App {
    /// `R`: ask before restarting (or retrying) the selected process.
    pub(super) fn ask_restart(&mut self) {
        let Some(p) = self.selected_process() else {
            self.set_status(Tone::Error, "no process selected");
            return;
        };
        let tag = p.tag.clone();
        let confirm = match p.state {
            ProcessState::Backoff => {
                let until = p.backoff_until_ms.map(|t| self.tz.hms(t)).unwrap_or_else(|| "later".into());
                Confirm {
                    action: ProcessAction::Retry { tag: tag.clone() },
                    title: format!("retry {tag} now?"),
                    lines: vec![
                        format!("{tag} is throttled after starting too rapidly; it would start at {until}."),
                        "It starts now instead, and its count of quick starts is reset.".into(),
                    ],
                }
            }
            ProcessState::NotStarted | ProcessState::Off => {
                self.set_status(Tone::Error, format!("{tag} is {}: nothing to restart", p.state.as_str()));
                return;
            }
            _ => {
                let first = match p.pid {
                    Some(pid) => format!(
                        "Stops {tag} (pid {pid}): SIGINT to all its processes, then SIGTERM and SIGKILL if any linger."
                    ),
                    None => format!("{tag} is not running ({}): nothing to stop.", p.state.as_str()),
                };
                let group = p.group.clone();
                Confirm {
                    action: ProcessAction::Restart { tag: tag.clone() },
                    title: format!("restart {tag}?"),
                    lines: vec![first, format!("Then starts it again; the rest of group {group} is left alone.")],
                }
            }
        };
        self.mode = Mode::Confirm(confirm);
    }

    /// `S`: the signal picker for the selected process, if it runs.
    pub(super) fn open_signals(&mut self) {
        let Some(p) = self.selected_process() else {
            self.set_status(Tone::Error, "no process selected");
            return;
        };
        if p.pid.is_none() {
            let text = format!("{} has no running process to signal ({})", p.tag, p.state.as_str());
            self.set_status(Tone::Error, text);
            return;
        }
        self.mode = Mode::Signals(SignalPicker { tag: p.tag.clone(), pid: p.pid, cursor: 0 });
    }

    pub(super) fn on_key_confirm(&mut self, action: Action) {
        let Mode::Confirm(confirm) = &self.mode else { return };
        match action {
            Action::Input('y' | 'Y') | Action::Confirm => {
                let action = confirm.action.clone();
                self.mode = Mode::Normal;
                self.act(action);
            }
            Action::Input('n' | 'N') | Action::Cancel => {
                self.mode = Mode::Normal;
                self.set_status(Tone::Info, "nothing done");
            }
            _ => {}
        }
    }

    pub(super) fn on_key_signals(&mut self, action: Action) {
        let Mode::Signals(picker) = &mut self.mode else { return };
        match action {
            Action::Up => picker.cursor = picker.cursor.saturating_sub(1),
            Action::Down => picker.cursor = (picker.cursor + 1).min(SIGNALS.len() - 1),
            Action::Top => picker.cursor = 0,
            Action::Bottom => picker.cursor = SIGNALS.len() - 1,
            Action::Confirm => {
                let signal = SIGNALS[picker.cursor].0.to_string();
                let tag = picker.tag.clone();
                self.mode = Mode::Normal;
                self.act(ProcessAction::Signal { tag, signal });
            }
            Action::Cancel => self.mode = Mode::Normal,
            _ => {}
        }
    }

    /// Queues the action for the client task and says so.
    fn act(&mut self, action: ProcessAction) {
        let doing = match &action {
            ProcessAction::Restart { tag } => format!("restarting {tag}…"),
            ProcessAction::Retry { tag } => format!("starting {tag} now…"),
            ProcessAction::Signal { tag, signal } => format!("sending SIG{signal} to {tag}…"),
        };
        self.set_status(Tone::Pending, doing);
        self.commands.push(Command::Act(action));
    }

    /// The daemon's answer, on the status line.
    pub(super) fn on_acted(&mut self, action: ProcessAction, outcome: Result<String, Failure>) {
        match outcome {
            Ok(message) => self.set_status(Tone::Success, message),
            Err(Failure { message, .. }) => {
                self.set_status(Tone::Error, format!("{} refused: {message}", action.describe()))
            }
        }
    }
}
