//! Acting on one process (SPEC §13): restart it, let a throttled one out of
//! backoff now, or pick the process groups a signal goes to.
//!
//! Like everything in the supervisor these only change state and queue
//! effects. A restart or retry is answered once the new process runs, so
//! each returns a [`StartTicket`] that the runtime holds and checks with
//! [`Supervisor::start_progress`] after every round of effects.

use super::process::{Phase, Proc};
use super::timers::Timer;
use super::{Now, Supervisor};
use isinit_shared::protocol::{ErrorKind, ErrorReply, ExitStatus};

/// What happens to a record once everything it started has stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AfterStop {
    /// It is forgotten (its group left the level, or the daemon halts).
    #[default]
    Forget,
    /// It is started again: an operator asked for a restart.
    Restart,
    /// It is started again as a respawn would be, throttle included: a
    /// `notify` process did not report `READY=1` in time.
    Respawn,
}

/// An accepted restart or retry, to follow until the new process runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartTicket {
    /// The entry being started again.
    pub tag: String,
    /// Its restart count when the request was accepted: the start the
    /// request asked for is the first one that raises it.
    respawns_before: u32,
}

/// How far an accepted restart or retry has come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartProgress {
    /// Still stopping the old process, or the spawn is not answered yet.
    Pending,
    /// The new process runs with this pid.
    Running(u32),
    /// The new process ran and has already exited.
    Exited(ExitStatus),
    /// The command could not be started.
    Failed(String),
    /// The restart was overtaken: a tell, a reload or shutdown stopped
    /// the entry instead.
    Abandoned(String),
}

impl Supervisor {
    /// `restart TAG`: stops the entry's process gracefully (SPEC §5), then
    /// starts it again; an entry with nothing running starts at once.
    pub fn restart_entry(&mut self, now: Now, tag: &str) -> Result<StartTicket, ErrorReply> {
        self.refuse_while_halting()?;
        let level = self.current_level_of(tag)?;
        let Some(p) = self.procs.get_mut(tag) else {
            return Err(rejected(format!("{tag} has not started yet at level {level} (its group is still starting)")));
        };
        if p.phase == Phase::Stopping {
            let why = match p.after_stop {
                AfterStop::Restart => "is already restarting",
                AfterStop::Respawn => "is being restarted (it did not report READY=1 in time)",
                AfterStop::Forget => "is being stopped",
            };
            return Err(rejected(format!("{tag} {why}")));
        }
        let ticket = StartTicket { tag: tag.to_string(), respawns_before: p.respawns };
        if p.has_live_processes() {
            p.after_stop = AfterStop::Restart;
            self.retire(now, tag);
        } else {
            self.start_again(now, tag);
        }
        Ok(ticket)
    }

    /// `retry TAG`: a `respawn` entry in backoff starts now, its count of
    /// quick starts reset, instead of sleeping out the respawn pause.
    pub fn retry(&mut self, now: Now, tag: &str) -> Result<StartTicket, ErrorReply> {
        self.refuse_while_halting()?;
        let Some(p) = self.procs.get(tag) else {
            return Err(match self.config.entry(tag) {
                Some(_) => rejected(format!("{tag} is not in backoff: it is not started")),
                None => no_such_tag(tag),
            });
        };
        if !matches!(p.phase, Phase::Backoff { .. }) {
            return Err(rejected(format!(
                "{tag} is not in backoff: it is {}",
                super::snapshot::process_state(p).as_str()
            )));
        }
        let ticket = StartTicket { tag: tag.to_string(), respawns_before: p.respawns };
        self.start_again(now, tag);
        Ok(ticket)
    }

    /// `signal TAG SIGNAL`: the process groups the signal goes to — the
    /// leader's and any an earlier run left behind.
    pub fn signal_targets(&self, tag: &str) -> Result<Vec<i32>, ErrorReply> {
        match self.procs.get(tag) {
            Some(p) if p.has_live_processes() => Ok(p.pgids.iter().copied().collect()),
            Some(p) => Err(rejected(format!(
                "{tag} has no running process: it is {}",
                super::snapshot::process_state(p).as_str()
            ))),
            None if self.knows_tag(tag) => Err(rejected(format!("{tag} has no running process"))),
            None => Err(no_such_tag(tag)),
        }
    }

    /// Every entry with something running and its process groups, for the
    /// resource columns.
    pub fn live_process_groups(&self) -> Vec<(String, Vec<i32>)> {
        self.procs
            .iter()
            .filter(|(_, p)| !p.pgids.is_empty())
            .map(|(tag, p)| (tag.clone(), p.pgids.iter().copied().collect()))
            .collect()
    }

