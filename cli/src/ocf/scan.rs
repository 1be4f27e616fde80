//! Looking at the node for what of a group runs, without the daemon.
//!
//! Two kinds of evidence, as the daemon itself uses at start-up
//! (`runtime::leftovers`): the group's entry cgroups (`ROOT/GROUP/TAG`,
//! SPEC §14), which no process can leave, and processes whose environment
//! carries the daemon's marks `ISINIT_SOCKET=<socket>` and
//! `ISINIT_GROUP=<group>` (with `ISINIT_TAG`). The marks anyone can set, so
//! a marked process counts only if it runs as the daemon's uid, and a
//! cgroup directory only if the daemon's uid or root owns it.
//!
//! ROOT is looked for where the daemon would have put it: the directory
//! named after the socket under the cgroup2 mount, the isinittab's
//! `:::cgroup:`, and the cgroup of every marked process found (which also
//! finds a ROOT delegated by systemd).

use super::alone::{Member, Running};
use isinit_cgroup as cgroup;
use isinit_client::daemon_lock;
use isinit_shared::config::Inittab;
use std::collections::BTreeSet;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The uid the daemon on `socket` runs as (and so its children): the
/// owner of its lock file, else of the socket, else of the socket's
/// directory; our own when none exists.
pub fn daemon_uid(socket: &Path) -> u32 {
    let lock = daemon_lock::lock_path(socket);
    let parent = socket.parent().unwrap_or(Path::new("/"));
    [lock.as_path(), socket, parent]
        .iter()
        .find_map(|p| std::fs::symlink_metadata(p).ok())
        .map_or_else(|| nix::unistd::geteuid().as_raw(), |m| m.uid())
}

/// The `:::cgroup:` directive of the isinittab at `config`, if it names a
/// directory (not `none`) and the file reads.
pub fn configured_root(config: &Path) -> Option<PathBuf> {
    let tab = Inittab::load(config).ok()?;
    tab.directives.cgroup.filter(|p| p.as_os_str() != "none")
}

/// Everything of `group` that runs for the daemon on `socket` (uid `uid`),
/// looking for cgroups also under `roots`.
pub fn scan(socket: &Path, group: &str, uid: u32, roots: &[PathBuf]) -> Running {
    let mut members = marked(socket, group, uid);
    let mut candidates: BTreeSet<PathBuf> = roots.iter().cloned().collect();
    if let Some(mount) = cgroup::cgroup2_mount() {
        candidates.insert(mount.join(cgroup::default_name(socket)));
        for m in &members {
            if let Some(root) = root_of(&mount, m.pid, group, &m.tag) {
                candidates.insert(root);
            }
        }
    }
    let mut cgroups = Vec::new();
    for root in candidates {
        let group_dir = root.join(cgroup::encode(group));
        let owned = std::fs::symlink_metadata(&group_dir).is_ok_and(|m| m.is_dir() && (m.uid() == 0 || m.uid() == uid));
        let Ok(entries) = std::fs::read_dir(&group_dir) else { continue };
        if !owned {
            continue;
        }
        for entry in entries.flatten() {
            let Some(tag) = entry.file_name().to_str().and_then(cgroup::decode) else { continue };
            let dir = entry.path();
            if !cgroup::populated(&dir) {
                continue;
            }
            for pid in cgroup::procs(&dir) {
                match members.iter_mut().find(|m| m.pid == pid) {
                    Some(m) => m.cgroup = Some(dir.clone()),
                    None => {
                        if let Some(pgid) = pgid_of(pid) {
                            members.push(Member { pid, pgid, tag: tag.clone(), cgroup: Some(dir.clone()) });
                        }
                    }
                }
            }
            cgroups.push(dir);
        }
    }
    Running { members, cgroups }
}

/// Processes whose environment names `socket` and `group` and carries an
/// entry tag, running as `uid`.
fn marked(socket: &Path, group: &str, uid: u32) -> Vec<Member> {
    let want_group = format!("ISINIT_GROUP={group}").into_bytes();
    let own = std::process::id() as i32;
    let mut same = SameSocket::new(socket);
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| *pid != own)
        .filter_map(|pid| {
            // Unreadable (another user's, or gone): not the daemon's.
            let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
            let vars: Vec<&[u8]> = environ.split(|b| *b == 0).collect();
            if !vars.contains(&want_group.as_slice()) {
                return None;
            }
            let their_socket = vars.iter().find_map(|v| v.strip_prefix(b"ISINIT_SOCKET="))?;
            let tag = vars.iter().find_map(|v| v.strip_prefix(b"ISINIT_TAG="))?;
            if real_uid(pid)? != uid || !same.is(their_socket) {
                return None;
            }
            Some(Member { pid, pgid: pgid_of(pid)?, tag: String::from_utf8_lossy(tag).into_owned(), cgroup: None })
        })
        .collect()
}

/// Whether a socket path a process carries names our socket: the same
/// text, or — a daemon may know its socket by another path than the agent,
/// through a symlink or a bind mount — the same socket or lock file.
struct SameSocket<'a> {
    socket: &'a Path,
    ids: Vec<(u64, u64)>,
    seen: std::collections::HashMap<Vec<u8>, bool>,
}

impl<'a> SameSocket<'a> {
    fn new(socket: &'a Path) -> SameSocket<'a> {
        SameSocket { socket, ids: file_ids(socket), seen: Default::default() }
    }

    fn is(&mut self, theirs: &[u8]) -> bool {
        if theirs == self.socket.as_os_str().as_encoded_bytes() {
            return true;
        }
        if let Some(known) = self.seen.get(theirs) {
            return *known;
        }
        let path = Path::new(std::ffi::OsStr::from_bytes(theirs));
        let same = file_ids(path).iter().any(|id| self.ids.contains(id));
        self.seen.insert(theirs.to_vec(), same);
        same
    }
}

/// The (device, inode) of the socket and of its lock file, those that exist.
fn file_ids(socket: &Path) -> Vec<(u64, u64)> {
    [socket.to_path_buf(), daemon_lock::lock_path(socket)]
        .iter()
        .filter_map(|p| std::fs::symlink_metadata(p).ok())
        .map(|m| (m.dev(), m.ino()))
        .collect()
}

/// The real uid of `pid` (`Uid:` of `/proc/PID/status`).
fn real_uid(pid: i32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("Uid:"))?.split_whitespace().next()?.parse().ok()
}

/// The process group of `pid` (field 5 of `/proc/PID/stat`, after the
/// parenthesised command name, which may hold spaces).
fn pgid_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..].split_whitespace().nth(2)?.parse().ok()
}

/// ROOT, if `pid` lives in an entry cgroup `ROOT/GROUP/TAG` of `group`.
fn root_of(mount: &Path, pid: i32, group: &str, tag: &str) -> Option<PathBuf> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let rel = text.lines().find_map(|l| l.strip_prefix("0::"))?;
    let dir = mount.join(rel.trim_start_matches('/'));
    let (tag_dir, group_dir) = (dir.file_name()?, dir.parent()?.file_name()?);
    (tag_dir == cgroup::encode(tag).as_str() && group_dir == cgroup::encode(group).as_str())
        .then(|| dir.parent()?.parent().map(Path::to_path_buf))
        .flatten()
}
