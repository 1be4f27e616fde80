//! What `isinit drift` asks a daemon: the isinittab it is running, and
//! whether the file on disk still matches it.
//!
//! The original says the file "must be replicated across all hosts by some
//! means" and nothing checked that it was. Comparing the running text of
//! every host (not only the file on disk) is what tells an operator which
//! hosts would behave differently right now; the on-disk state tells them
//! which hosts hold an edit nobody applied yet.

use serde::{Deserialize, Serialize};

/// Answer to [`super::Request::RunningConfig`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningConfig {
    /// The isinittab path the daemon reads.
    pub path: String,
    /// Hex SHA-256 of the text in force.
    pub sha256: String,
    /// The text in force (valid UTF-8: an isinittab with an invalid line is
    /// never adopted).
    pub text: String,
    /// The file on disk compared with the text in force.
    pub on_disk: OnDisk,
}

/// The file on disk compared with the isinittab a daemon runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OnDisk {
    /// Same bytes: nothing waits to be applied.
    Same,
    /// An edit not yet applied by a tell or reload.
    Differs {
        /// Hex SHA-256 of the file on disk.
        sha256: String,
        /// Its text (invalid UTF-8 replaced).
        text: String,
    },
    /// The file could not be read; the reason.
    Unreadable(String),
}

impl RunningConfig {
    /// Whether an edit on disk waits to be applied (or the file is gone).
    pub fn unapplied(&self) -> bool {
        !matches!(self.on_disk, OnDisk::Same)
    }
}
