//! Starting a child inside its cgroup: `clone3` with `CLONE_INTO_CGROUP`.
//!
//! Why not posix_spawn: glibc can place a posix_spawn child in a cgroup
//! only from 2.41 (`posix_spawnattr_setcgroup_np`), and writing the pid
//! into `cgroup.procs` after posix_spawn returns is too late — the child
//! has exec'd and may have forked or called `setsid` already. With
//! `CLONE_INTO_CGROUP` (Linux 5.7) the kernel creates the child in the
//! cgroup: there is no moment at which it runs anywhere else.
//!
//! Why it is safe: the flags are `CLONE_VFORK` without `CLONE_VM`, so the
//! child gets its own copy of our memory (like fork) and we wait until it
//! has exec'd or died (like vfork, and like glibc's posix_spawn). Between
//! clone and exec the child runs only [`child`], which makes raw system
//! calls on values prepared beforehand: it allocates nothing, takes no
//! lock and logs nothing (STYLE.md trap 5). All signals are blocked in
//! this thread around the clone, so no handler of ours can run in the
//! child before it has set every disposition back to default.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// `CLONE_INTO_CGROUP` (linux/sched.h); not in every libc release.
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// `struct clone_args` of linux/sched.h, up to `cgroup` (version 2).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// Everything the child needs, prepared before the clone.
pub struct Exec<'a> {
    /// The program to execute.
    pub path: &'a CStr,
    /// NUL-terminated argument vector.
    pub argv: *const *mut libc::c_char,
    /// NUL-terminated environment vector.
    pub envp: *const *mut libc::c_char,
    /// Becomes the child's stdin.
    pub stdin: BorrowedFd<'a>,
    /// Becomes the child's stdout and stderr.
    pub out: BorrowedFd<'a>,
    /// The cgroup directory the child is created in.
    pub cgroup: BorrowedFd<'a>,
}

/// Starts `exec` as the leader of a new process group inside its cgroup,
/// with every signal at its default disposition and an empty signal mask;
/// returns its pid, or why the clone or the exec failed.
pub fn spawn(exec: &Exec<'_>) -> io::Result<i32> {
    // The child's stdio sources are moved above 2 first, so that setting up
    // 0, 1 and 2 in the child can never overwrite one of them.
    let stdin = above_stdio(exec.stdin)?;
    let out = above_stdio(exec.out)?;
    let (report_rx, report_tx) = cloexec_pipe()?;
    let args = CloneArgs {
        flags: libc::CLONE_VFORK as u64 | CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: exec.cgroup.as_raw_fd() as u64,
        ..CloneArgs::default()
    };
    let plan = Plan {
        path: exec.path.as_ptr(),
        argv: exec.argv,
        envp: exec.envp,
        stdin: stdin.as_raw_fd(),
        out: out.as_raw_fd(),
        report: report_tx.as_raw_fd(),
    };
    // SAFETY: sigset_t is plain data; blocking every signal in this thread
    // and restoring the old mask afterwards changes nothing else. clone3
    // gets a valid clone_args of the size passed. In the child (rc 0) only
    // `child` runs, which never returns.
    let (rc, clone_error) = unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        let rc = libc::syscall(libc::SYS_clone3, &args as *const CloneArgs, std::mem::size_of::<CloneArgs>());
        if rc == 0 {
            child(&plan);
        }
        let clone_error = io::Error::last_os_error();
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        (rc, clone_error)
    };
    drop(report_tx);
    if rc < 0 {
        return Err(clone_error);
    }
    // The child has exec'd (the pipe closed on exec: EOF) or written why
    // it could not before exiting 127 (reaped like any child).
    let mut errno = [0u8; 4];
    let mut report = std::fs::File::from(report_rx);
    match io::Read::read(&mut report, &mut errno) {
        Ok(4) => Err(io::Error::from_raw_os_error(i32::from_ne_bytes(errno))),
        _ => Ok(rc as i32),
    }
}

