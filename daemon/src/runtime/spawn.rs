//! Starting one entry's process (SPEC §5, §6).
//!
//! Not `tokio::process`: exits are reaped by our own single `waitpid(-1)`
//! loop (`reap.rs`), and a tokio `Child` would reap behind our back and
//! steal exit statuses (STYLE.md trap 4).

use crate::supervisor::SpawnRequest;
use std::ffi::CString;
use std::fs::OpenOptions;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The file a tag's output goes to.
///
/// Children write straight into it, not into a pipe to the daemon, so a
/// daemon crash can neither kill them with SIGPIPE nor block them on a full
/// pipe. Tags are encoded so any tag maps to one safe file name.
pub fn output_path(logdir: &Path, tag: &str) -> PathBuf {
    let mut name = String::with_capacity(tag.len() + 4);
    for b in tag.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' => name.push(b as char),
            b'.' if !name.is_empty() => name.push('.'),
            _ => name.push_str(&format!("%{b:02X}")),
        }
    }
    name.push_str(".log");
    logdir.join(name)
}

/// The tag a file name of [`output_path`] belongs to.
pub fn tag_of_output(file_name: &str) -> Option<String> {
    let stem = file_name.strip_suffix(".log")?;
    let mut bytes = Vec::with_capacity(stem.len());
    let mut it = stem.bytes();
    while let Some(b) = it.next() {
        if b == b'%' {
            let hex = [it.next()?, it.next()?];
            bytes.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
        } else {
            bytes.push(b);
        }
    }
    String::from_utf8(bytes).ok()
}

/// Starts `/bin/sh -c COMMAND` as the leader of a new process group and
/// returns its pid (= its process group id).
///
/// `posix_spawn` rather than fork: glibc starts the child with
/// `CLONE_VM | CLONE_VFORK`, so the daemon's page tables are neither copied
/// nor copy-on-write faulted afterwards — with a thousand children that is
/// most of the cost of starting them — and nothing of ours runs between
/// clone and exec (STYLE.md trap 5). Everything SPEC §5–§6 asks of the child
/// is expressed as spawn attributes: its own process group, every signal at
/// its default disposition, an empty signal mask, stdin `/dev/null`, stdout
/// and stderr appended to its output file.
///
/// With `cgroup` (an open entry cgroup, SPEC §14) the child is instead
/// created inside that cgroup by `clone3` (`cgroup::clone`, which says why
/// posix_spawn cannot do it), with the same attributes.
pub fn spawn(
    req: &SpawnRequest,
    logdir: &Path,
    socket: &Path,
    cgroup: Option<std::os::fd::BorrowedFd<'_>>,
) -> Result<i32, String> {
    let path = output_path(logdir, &req.tag);
    let out = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let command = CString::new(req.command.as_str()).map_err(|_| "the command contains a NUL byte".to_string())?;
    let argv: [*mut libc::c_char; 4] =
        [c"/bin/sh".as_ptr().cast_mut(), c"-c".as_ptr().cast_mut(), command.as_ptr().cast_mut(), std::ptr::null_mut()];
    let env = child_environment(req, socket);
    let mut envp: Vec<*mut libc::c_char> = env.iter().map(|e| e.as_ptr().cast_mut()).collect();
    envp.push(std::ptr::null_mut());
    if let Some(cgroup) = cgroup {
        let null = std::fs::File::open("/dev/null").map_err(|e| format!("cannot open /dev/null: {e}"))?;
        let exec = crate::cgroup::clone::Exec {
            path: c"/bin/sh",
            argv: argv.as_ptr(),
            envp: envp.as_ptr(),
            stdin: null.as_fd(),
            out: out.as_fd(),
            cgroup,
        };
        return crate::cgroup::clone::spawn(&exec).map_err(|e| format!("cannot start /bin/sh in its cgroup: {e}"));
    }

    let attrs = SpawnAttrs::new().map_err(|e| format!("cannot prepare spawn attributes: {e}"))?;
    let actions = FileActions::new(out.as_raw_fd()).map_err(|e| format!("cannot prepare spawn file actions: {e}"))?;
    let mut pid: libc::pid_t = 0;
    // SAFETY: every pointer is valid for the call: argv and envp are
    // NUL-terminated arrays of NUL-terminated strings that outlive it, and
    // the attribute objects were initialised above.
    let rc =
        unsafe { libc::posix_spawn(&mut pid, c"/bin/sh".as_ptr(), &actions.0, &attrs.0, argv.as_ptr(), envp.as_ptr()) };
    if rc != 0 {
        return Err(format!("cannot start /bin/sh: {}", std::io::Error::from_raw_os_error(rc)));
    }
    Ok(pid)
}

