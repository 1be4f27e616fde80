//! The status file (SPEC §6): `GROUP LEVEL STATE` lines, replaced atomically
//! so a reader never sees half a file.
//!
//! Written by a thread of its own (`writer::FileWriter`), off the
//! supervisor loop (SPEC §15): a rename on a journalling filesystem can
//! take milliseconds, a hung disk forever, and a tell or a respawn must
//! not wait for the disk. Only the newest contents are written; states
//! that came and went while a write was in flight are skipped, which is
//! what a reader of the file could not have told apart anyway. A failure
//! is said once per run of failures, and once when writing works again.

use super::writer::FileWriter;
use std::path::PathBuf;

/// Handle on the status-file thread.
pub struct StatusFile {
    file: Option<FileWriter>,
}

impl StatusFile {
    /// Starts the writer thread for `path`. Without a thread (the system
    /// is out of them) the file is not written; supervision goes on.
    pub fn start(path: PathBuf) -> StatusFile {
        match FileWriter::start("status file", path.clone()) {
            Ok(file) => StatusFile { file: Some(file) },
            Err(e) => {
                tracing::error!("cannot start the status file's writer ({e}); {} is not written", path.display());
                StatusFile { file: None }
            }
        }
    }

    /// Schedules `contents` to be written.
    pub fn update(&self, contents: String) {
        if let Some(file) = &self.file {
            file.write(contents.into_bytes());
        }
    }

    /// Removes the file (SPEC §6 shutdown) after any pending write,
    /// waiting [`super::state::SHUTDOWN_WAIT`] at most.
    pub async fn remove(self) {
        if let Some(file) = &self.file
            && let Err(e) = file.written(file.remove(), super::state::SHUTDOWN_WAIT).await
        {
            tracing::warn!("status file not removed: {e}");
        }
    }
}
