//! The OCF exit codes and the answer an action gives Pacemaker.
//!
//! An OCF resource agent answers with its exit status alone (OCF Resource
//! Agent API 1.1, "Return codes"); the cluster decides recovery from it —
//! soft (restart here), hard (move elsewhere) or fatal (stop everywhere).
//! So every failure path below names its code on purpose.

use std::fmt;

/// The exit codes of the OCF Resource Agent API 1.1 that this agent uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OcfCode {
    /// `OCF_SUCCESS`: done, or running (monitor).
    Success,
    /// `OCF_ERR_GENERIC`: a soft failure; Pacemaker recovers in place.
    ErrGeneric,
    /// `OCF_ERR_ARGS`: the agent was called wrongly.
    ErrArgs,
    /// `OCF_ERR_UNIMPLEMENTED`: not an action of this agent (or of this
    /// configuration: promote/demote without `promoted_level`).
    Unimplemented,
    /// `OCF_ERR_PERM`: the daemon refused us (not root nor its user).
    ErrPerm,
    /// `OCF_ERR_INSTALLED`: something this node lacks (binary, isinittab).
    ErrInstalled,
    /// `OCF_ERR_CONFIGURED`: the parameters or the replicated isinittab
    /// are wrong everywhere; Pacemaker stops the resource cluster-wide.
    ErrConfigured,
    /// `OCF_NOT_RUNNING`: cleanly stopped (monitor).
    NotRunning,
    /// `OCF_RUNNING_PROMOTED`: at `promoted_level` and healthy (monitor).
    RunningPromoted,
    /// `OCF_FAILED_PROMOTED`: at `promoted_level` but failed (monitor).
    FailedPromoted,
    /// `OCF_DEGRADED`: up, but an entry keeps exiting (monitor).
    Degraded,
    /// `OCF_DEGRADED_PROMOTED`: promoted, up, but an entry keeps exiting.
    DegradedPromoted,
}

impl OcfCode {
    /// The numeric exit status.
    pub fn value(self) -> u8 {
        match self {
            OcfCode::Success => 0,
            OcfCode::ErrGeneric => 1,
            OcfCode::ErrArgs => 2,
            OcfCode::Unimplemented => 3,
            OcfCode::ErrPerm => 4,
            OcfCode::ErrInstalled => 5,
            OcfCode::ErrConfigured => 6,
            OcfCode::NotRunning => 7,
            OcfCode::RunningPromoted => 8,
            OcfCode::FailedPromoted => 9,
            OcfCode::Degraded => 190,
            OcfCode::DegradedPromoted => 191,
        }
    }

    /// Whether this code reports a problem (so its reason is an
    /// `ocf-exit-reason`), as opposed to a state such as "not running".
    pub fn is_error(self) -> bool {
        !matches!(self, OcfCode::Success | OcfCode::NotRunning | OcfCode::RunningPromoted)
    }
}

impl fmt::Display for OcfCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.value())
    }
}

/// What an action answers: the code and, for humans, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The exit status Pacemaker acts on.
    pub code: OcfCode,
    /// Why; shown by `crm_mon` as the exit reason of a failed action.
    pub reason: Option<String>,
}

impl Outcome {
    /// A code without a reason.
    pub fn code(code: OcfCode) -> Outcome {
        Outcome { code, reason: None }
    }

    /// A code with a reason.
    pub fn with(code: OcfCode, reason: impl Into<String>) -> Outcome {
        Outcome { code, reason: Some(reason.into()) }
    }

    /// `OCF_SUCCESS`.
    pub fn success() -> Outcome {
        Outcome::code(OcfCode::Success)
    }

    /// Prints the reason on stderr — errors as the `ocf-exit-reason:` line
    /// Pacemaker shows in `crm_mon`'s failed actions — and returns the
    /// process exit code.
    pub fn finish(&self) -> u8 {
        if let Some(reason) = &self.reason {
            if self.code.is_error() {
                eprintln!("ocf-exit-reason:{reason}");
            } else {
                eprintln!("isinit ocf: {reason}");
            }
        }
        self.code.value()
    }
}
