//! Finding ROOT, the cgroup2 directory every entry's cgroup is made under.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// `statfs` magic of a cgroup2 file system.
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
/// The leaf a delegated daemon moves itself into: cgroup v2 allows no
/// process in a cgroup whose children have controllers ("no internal
/// processes"). Its dot keeps it apart from every encoded group name.
const DAEMON_LEAF: &str = "isinit.daemon";

/// What the operator asked for (`--cgroup`, `ISINIT_CGROUP`, `:::cgroup:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// Find one: the daemon's own cgroup if delegated, else a child of the
    /// cgroup2 mount.
    Auto,
    /// `none`: process groups only (SPEC §5).
    Off,
    /// This directory, which must be on a cgroup2 file system.
    At(PathBuf),
}

impl Choice {
    /// The choice a resolved setting names; `None` is [`Choice::Auto`].
    pub fn from_setting(setting: Option<&Path>) -> Choice {
        match setting {
            None => Choice::Auto,
            Some(p) if p.as_os_str() == "none" => Choice::Off,
            Some(p) => Choice::At(p.to_owned()),
        }
    }
}

/// The ROOT in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    /// The directory.
    pub path: PathBuf,
    /// Whether the daemon named it itself (`isinit-HASH` under the mount):
    /// then it is removed at a clean shutdown. A directory an operator
    /// named, or a delegated cgroup, is left in place.
    pub own: bool,
}

/// Finds (and creates) ROOT for a daemon on `socket`, or says why there is
/// none; the caller says so once and keeps process groups.
pub fn discover(choice: &Choice, socket: &Path) -> Result<Root, String> {
    let root = match choice {
        Choice::Off => return Err("cgroups turned off (cgroup setting `none`)".to_string()),
        Choice::At(path) => {
            if !path.is_dir() {
                super::fs::make(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
            }
            if !is_cgroup2(path) {
                return Err(format!("{} is not a cgroup2 directory", path.display()));
            }
            Root { path: path.clone(), own: false }
        }
        Choice::Auto => auto(socket)?,
    };
    kernel_places_at_clone()?;
    let procs = root.path.join("cgroup.procs");
    if nix::unistd::access(&procs, nix::unistd::AccessFlags::W_OK).is_err() {
        return Err(format!("{} is not writable", root.path.display()));
    }
    super::fs::delegate_controllers(&root.path);
    Ok(root)
}

fn auto(socket: &Path) -> Result<Root, String> {
    let mount = cgroup2_mount().ok_or("no cgroup2 file system is mounted")?;
    if let Some(own) = own_cgroup(&mount)
        && own != mount
        && delegated(&own)
    {
        let leaf = own.join(DAEMON_LEAF);
        super::fs::make(&leaf).map_err(|e| format!("cannot create {}: {e}", leaf.display()))?;
        std::fs::write(leaf.join("cgroup.procs"), std::process::id().to_string())
            .map_err(|e| format!("cannot move the daemon into {}: {e}", leaf.display()))?;
        return Ok(Root { path: own, own: false });
    }
    let path = mount.join(default_name(socket));
    super::fs::make(&path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    Ok(Root { path, own: true })
}

/// `isinit-` and a digest of the socket path: daemons on different
/// sockets (tests run many at once) never share a ROOT, and a daemon
/// restarted on the same socket finds what its predecessor left there.
pub fn default_name(socket: &Path) -> String {
    let digest = Sha256::digest(socket.as_os_str().as_encoded_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("isinit-{hex}")
}

/// Where cgroup2 is mounted: `/sys/fs/cgroup` on a pure v2 host,
/// `/sys/fs/cgroup/unified` on a hybrid one.
pub fn cgroup2_mount() -> Option<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    text.lines().find_map(|line| {
        let (before, after) = line.split_once(" - ")?;
        let mountpoint = before.split_whitespace().nth(4)?;
        (after.split_whitespace().next()? == "cgroup2").then(|| PathBuf::from(mountpoint))
    })
}

/// The daemon's own cgroup2 directory, from `/proc/self/cgroup`.
fn own_cgroup(mount: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let rel = text.lines().find_map(|l| l.strip_prefix("0::"))?;
    Some(mount.join(rel.trim_start_matches('/')))
}

/// Whether the service manager handed the cgroup over to us: systemd
/// marks a `Delegate=yes` unit's cgroup with a `trusted.delegate` (or,
/// for user managers, `user.delegate`) extended attribute.
fn delegated(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else { return false };
    [c"trusted.delegate", c"user.delegate"].iter().any(|name| {
        // SAFETY: both strings are NUL-terminated; a null buffer of size 0
        // only asks for the value's length.
        unsafe { libc::getxattr(path.as_ptr(), name.as_ptr(), std::ptr::null_mut(), 0) >= 0 }
    })
}

// The cast: `f_type`'s integer type differs between architectures.
#[allow(clippy::unnecessary_cast)]
fn is_cgroup2(dir: &Path) -> bool {
    nix::sys::statfs::statfs(dir).is_ok_and(|s| s.filesystem_type().0 as i64 == CGROUP2_SUPER_MAGIC)
}

/// `CLONE_INTO_CGROUP` came with Linux 5.7; without it a child could run
/// before it is placed, so an older kernel gets process groups only.
fn kernel_places_at_clone() -> Result<(), String> {
    // SAFETY: uname fills a plain struct of NUL-terminated arrays.
    let release = unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) != 0 {
            return Err(format!("uname failed: {}", std::io::Error::last_os_error()));
        }
        std::ffi::CStr::from_ptr(u.release.as_ptr()).to_string_lossy().into_owned()
    };
    let mut parts = release.split(|c: char| !c.is_ascii_digit()).filter_map(|p| p.parse::<u32>().ok());
    let version = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if version >= (5, 7) { Ok(()) } else { Err(format!("kernel {release} cannot place a child at clone (5.7+)")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_name_the_choice() {
        assert_eq!(Choice::from_setting(None), Choice::Auto);
        assert_eq!(Choice::from_setting(Some(Path::new("none"))), Choice::Off);
        assert_eq!(Choice::from_setting(Some(Path::new("/sys/fs/cgroup/x"))), Choice::At("/sys/fs/cgroup/x".into()));
    }

    #[test]
    fn default_names_differ_by_socket() {
        let a = default_name(Path::new("/tmp/a/init.s"));
        assert_eq!(a, default_name(Path::new("/tmp/a/init.s")));
        assert_ne!(a, default_name(Path::new("/tmp/b/init.s")));
        assert!(a.starts_with("isinit-") && a.len() == "isinit-".len() + 12);
    }

    #[test]
    fn a_plain_directory_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = discover(&Choice::At(dir.path().to_owned()), Path::new("/s")).expect_err("not cgroup2");
        assert!(err.contains("is not a cgroup2 directory"), "{err}");
    }
}
