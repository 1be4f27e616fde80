//! The OCF agent's hold on a group: `SOCKET.held/GROUP`, written by the
//! agent's `stop` before it stops anything and removed by its next `start`.
//!
//! Pacemaker believes a group stopped on a node once the agent's `stop`
//! returned 0, and may start it on another node. A daemon that starts
//! later on this node (after a crash, `Restart=on-failure`) restores the
//! levels of its state file; without the hold it would bring the group
//! back, and the group would run twice in the cluster. A daemon restoring
//! levels skips every held group: it comes up stopped, and what is found
//! of it at start-up is stopped as a leftover (SPEC §15).
//!
//! The mark lives beside the socket because the socket is what both the
//! agent and the daemon name alike. Anyone who can write there could
//! forge or remove a mark, so only a directory and a file owned by root or
//! by the daemon's uid, and writable by no one else, count.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The directory of the marks of the daemon on `socket`: `SOCKET.held`.
pub fn dir(socket: &Path) -> PathBuf {
    let mut name = socket.as_os_str().to_owned();
    name.push(".held");
    PathBuf::from(name)
}

/// The mark of `group`: `SOCKET.held/NAME`, NAME being the group with every
/// byte but letters, digits, `-` and `_` written `%XX` (a group name may
/// hold `/` or be `..`; the mapping is one-to-one).
pub fn path(socket: &Path, group: &str) -> PathBuf {
    dir(socket).join(isinit_shared::file_name::encode(group))
}

/// Whether a file of these metadata may be trusted as written by root or
/// the daemon (`uid`): owned by one of them, writable by no one else.
fn trusted(meta: &fs::Metadata, uid: u32) -> bool {
    (meta.uid() == 0 || meta.uid() == uid) && meta.mode() & 0o022 == 0
}

/// Holds `group` stopped: creates the directory (0700) if missing and the
/// mark (0600) in it, following no symlink. `why` is written into it for
/// an operator who finds it. Refuses a directory that is not a trusted
/// one of ours (`uid`: the daemon's), since a daemon would ignore a mark
/// in it.
pub fn hold(socket: &Path, group: &str, uid: u32, why: &str) -> io::Result<()> {
    let d = dir(socket);
    match fs::DirBuilder::new().mode(0o700).create(&d) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let meta = fs::symlink_metadata(&d)?;
    if !meta.is_dir() || !trusted(&meta, uid) {
        return Err(io::Error::other(format!(
            "{} is not a directory owned by root or uid {uid} and writable only by its owner",
            d.display()
        )));
    }
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path(socket, group))?;
    writeln!(file, "{why}")?;
    file.sync_all()
}

/// Ends the hold on `group` (the agent's `start`); no mark is no error.
pub fn release(socket: &Path, group: &str) -> io::Result<()> {
    match fs::remove_file(path(socket, group)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Whether `group` is held stopped by a mark that root or `uid` (the
/// daemon's) wrote: a forged mark (another owner, a symlink, a directory
/// others may write) is no hold.
pub fn is_held(socket: &Path, group: &str, uid: u32) -> bool {
    let ok = |p: &Path, is_dir: bool| {
        fs::symlink_metadata(p).is_ok_and(|m| (if is_dir { m.is_dir() } else { m.is_file() }) && trusted(&m, uid))
    };
    ok(&dir(socket), true) && ok(&path(socket, group), false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn me() -> u32 {
        // SAFETY: geteuid cannot fail.
        unsafe { libc::geteuid() }
    }

    #[test]
    fn a_hold_lasts_until_released() {
        let d = tempfile::tempdir().unwrap();
        let socket = d.path().join("init.s");
        assert!(!is_held(&socket, "web", me()));
        hold(&socket, "web", me(), "stopped by the OCF agent").unwrap();
        assert!(is_held(&socket, "web", me()));
        assert!(!is_held(&socket, "db", me()), "one group's mark holds no other");
        hold(&socket, "web", me(), "again").unwrap();
        release(&socket, "web").unwrap();
        assert!(!is_held(&socket, "web", me()));
        release(&socket, "web").unwrap();
    }

    #[test]
    fn names_cannot_escape_the_directory() {
        let socket = Path::new("/run/is/init.s");
        assert_eq!(path(socket, "../x"), Path::new("/run/is/init.s.held/%2E%2E%2Fx"));
        assert_eq!(path(socket, "web-1_a"), Path::new("/run/is/init.s.held/web-1_a"));
    }

    #[test]
    fn marks_anyone_could_have_written_do_not_count() {
        let d = tempfile::tempdir().unwrap();
        let socket = d.path().join("init.s");
        hold(&socket, "web", me(), "x").unwrap();
        // A directory others may write into.
        fs::set_permissions(dir(&socket), fs::Permissions::from_mode(0o777)).unwrap();
        assert!(!is_held(&socket, "web", me()));
        assert!(hold(&socket, "db", me(), "x").is_err(), "a mark in such a directory would be ignored");
        fs::set_permissions(dir(&socket), fs::Permissions::from_mode(0o700)).unwrap();
        // A symlink in place of the mark.
        release(&socket, "web").unwrap();
        std::os::unix::fs::symlink(d.path().join("elsewhere"), path(&socket, "web")).unwrap();
        assert!(!is_held(&socket, "web", me()));
        assert!(hold(&socket, "web", me(), "x").is_err(), "followed a symlink");
        assert!(!d.path().join("elsewhere").exists());
    }

    #[test]
    fn only_root_or_the_daemons_uid_may_hold() {
        if me() == 0 {
            let d = tempfile::tempdir().unwrap();
            let socket = d.path().join("init.s");
            hold(&socket, "web", 0, "x").unwrap();
            std::os::unix::fs::lchown(path(&socket, "web"), Some(65534), None).unwrap();
            assert!(!is_held(&socket, "web", 1000), "a mark of another user");
            assert!(is_held(&socket, "web", 65534), "the daemon's own uid");
        }
    }
}
