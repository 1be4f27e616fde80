//! Readiness of `notify` entries (SPEC §11): what a child's sd_notify
//! datagram says, which process it counts for, and the deadline by which a
//! `notify` process must have said `READY=1`.
//!
//! The socket and the sender's credentials are the runtime's business
//! (`runtime/readiness.rs`); here a message arrives as plain data with the
//! process group the kernel vouched for, so every rule is tested with no
//! socket and no process.

use super::actions::AfterStop;
use super::process::Phase;
use super::timers::Timer;
use super::{Effect, Now, Supervisor};
use isinit_shared::config::Mode;
use isinit_shared::protocol::Event;

/// `STATUS=` texts are cut to this many characters: they are one line in
/// a table, and a child must not be able to grow every snapshot at will.
pub const STATUS_MAX_CHARS: usize = 256;

/// What one sd_notify datagram says that isinit acts on. Other
/// assignments (`RELOADING=1`…) are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotifyMessage {
    /// The datagram has a `READY=1` line.
    pub ready: bool,
    /// The text of its last `STATUS=` line, cleaned for display.
    pub status: Option<String>,
    /// Its `WATCHDOG=` and `WATCHDOG_USEC=` lines (SPEC §17).
    pub watchdog: super::WatchdogNote,
    /// `EXTEND_TIMEOUT_USEC=N`: a `notify` process still starting needs
    /// at least N more microseconds to become ready.
    pub extend_usec: Option<u64>,
    /// `MAINPID=N`: the service's main process is now N (SPEC §17); the
    /// runtime checks N descends from the entry before it is followed.
    pub main_pid: Option<i32>,
}

impl NotifyMessage {
    /// Reads a datagram: newline-separated `NAME=VALUE` assignments, as
    /// `sd_notify(3)` sends them.
    pub fn parse(bytes: &[u8]) -> NotifyMessage {
        let mut message = NotifyMessage::default();
        for line in bytes.split(|b| *b == b'\n') {
            if line == b"READY=1" {
                message.ready = true;
            } else if let Some(text) = line.strip_prefix(b"STATUS=") {
                message.status = Some(clean(text));
            } else if line == b"WATCHDOG=1" {
                message.watchdog.ping = true;
            } else if line == b"WATCHDOG=trigger" {
                message.watchdog.trigger = true;
            } else if let Some(usec) = line.strip_prefix(b"EXTEND_TIMEOUT_USEC=") {
                message.extend_usec = std::str::from_utf8(usec).ok().and_then(|u| u.parse().ok());
            } else if let Some(pid) = line.strip_prefix(b"MAINPID=") {
                message.main_pid = std::str::from_utf8(pid).ok().and_then(|p| p.parse().ok()).filter(|p| *p > 1);
            } else if let Some(usec) = line.strip_prefix(b"WATCHDOG_USEC=") {
                message.watchdog.usec = std::str::from_utf8(usec).ok().and_then(|u| u.parse().ok());
            }
        }
        message
    }
}

/// The text as it may reach a terminal: valid UTF-8, control characters
/// (escape sequences included) turned into spaces, trimmed and capped.
fn clean(text: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(text)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(STATUS_MAX_CHARS)
        .collect();
    text.trim().to_string()
}

/// Who sent a datagram, from the credentials the kernel attached to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sender {
    /// The sending process (0 when it was already gone).
    pub pid: i32,
    /// Its process group, or `None` when the sender exited before the
    /// group could be read.
    pub pgid: Option<i32>,
}

/// Why a datagram did not count.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The sender was gone before its process group could be checked, so
    /// nothing proves it belonged to a `notify` entry.
    #[error(
        "notify message from pid {pid} ignored: the sender exited before its process group could be checked \
         (send from a process that stays alive, e.g. the service itself)"
    )]
    SenderGone {
        /// As the kernel reported it.
        pid: i32,
    },
    /// The sender is in no process group of a running `notify` process.
    #[error("notify message from pid {pid} ignored: its process group {pgid} is not that of a running notify entry")]
    Stranger {
        /// The sending process.
        pid: i32,
        /// Its process group.
        pgid: i32,
    },
}

