//! Starting one entry's process (SPEC §5, §6).
//!
//! `std::process::Command` rather than `tokio::process`, because exits are
//! reaped by our own single `waitpid(-1)` loop (`reap.rs`); a tokio `Child`
//! would reap behind our back and steal exit statuses (STYLE.md trap 4).

use crate::supervisor::SpawnRequest;
use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

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
pub fn spawn(req: &SpawnRequest, logdir: &Path) -> Result<i32, String> {
    let path = output_path(logdir, &req.tag);
    let out = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let err = out.try_clone().map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(&req.command)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .env("ISINIT_GROUP", &req.group)
        .env("ISINIT_TAG", &req.tag)
        .env("ISINIT_LEVEL", &req.level)
        .process_group(0);
    // SAFETY: the closure runs between fork and exec and only calls
    // async-signal-safe functions (signal, sigemptyset, sigprocmask); it
    // allocates nothing and takes no lock.
    unsafe {
        cmd.pre_exec(|| {
            reset_signals();
            Ok(())
        });
    }
    let child = cmd.spawn().map_err(|e| format!("cannot start /bin/sh: {e}"))?;
    // Dropping a std `Child` neither waits nor kills; `reap.rs` collects it.
    Ok(child.id() as i32)
}

/// Every signal to its default disposition and an empty mask, whatever the
/// daemon inherited (a daemon started with `&` has SIGINT ignored, and
/// ignored signals survive exec).
///
/// The raw `rt_sigaction` system call is used because glibc's `signal()`
/// refuses signals 32 and 33 (reserved for its threads), which a daemon
/// started by a threaded glibc program's `posix_spawn` inherits ignored. An
/// all-zero kernel `struct sigaction` means SIG_DFL, no flags, empty mask,
/// whatever the architecture's field order.
fn reset_signals() {
    let default_action = [0u64; 4];
    // SAFETY: plain system calls on valid arguments; async-signal-safe.
    unsafe {
        for sig in 1..=libc::SIGRTMAX() {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    sig,
                    default_action.as_ptr(),
                    std::ptr::null_mut::<u64>(),
                    8usize,
                );
            }
        }
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
    }
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
