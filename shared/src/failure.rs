//! Why a command, or the daemon's start, failed — as `isinit` prints it.

use std::fmt;

/// A one-line reason and, for an invalid isinittab, one `PATH:LINE:
/// message` per error. `main` prints it to stderr and exits non-zero; the
/// command line and the daemon both fail with it, so `main` prints either
/// the same way.
#[derive(Debug)]
pub struct Failure {
    /// The one-line reason.
    pub reason: String,
    /// Lines printed after it (isinittab errors).
    pub details: Vec<String>,
}

impl Failure {
    /// A failure with a reason and no details.
    pub fn new(reason: impl Into<String>) -> Failure {
        Failure { reason: reason.into(), details: Vec::new() }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.reason)?;
        for d in &self.details {
            write!(f, "\n{d}")?;
        }
        Ok(())
    }
}