/// What a message that counted changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The entry it counted for.
    pub tag: String,
    /// It carried the first `READY=1` of the current run.
    pub became_ready: bool,
}

impl Supervisor {
    /// The leader pids of running `notify` processes: the process groups
    /// whose datagrams [`Supervisor::notified`] may accept, so the
    /// readiness socket's reader can drop everyone else's before they
    /// reach the runtime.
    ///
    /// Only the tags that can be (`notify` entries and those with a
    /// `:::watchdog:`) are looked at: the runtime asks after every event,
    /// and a pass over every record made each event cost the daemon's
    /// size (issue 22).
    pub fn notify_leaders(&self) -> impl Iterator<Item = i32> + '_ {
        let records = self.notified_tags.iter().filter_map(|tag| self.procs.get_key_value(tag));
        records.filter(|(tag, p)| self.is_notified(tag, p)).filter_map(|(_, p)| p.run_group())
    }

    /// Whether datagrams of `p`'s process group may count: it runs, and
    /// is a `notify` entry or has a `:::watchdog:` (SPEC §17).
    fn is_notified(&self, tag: &str, p: &super::process::Proc) -> bool {
        p.phase == Phase::Running && (p.entry.mode == Mode::Notify || self.config.watchdog_of(tag).is_some())
    }

    /// A datagram from a child (SPEC §11). It counts only when its sender
    /// is in the process group of a running `notify` process — the group
    /// of the current leader, not one an earlier run left behind. The first
    /// `READY=1` of a run marks it ready and lets its group's start go on.
    pub fn notified(&mut self, now: Now, sender: Sender, message: &NotifyMessage) -> Result<Accepted, Refusal> {
        let pgid = sender.pgid.ok_or(Refusal::SenderGone { pid: sender.pid })?;
        let mut records = self.notified_tags.iter().filter_map(|tag| self.procs.get_key_value(tag));
        let found = records.find(|(tag, p)| p.run_group() == Some(pgid) && self.is_notified(tag, p));
        let Some((tag, run)) = found.and_then(|(tag, p)| Some((tag.clone(), p.pid?))) else {
            return Err(Refusal::Stranger { pid: sender.pid, pgid });
        };
        self.watchdog_noted(now, &tag, run, message.watchdog, message.ready);
        let Some(p) = self.procs.get_mut(&tag) else { return Err(Refusal::Stranger { pid: sender.pid, pgid }) };
        if let Some(text) = &message.status
            && p.status_text.as_ref() != Some(text)
        {
            p.status_text = Some(text.clone());
            self.dirty_procs.insert(tag.clone());
        }
        let became_ready = message.ready && !p.ready && p.entry.mode == Mode::Notify;
        if let Some(usec) = message.extend_usec
            && !message.ready
            && !p.ready
            && p.entry.mode == Mode::Notify
        {
            self.extend_ready_timeout(now, &tag, run, std::time::Duration::from_micros(usec));
        }
        let Some(p) = self.procs.get_mut(&tag) else { return Err(Refusal::Stranger { pid: sender.pid, pgid }) };
        if became_ready {
            p.ready = true;
            let group = p.entry.group.clone();
            self.dirty_procs.insert(tag.clone());
            self.timeline_note(now, &group, &tag, super::timeline::Noted::Ready);
            self.timers.cancel(&tag, |t| matches!(t, Timer::ReadyTimeout { .. }));
            self.foreground_finished(now, &group, &tag);
        }
        Ok(Accepted { tag, became_ready })
    }

    /// Gives the `notify` process `pid` of `tag`, just started, its
    /// deadline to report `READY=1`.
    pub(super) fn arm_ready_timeout(&mut self, now: Now, tag: &str, pid: i32) {
        let at = now.after(self.timing.ready_timeout).mono;
        self.timers.arm(at, Timer::ReadyTimeout { tag: tag.to_string(), pid });
    }

    /// `EXTEND_TIMEOUT_USEC=`: the readiness deadline of `tag`'s run `pid`
    /// becomes `more` from now, if that is later than it is (systemd's
    /// rule: it never shortens the deadline).
    fn extend_ready_timeout(&mut self, now: Now, tag: &str, pid: i32, more: std::time::Duration) {
        let at = now.after(more).mono;
        let current = self
            .timers
            .entries()
            .find(|(_, t)| matches!(t, Timer::ReadyTimeout { tag: t2, pid: p2 } if t2 == tag && *p2 == pid))
            .map(|(at, _)| at);
        if current.is_some_and(|c| c < at) {
            self.timers.cancel(tag, |t| matches!(t, Timer::ReadyTimeout { .. }));
            self.timers.arm(at, Timer::ReadyTimeout { tag: tag.to_string(), pid });
            self.log(format!(
                "{tag}: readiness deadline extended by {} seconds (EXTEND_TIMEOUT_USEC)",
                more.as_secs_f64()
            ));
        }
    }

    /// The deadline of `pid` passed: if it is still the running, unready
    /// leader of `tag`, it is stopped gracefully and then started again as
    /// a respawn would be ([`Supervisor::respawn_after_stop`]).
    pub(super) fn ready_timed_out(&mut self, now: Now, tag: &str, pid: i32) {
        let timeout = self.timing.ready_timeout;
        let Some(p) = self.procs.get_mut(tag) else { return };
        if self.halting || p.ready || p.pid != Some(pid) || p.phase != Phase::Running {
            return;
        }
        p.after_stop = AfterStop::Respawn;
        let message = format!(
            "{tag} did not report READY=1 within {} seconds: stopping it to start it again",
            timeout.as_secs_f64()
        );
        self.log(message.clone());
        self.effects.push(Effect::Publish(Event::Notice { at_ms: now.wall_ms, message }));
        self.retire(now, tag);
    }

    /// A stop for a missed readiness deadline has nothing left: start the
    /// entry again (or throttle it, SPEC §4) if its group still wants it,
    /// else forget it like any stopped record.
    pub(super) fn respawn_after_stop(&mut self, now: Now, tag: &str) {
        let wanted = self.procs.get(tag).and_then(|p| {
            let newer = self.config.entry(tag).filter(|e| e.group == p.entry.group)?;
            let level = self.groups.get(&newer.group)?.level.as_deref()?;
            newer.in_level(level).then(|| newer.clone())
        });
        match (wanted, self.halting) {
            (Some(entry), false) => {
                let Some(p) = self.procs.get_mut(tag) else { return };
                p.after_stop = AfterStop::Forget;
                p.entry = entry;
                self.respawn_or_throttle(now, tag);
            }
            _ => {
                if let Some(group) = self.forget(now, tag) {
                    self.advance(now, &group);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_read_line_by_line() {
        assert_eq!(NotifyMessage::parse(b"READY=1"), NotifyMessage { ready: true, ..Default::default() });
        let both = NotifyMessage::parse(b"STATUS=loading\nREADY=1\nMAINPID=4\nSTATUS=serving 3 clients\n");
        let expected = NotifyMessage {
            ready: true,
            status: Some("serving 3 clients".into()),
            main_pid: Some(4),
            ..Default::default()
        };
        assert_eq!(both, expected);
        for bad in [&b"MAINPID=0"[..], b"MAINPID=1", b"MAINPID=-5", b"MAINPID=x"] {
            assert_eq!(NotifyMessage::parse(bad).main_pid, None, "{bad:?}");
        }
        assert_eq!(NotifyMessage::parse(b"READY=0\nREADY=1x\nready=1"), NotifyMessage::default());
        assert_eq!(NotifyMessage::parse(b""), NotifyMessage::default());
    }

    #[test]
    fn status_text_is_safe_to_print() {
        let m = NotifyMessage::parse(b"STATUS=\x1b[2Jwiped\tscreen \xff\r");
        assert_eq!(m.status.as_deref(), Some("[2Jwiped screen \u{fffd}"));
        let long = format!("STATUS={}", "x".repeat(10_000));
        assert_eq!(NotifyMessage::parse(long.as_bytes()).status.map(|s| s.chars().count()), Some(STATUS_MAX_CHARS));
    }
}
