//! The status file (SPEC §6): `GROUP LEVEL STATE` lines, replaced atomically
//! so a reader never sees half a file.
//!
//! Writing happens on its own task, off the supervisor loop: a rename on a
//! journalling filesystem can take milliseconds, and a tell or a respawn
//! must not wait for the disk. Only the newest contents are written; states
//! that came and went while a write was in flight are skipped, which is
//! what a reader of the file could not have told apart anyway.

use std::path::PathBuf;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Handle on the status-file task.
pub struct StatusFile {
    tx: watch::Sender<String>,
    task: JoinHandle<()>,
    path: PathBuf,
}

impl StatusFile {
    /// Starts the writer task for `path`.
    pub fn start(path: PathBuf) -> StatusFile {
        let (tx, mut rx) = watch::channel(String::new());
        let target = path.clone();
        let task = tokio::spawn(async move {
            // Said once per run of failures (a read-only directory fails
            // every write), and once when writing works again.
            let mut failing = false;
            while rx.changed().await.is_ok() {
                let contents = rx.borrow_and_update().clone();
                let file = target.clone();
                match tokio::task::spawn_blocking(move || super::replace::replace_file(&file, contents.as_bytes()))
                    .await
                {
                    Ok(Ok(())) if failing => {
                        failing = false;
                        tracing::info!("status file {} written again", target.display());
                    }
                    Ok(Err(e)) if !failing => {
                        failing = true;
                        tracing::warn!(
                            "cannot write status file {}: {e}; supervision goes on, and the file is written again once possible",
                            target.display()
                        );
                    }
                    Ok(Err(e)) => tracing::debug!("still cannot write status file {}: {e}", target.display()),
                    Ok(Ok(())) | Err(_) => {}
                }
            }
        });
        StatusFile { tx, task, path }
    }

    /// Schedules `contents` to be written.
    pub fn update(&self, contents: String) {
        self.tx.send_replace(contents);
    }

    /// Finishes any pending write, then removes the file (SPEC §6 shutdown).
    pub async fn remove(self) {
        drop(self.tx);
        let _ = self.task.await;
        if let Err(e) = std::fs::remove_file(&self.path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!("cannot remove status file {}: {e}", self.path.display());
        }
    }
}
