//! The pieces of a parsed isinittab: entries, their modes and levels, and
//! the directives.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// How the daemon treats an entry's process (SPEC §2 modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Start, do not wait; restart whenever it exits (throttled).
    Respawn,
    /// Start, do not wait; never restarted.
    Once,
    /// Start and wait for it to exit before the group's next entry.
    Wait,
    /// Like `Wait`; exit status 0 passes, anything else fails the group.
    Test,
    /// Never started and in no level; a running process of it is stopped.
    Off,
    /// Like `Respawn`, but the group's next entry starts only once the
    /// process has reported `READY=1` by the sd_notify protocol (SPEC §11).
    /// Appended last: bincode numbers variants by position.
    Notify,
}

impl Mode {
    /// The spelling used in the isinittab.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Respawn => "respawn",
            Mode::Once => "once",
            Mode::Wait => "wait",
            Mode::Test => "test",
            Mode::Off => "off",
            Mode::Notify => "notify",
        }
    }

    /// Whether the group's start phase waits for this entry to exit.
    pub fn is_foreground(self) -> bool {
        matches!(self, Mode::Wait | Mode::Test)
    }

    /// Whether the process is started again whenever it exits (SPEC §4):
    /// `respawn`, and `notify`, which is a `respawn` that reports readiness.
    pub fn is_respawned(self) -> bool {
        matches!(self, Mode::Respawn | Mode::Notify)
    }

    /// Whether the group's start phase holds its next entry back until this
    /// one is done with: a `wait`/`test` until it exits, a `notify` until it
    /// has reported `READY=1`.
    pub fn gates_start(self) -> bool {
        matches!(self, Mode::Wait | Mode::Test | Mode::Notify)
    }

    pub(crate) fn parse(s: &str) -> Option<Mode> {
        Some(match s {
            "respawn" => Mode::Respawn,
            "once" => Mode::Once,
            "wait" => Mode::Wait,
            "test" => Mode::Test,
            "off" => Mode::Off,
            "notify" => Mode::Notify,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether `level` is a label a tell may name (SPEC §1: non-empty, without
/// `:`, `,` or whitespace). Shared so the daemon, the CLI and the console
/// agree on it.
pub fn valid_level(level: &str) -> bool {
    !level.is_empty() && !level.chars().any(|c| c == ':' || c == ',' || c.is_whitespace())
}

/// The runlevels field of an entry.
///
/// SPEC §2: with a comma it is a list (`run,runmore`, empty items ignored);
/// without one every character is a label (`123` is `1`, `2`, `3`); and the
/// whole field is always a label too (`run` is in level `run`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Levels {
    /// The field as written; the labels are read from it when asked
    /// (issue 22: a list of them, each its own string, was some 200 bytes
    /// an entry, twice — in the file and in each process record).
    raw: String,
}

impl Levels {
    /// Keeps a non-empty, trimmed field. Public because a snapshot carries
    /// each entry's field as written, and clients (the OCF agent) must
    /// decide level membership exactly as the daemon does; a daemon taking
    /// over from another rebuilds the entries it was handed.
    pub fn from_field(raw: &str) -> Levels {
        Levels { raw: raw.to_string() }
    }

    /// The field as written.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// Every label the entry belongs to, in the field's order, the whole
    /// field last unless it is one of them already.
    pub fn labels(&self) -> Vec<&str> {
        let mut labels: Vec<&str> = if self.raw.contains(',') {
            self.raw.split(',').map(str::trim).filter(|s| !s.is_empty()).collect()
        } else {
            self.raw.char_indices().map(|(i, c)| &self.raw[i..i + c.len_utf8()]).collect()
        };
        if !labels.contains(&self.raw.as_str()) {
            labels.push(&self.raw);
        }
        labels
    }

    /// Whether the entry belongs to `level`.
    pub fn contains(&self, level: &str) -> bool {
        if self.raw == level {
            return true;
        }
        if self.raw.contains(',') {
            self.raw.split(',').map(str::trim).any(|l| !l.is_empty() && l == level)
        } else {
            let mut chars = level.chars();
            matches!((chars.next(), chars.next()), (Some(c), None) if self.raw.contains(c))
        }
    }

    /// The labels an operator most likely means: the list items of a comma
    /// field; for a field without a comma, the whole field, plus each
    /// character when the field is all digits (the SysV `2345` habit).
    /// `run` therefore suggests `run`, not `r`, `u`, `n` — though those are
    /// still levels the entry is in.
    pub fn suggestions(&self) -> Vec<&str> {
        if self.raw.contains(',') {
            self.labels().into_iter().filter(|l| *l != self.raw).collect()
        } else if self.raw.len() > 1 && self.raw.chars().all(|c| c.is_ascii_digit()) {
            self.labels()
        } else {
            vec![self.raw.as_str()]
        }
    }
}

/// One line of the isinittab: one command of one resource group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The resource group the command belongs to.
    pub group: String,
    /// Unique name of the entry across the whole file.
    pub tag: String,
    /// The levels the entry belongs to (none when `mode` is `off`).
    pub levels: Levels,
    /// How the process is treated.
    pub mode: Mode,
    /// The rest of the line, verbatim; run with `/bin/sh -c`.
    pub command: String,
    /// 1-based line number, for messages.
    pub line: usize,
}

impl Entry {
    /// Whether the entry runs at `level` (`off` entries run at none).
    pub fn in_level(&self, level: &str) -> bool {
        self.mode != Mode::Off && self.levels.contains(level)
    }

    /// Whether a process started for `self` must be stopped and started
    /// afresh to become a process of `newer` (SPEC §3.3: mode or command
    /// changed). Level changes alone keep the process.
    pub fn needs_restart_for(&self, newer: &Entry) -> bool {
        self.mode != newer.mode || self.command != newer.command || self.group != newer.group
    }
}

/// Daemon settings given in the file as `:::NAME:VALUE`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directives {
    /// `:::socket:` — the control socket path.
    pub socket: Option<PathBuf>,
    /// `:::initstat:` (or `:::clstat:`) — the status file path.
    pub initstat: Option<PathBuf>,
    /// `:::log:` — the daemon's own log file.
    pub log: Option<PathBuf>,
    /// `:::logdir:` — where each process's output is kept.
    pub logdir: Option<PathBuf>,
    /// `:::state:` — where the told levels are kept across daemon restarts.
    pub state: Option<PathBuf>,
    /// `:::cgroup:` — the cgroup v2 directory each entry's cgroup is made
    /// under (SPEC §14), or `none` for process groups only.
    pub cgroup: Option<PathBuf>,
    /// `:::limit:GROUP KEY=VALUE` — cgroup limits on resource groups, in
    /// file order; at most one per group and key.
    pub limits: Vec<super::Limit>,
    /// `:::probe:TAG … CHECK` — liveness checks (SPEC §17), in file
    /// order; at most one per tag, each naming an entry of the file.
    pub probes: Vec<super::Probe>,
    /// `:::watchdog:TAG SECS` — sd_notify watchdogs (SPEC §17), in file
    /// order; at most one per tag, each naming an entry of the file.
    pub watchdogs: Vec<super::Watchdog>,
    /// `:::listen:TAG ADDRESS` — sockets the daemon holds for an entry
    /// (SPEC §17), in file order; each address once in the file, each
    /// naming an entry of the file.
    pub listens: Vec<super::Listen>,
}