/// Raw values for the child, so that it touches nothing but them.
struct Plan {
    path: *const libc::c_char,
    argv: *const *mut libc::c_char,
    envp: *const *mut libc::c_char,
    stdin: RawFd,
    out: RawFd,
    report: RawFd,
}

/// The child between clone and exec: raw system calls only.
///
/// # Safety
/// Only to be called in the child of [`spawn`]'s clone.
unsafe fn child(p: &Plan) -> ! {
    // SAFETY: raw system calls on plain values; see the module comment.
    unsafe {
        libc::syscall(libc::SYS_setpgid, 0, 0);
        // The kernel's struct sigaction, all zero: SIG_DFL, no flags, empty
        // mask — the same bytes whatever the architecture's field order.
        let default = [0u64; 4];
        for sig in 1..=64 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::syscall(libc::SYS_rt_sigaction, sig, default.as_ptr(), 0usize, 8usize);
            }
        }
        let ok = move_fd(p.stdin, 0) && move_fd(p.out, 1) && move_fd(p.out, 2);
        if ok {
            // No descriptor but 0–2 survives the exec (as with posix_spawn's
            // closefrom). Close-on-exec rather than closed: the report pipe
            // must stay open until the exec. Before 5.11 this fails, and
            // the daemon opens everything close-on-exec anyway.
            libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, libc::CLOSE_RANGE_CLOEXEC);
            let empty = 0u64;
            libc::syscall(libc::SYS_rt_sigprocmask, libc::SIG_SETMASK, &empty as *const u64, 0usize, 8usize);
            libc::syscall(libc::SYS_execve, p.path, p.argv, p.envp);
        }
        let errno = (*libc::__errno_location()).to_ne_bytes();
        libc::syscall(libc::SYS_write, p.report, errno.as_ptr(), errno.len());
        libc::syscall(libc::SYS_exit_group, 127);
        libc::abort()
    }
}

/// What `execvp` would run for `name`: itself if it holds a `/`, else the
/// first executable `DIR/name` along the daemon's `PATH` (`/bin:/usr/bin`
/// without one). Worked out before the clone, since the child may not
/// allocate. `ENOENT` if there is none (`EACCES` if one was found but
/// may not be executed).
pub fn search_path(name: &CStr) -> io::Result<std::ffi::CString> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = name.to_bytes();
    if bytes.contains(&b'/') {
        return Ok(name.to_owned());
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/bin:/usr/bin".into());
    let mut denied = false;
    for dir in path.as_bytes().split(|b| *b == b':') {
        let dir = if dir.is_empty() { &b"."[..] } else { dir };
        let mut candidate = dir.to_vec();
        candidate.push(b'/');
        candidate.extend_from_slice(bytes);
        let Ok(candidate) = std::ffi::CString::new(candidate) else { continue };
        let file = std::path::Path::new(std::ffi::OsStr::from_bytes(candidate.as_bytes()));
        if !file.is_file() {
            continue;
        }
        // SAFETY: a NUL-terminated path.
        if unsafe { libc::access(candidate.as_ptr(), libc::X_OK) } == 0 {
            return Ok(candidate);
        }
        denied = true;
    }
    Err(io::Error::from_raw_os_error(if denied { libc::EACCES } else { libc::ENOENT }))
}

/// `dup3(from, to)`; the sources are above 2, so never equal to `to`.
unsafe fn move_fd(from: RawFd, to: RawFd) -> bool {
    // SAFETY: dup3 on two descriptor numbers.
    unsafe { libc::syscall(libc::SYS_dup3, from, to, 0) >= 0 }
}

/// A close-on-exec duplicate of `fd` numbered 3 or above.
fn above_stdio(fd: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC returns a new descriptor we then own.
    let dup = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if dup < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(dup) })
}

/// A close-on-exec pipe (read end, write end).
fn cloexec_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both fresh.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}