/// The daemon's environment (less `NOTIFY_SOCKET`: a child must not talk to
/// systemd as if it were the daemon) plus `ISINIT_GROUP`, `ISINIT_TAG` and
/// `ISINIT_LEVEL` (SPEC §6), and `ISINIT_SOCKET`: the mark by which a later
/// daemon recognises what this one left behind (`leftovers.rs`), and which
/// makes an `isinit` run by the child talk to this daemon; `ISINIT_ENTRY`
/// tells that later daemon which entry it was (to adopt it).
fn child_environment(req: &SpawnRequest, socket: &Path) -> Vec<CString> {
    let socket = socket.display().to_string();
    let ours = [
        ("ISINIT_GROUP", &req.group),
        ("ISINIT_TAG", &req.tag),
        ("ISINIT_LEVEL", &req.level),
        ("ISINIT_SOCKET", &socket),
        ("ISINIT_ENTRY", &req.mark),
    ];
    let inherited = std::env::vars_os()
        .filter(|(k, _)| !ours.iter().any(|(name, _)| k == name))
        .filter(|(k, _)| k != crate::notify::ENV) // the service manager's socket is the daemon's alone
        .map(|(k, v)| {
            let mut pair = k.into_vec();
            pair.push(b'=');
            pair.extend(v.into_vec());
            pair
        });
    let added = ours.iter().map(|(k, v)| format!("{k}={v}").into_bytes());
    // Entries with a NUL cannot be passed on; the kernel would cut them.
    inherited.chain(added).filter_map(|pair| CString::new(pair).ok()).collect()
}

/// `posix_spawnattr_t`, destroyed on drop.
struct SpawnAttrs(libc::posix_spawnattr_t);

impl SpawnAttrs {
    fn new() -> std::io::Result<SpawnAttrs> {
        // SAFETY: the attribute object is initialised before any other use
        // and destroyed exactly once, in Drop; the signal sets are plain
        // data filled by sigfillset/sigemptyset.
        unsafe {
            let mut attrs = SpawnAttrs(std::mem::zeroed());
            check(libc::posix_spawnattr_init(&mut attrs.0))?;
            let flags = libc::POSIX_SPAWN_SETPGROUP | libc::POSIX_SPAWN_SETSIGDEF | libc::POSIX_SPAWN_SETSIGMASK;
            check(libc::posix_spawnattr_setflags(&mut attrs.0, flags as libc::c_short))?;
            check(libc::posix_spawnattr_setpgroup(&mut attrs.0, 0))?;
            let mut all: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            add_glibc_reserved(&mut all);
            check(libc::posix_spawnattr_setsigdefault(&mut attrs.0, &all))?;
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            check(libc::posix_spawnattr_setsigmask(&mut attrs.0, &none))?;
            Ok(attrs)
        }
    }
}

impl Drop for SpawnAttrs {
    fn drop(&mut self) {
        // SAFETY: initialised in `new`, destroyed once.
        unsafe { libc::posix_spawnattr_destroy(&mut self.0) };
    }
}

/// glibc's `sigfillset` leaves out signals 32 and 33, which it reserves for
/// its threads, and its spawn helper sets them to *ignored* in the child
/// unless they are in the set of signals to default. A program exec'd with
/// them ignored keeps them ignored, so add them by hand (bits 31 and 32 of
/// the set's first word, in the kernel's layout that glibc's `sigset_t`
/// starts with).
fn add_glibc_reserved(set: &mut libc::sigset_t) {
    const RESERVED: u64 = (1 << (32 - 1)) | (1 << (33 - 1));
    // SAFETY: sigset_t is at least 8 bytes of plain bits on Linux.
    unsafe { *(set as *mut libc::sigset_t).cast::<u64>() |= RESERVED };
}

/// `posix_spawn_file_actions_t` for stdin `/dev/null` and stdout/stderr
/// onto `out`, destroyed on drop.
struct FileActions(libc::posix_spawn_file_actions_t);

impl FileActions {
    fn new(out: RawFd) -> std::io::Result<FileActions> {
        // SAFETY: as for SpawnAttrs; the path is a NUL-terminated literal.
        unsafe {
            let mut actions = FileActions(std::mem::zeroed());
            check(libc::posix_spawn_file_actions_init(&mut actions.0))?;
            check(libc::posix_spawn_file_actions_addopen(&mut actions.0, 0, c"/dev/null".as_ptr(), libc::O_RDONLY, 0))?;
            check(libc::posix_spawn_file_actions_adddup2(&mut actions.0, out, 1))?;
            check(libc::posix_spawn_file_actions_adddup2(&mut actions.0, out, 2))?;
            Ok(actions)
        }
    }
}

impl Drop for FileActions {
    fn drop(&mut self) {
        // SAFETY: initialised in `new`, destroyed once.
        unsafe { libc::posix_spawn_file_actions_destroy(&mut self.0) };
    }
}

/// posix_spawn* functions return an error number rather than setting errno.
fn check(rc: libc::c_int) -> std::io::Result<()> {
    if rc == 0 { Ok(()) } else { Err(std::io::Error::from_raw_os_error(rc)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_names_round_trip() {
        for tag in ["mta", "web-1", "a/b", "..", ".hidden", "x.y", "é", "a%b"] {
            let p = output_path(Path::new("/l"), tag);
            let name = p.file_name().unwrap().to_str().unwrap();
            assert!(!name.starts_with('.') && !name.contains('/'), "{name}");
            assert_eq!(tag_of_output(name).as_deref(), Some(tag));
        }
    }
}
