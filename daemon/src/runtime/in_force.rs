//! The isinittab in force, kept beside the state file, so that a daemon
//! restarted after a crash carries on with it when the file on disk has
//! meanwhile become invalid (SPEC §15: restarts keep the configuration in
//! force; a bad file on disk is reported, never fatal).
//!
//! `reexec` hands its configuration over in memory; a crashed daemon hands
//! over nothing, and its restarter (systemd's `Restart=`, an inittab
//! respawn line) starts it again at once, whatever an operator is halfway
//! through editing. Without this copy, such a restart would refuse to
//! start and leave the group's processes unsupervised.
//!
//! The copy is `STATE.isinittab` (the state file's path with that
//! suffix), written by a [`FileWriter`] thread whenever the file in force
//! changes, and removed at a clean shutdown along with the state file: a
//! copy that exists means the daemon before did not shut down, and only
//! then is it used.

use super::writer::FileWriter;
use isinit_shared::config::Inittab;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where the copy of the file in force is kept for the state file `state`.
pub fn path_for(state: &Path) -> PathBuf {
    let mut name = state.as_os_str().to_owned();
    name.push(".isinittab");
    PathBuf::from(name)
}

/// Keeps the copy current.
pub struct InForce {
    file: FileWriter,
    /// Digest of the configuration last handed to the writer.
    kept: Option<String>,
}

impl InForce {
    /// Starts the writer of the copy for the state file `state`.
    pub fn start(state: &Path) -> std::io::Result<InForce> {
        Ok(InForce { file: FileWriter::start("isinittab copy", path_for(state))?, kept: None })
    }

    /// Makes the file whose digest is `sha256` and text `text` the copy,
    /// unless it already is. The bytes are copied on the writer thread.
    pub fn keep(&mut self, sha256: &str, text: Arc<str>) {
        if self.kept.as_deref() == Some(sha256) {
            return;
        }
        self.kept = Some(sha256.to_owned());
        self.file.make(move |_| Ok(Some(text.as_bytes().to_vec())));
    }

    /// Removes the copy (a clean shutdown: nothing is left to carry on
    /// with), waiting for the writer as long as the state file's removal.
    pub async fn remove(&self) {
        let ticket = self.file.remove();
        if let Err(e) = self.file.written(ticket, super::state::SHUTDOWN_WAIT).await {
            tracing::warn!("isinittab copy not removed: {e}; a daemon started on this state file may carry on with it");
        }
    }
}

/// Why the copy was not used.
#[derive(Debug, thiserror::Error)]
pub enum NotKept {
    /// No copy: the daemon before shut down cleanly, or never ran.
    #[error("no isinittab in force was kept at {0} (the daemon before shut down, or never ran)")]
    Missing(String),
    /// The copy cannot be read.
    #[error("cannot read the isinittab kept at {0}: {1}")]
    Unreadable(String, std::io::Error),
    /// Someone else could have written it: its commands would run as us.
    #[error("ignoring the isinittab kept at {0}: a symlink, not owned by uid {1}, or writable by others")]
    Untrusted(String, u32),
    /// It does not parse either (a copy this daemon wrote always does).
    #[error("the isinittab kept at {0} is not valid either")]
    Invalid(String),
}

/// The copy a previous daemon on the state file `state` kept, as if read
/// from `config_path` (errors and reloads name the real file). Used only
/// when it exists, is ours and nobody else's to write, and is valid.
pub fn load(state: &Path, config_path: &Path) -> Result<Inittab, NotKept> {
    let path = path_for(state);
    let shown = path.display().to_string();
    // Opened without following a symlink, and judged by what was opened
    // (not by a look at the name that another could change in between).
    let mut file = match std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW).open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(NotKept::Missing(shown)),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(NotKept::Untrusted(shown, nix::unistd::geteuid().as_raw()));
        }
        Err(e) => return Err(NotKept::Unreadable(shown, e)),
    };
    let meta = file.metadata().map_err(|e| NotKept::Unreadable(shown.clone(), e))?;
    let uid = nix::unistd::geteuid().as_raw();
    if !meta.is_file() || meta.uid() != uid || meta.mode() & 0o022 != 0 {
        return Err(NotKept::Untrusted(shown, uid));
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(|e| NotKept::Unreadable(shown.clone(), e))?;
    Inittab::from_bytes(config_path, &bytes).map_err(|_| NotKept::Invalid(shown))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_sits_beside_the_state_file() {
        assert_eq!(path_for(Path::new("/run/is/state")), PathBuf::from("/run/is/state.isinittab"));
    }

    #[test]
    fn a_kept_copy_reads_back_as_the_real_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join("state");
        let text = "g:a:1:respawn:exec sleep 1\n";
        std::fs::write(path_for(&state), text).expect("write");
        let tab = load(&state, Path::new("/etc/isinittab")).expect("kept");
        assert_eq!(tab.path, Path::new("/etc/isinittab"));
        assert_eq!(tab.sha256, Inittab::digest(text.as_bytes()));
    }

    #[test]
    fn a_copy_others_may_write_is_ignored() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join("state");
        std::fs::write(path_for(&state), "g:a:1:respawn:exec sleep 1\n").expect("write");
        std::fs::set_permissions(path_for(&state), std::fs::Permissions::from_mode(0o666)).expect("chmod");
        assert!(matches!(load(&state, Path::new("/etc/isinittab")), Err(NotKept::Untrusted(..))));
        std::fs::remove_file(path_for(&state)).expect("rm");
        assert!(matches!(load(&state, Path::new("/etc/isinittab")), Err(NotKept::Missing(_))));
    }

    #[test]
    fn a_symlink_planted_as_the_copy_is_not_followed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join("state");
        let elsewhere = dir.path().join("theirs");
        std::fs::write(&elsewhere, "g:a:1:respawn:exec sleep 1\n").expect("write");
        std::os::unix::fs::symlink(&elsewhere, path_for(&state)).expect("symlink");
        assert!(matches!(load(&state, Path::new("/etc/isinittab")), Err(NotKept::Untrusted(..))));
    }
}