    /// Every record with something running: its group, tag and process
    /// groups — what a new image of the daemon maps back to cgroups.
    pub fn live_records(&self) -> Vec<(String, String, Vec<i32>)> {
        self.procs
            .iter()
            .filter(|(_, p)| !p.pgids.is_empty())
            .map(|(tag, p)| (p.entry.group.clone(), tag.clone(), p.pgids.iter().copied().collect()))
            .collect()
    }

    /// Whether `tag` has a process record: an entry cgroup without one is
    /// removed once it is empty.
    pub fn has_record(&self, tag: &str) -> bool {
        self.procs.contains_key(tag)
    }

    /// Where the restart or retry of `ticket` stands.
    pub fn start_progress(&self, ticket: &StartTicket) -> StartProgress {
        let tag = &ticket.tag;
        let Some(p) = self.procs.get(tag) else { return self.abandoned(tag) };
        if p.respawns <= ticket.respawns_before {
            return match (&p.phase, p.after_stop) {
                (Phase::Stopping, AfterStop::Restart) => StartProgress::Pending,
                _ => self.abandoned(tag),
            };
        }
        match &p.phase {
            Phase::Running => p.pid.map_or(StartProgress::Pending, |pid| StartProgress::Running(pid as u32)),
            Phase::Exited => p.last_exit.map_or(StartProgress::Pending, StartProgress::Exited),
            Phase::FailedToStart(e) => StartProgress::Failed(e.clone()),
            Phase::Backoff { .. } => {
                StartProgress::Failed(p.start_error.clone().unwrap_or_else(|| "throttled again".into()))
            }
            Phase::Stopping => self.abandoned(tag),
        }
    }

    /// Starts a record again after an operator's restart or retry — unless
    /// its entry left the level (or the file) meanwhile, or the daemon is
    /// halting: then it is forgotten like any stopped record. Either way the
    /// group moves on, since a tell may have waited for this stop.
    pub(super) fn start_again(&mut self, now: Now, tag: &str) {
        self.timers.cancel(tag, |t| matches!(t, Timer::Respawn { .. }));
        let wanted = self.procs.get(tag).and_then(|p| {
            let newer = self.config.entry(tag).filter(|e| e.group == p.entry.group)?;
            let level = self.groups.get(&newer.group)?.level.clone().filter(|l| newer.in_level(l))?;
            Some((newer.clone(), level))
        });
        let group = match (wanted, self.halting) {
            (Some((entry, level)), false) => {
                let Some(p) = self.procs.get_mut(tag) else { return };
                p.after_stop = AfterStop::Forget;
                p.entry = entry.clone();
                p.respawns += 1;
                p.rapid_starts = 0;
                self.start(now, &entry, &level);
                entry.group.clone()
            }
            _ => match self.forget(now, tag) {
                Some(group) => group,
                None => return,
            },
        };
        self.advance(now, &group);
    }

    /// The level of `tag`'s group, if the entry is in it; else why not.
    fn current_level_of(&self, tag: &str) -> Result<String, ErrorReply> {
        let Some(entry) = self.config.entry(tag) else {
            return Err(match self.procs.contains_key(tag) {
                true => rejected(format!("{tag} is no longer in the isinittab")),
                false => no_such_tag(tag),
            });
        };
        match self.groups.get(&entry.group).and_then(|g| g.level.as_deref()) {
            Some(level) if entry.in_level(level) => Ok(level.to_string()),
            Some(level) => {
                Err(rejected(format!("{tag} is not in the current level of its group {} (level {level})", entry.group)))
            }
            None => {
                Err(rejected(format!("{tag} is not in the current level of its group {}: never told", entry.group)))
            }
        }
    }

    fn refuse_while_halting(&self) -> Result<(), ErrorReply> {
        if self.halting { Err(rejected("daemon is shutting down".into())) } else { Ok(()) }
    }

    fn abandoned(&self, tag: &str) -> StartProgress {
        StartProgress::Abandoned(if self.halting {
            "daemon is shutting down".into()
        } else {
            format!("{tag} was stopped instead: its group left the level or the entry changed")
        })
    }
}

impl Proc {
    /// Whether the record is being stopped only to be started again.
    pub fn is_restarting(&self) -> bool {
        self.phase == Phase::Stopping && self.after_stop == AfterStop::Restart
    }
}

fn rejected(message: String) -> ErrorReply {
    ErrorReply::new(ErrorKind::Rejected, message)
}

fn no_such_tag(tag: &str) -> ErrorReply {
    ErrorReply::new(ErrorKind::NoSuchTag, format!("no such tag: {tag}"))
}
