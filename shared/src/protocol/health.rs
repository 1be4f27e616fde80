//! What the daemon says of a process's health (SPEC §17): the verdict of
//! its `:::probe:`, and why the daemon stopped a run that was still going.

use serde::{Deserialize, Serialize};

/// What the liveness probe of an entry says (SPEC §17).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// No check of the current run has finished yet (or it is not running).
    NotProbed,
    /// The last check passed.
    Healthy,
    /// The last check failed; `failures` of them in a row restart it.
    Unhealthy,
}

impl Health {
    /// The word shown in tables and the console.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::NotProbed => "not probed",
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
        }
    }
}

impl std::fmt::Display for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why the daemon stopped a process that was still running (SPEC §17).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitReason {
    /// Its `:::probe:` failed `failures` checks in a row.
    ProbeFailed,
    /// It stopped sending `WATCHDOG=1` (`:::watchdog:`).
    Watchdog,
}

impl ExitReason {
    /// The words shown in the exit history.
    pub fn as_str(self) -> &'static str {
        match self {
            ExitReason::ProbeFailed => "probe failed",
            ExitReason::Watchdog => "watchdog",
        }
    }
}

impl std::fmt::Display for ExitReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
