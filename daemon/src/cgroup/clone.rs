//! Starting a child inside its cgroup: `clone3` with `CLONE_INTO_CGROUP`;
//! and, with or without one, a child with a pidfd (`CLONE_PIDFD`: see
//! `runtime::reap` for why).
//!
//! Why not posix_spawn: glibc can place a posix_spawn child in a cgroup
//! only from 2.41 (`posix_spawnattr_setcgroup_np`), and writing the pid
//! into `cgroup.procs` after posix_spawn returns is too late — the child
//! has exec'd and may have forked or called `setsid` already. With
//! `CLONE_INTO_CGROUP` (Linux 5.7) the kernel creates the child in the
//! cgroup: there is no moment at which it runs anywhere else.
//!
//! Why it is safe: the flags are `CLONE_VFORK` (we wait until the child
//! has exec'd or died, like glibc's posix_spawn) and, on x86-64,
//! `CLONE_VM` with a stack of its own for the child (see [`clone_into`];
//! elsewhere the child gets a copy of our memory, like fork), and
//! `CLONE_FILES`, which the child's first system call ends by taking a
//! copy of just the low descriptors it needs (see [`spawn`]). Between
//! clone and exec the child runs only [`child`], which makes raw system
//! calls on values prepared beforehand: it allocates nothing, takes no
//! lock and logs nothing (STYLE.md trap 5). All signals are blocked in
//! this thread around the clone, so no handler of ours can run in the
//! child before it has set every disposition back to default.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

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
    /// The cgroup directory the child is created in; `None`: the daemon's.
    pub cgroup: Option<BorrowedFd<'a>>,
    /// Whether to return a pidfd of the child ([`Started::pidfd`]).
    pub pidfd: bool,
    /// Held listening sockets (SPEC §17), each numbered above 2 + their
    /// count: moved to 3, 4, … in the child, in this order.
    pub listen: &'a [RawFd],
}

/// A started child.
pub struct Started {
    /// Its pid, which is also its process group's id.
    pub pid: i32,
    /// Its pidfd, if [`Exec::pidfd`] asked for one, by which its end is
    /// learnt and it is collected (`runtime::reap::ChildExits`).
    pub pidfd: Option<OwnedFd>,
}

/// Starts `exec` as the leader of a new process group inside its cgroup,
/// with every signal at its default disposition and an empty signal mask;
/// returns it, or why the clone or the exec failed.
pub fn spawn(exec: &Exec<'_>) -> io::Result<Started> {
    // The child's stdio sources and its report pipe are moved above every
    // descriptor the child sets up (0–2 and a held socket's 3…), so that
    // setting those up can never overwrite one of them.
    let lowest = 3 + exec.listen.len() as RawFd;
    let stdin = above(exec.stdin, lowest)?;
    let out = above(exec.out, lowest)?;
    let (report_rx, first_tx) = cloexec_pipe()?;
    let report_tx = above(first_tx.as_fd(), lowest)?;
    // Only the copy may stay open: the read below ends when the child's
    // exec closes the last write end.
    drop(first_tx);
    let mut pidfd: RawFd = -1;
    // The child shares our descriptor table (`CLONE_FILES`) until its
    // first step, which gives it a copy of the descriptors below `keep`
    // only: the ones it needs are there, and the pidfds of every other
    // child (parked high, `runtime::reap`) are not copied (and closed
    // again by the exec) on every start.
    let keep =
        [stdin.as_raw_fd(), out.as_raw_fd(), report_tx.as_raw_fd()].into_iter().chain(exec.listen.iter().copied());
    let keep = keep.max().unwrap_or(2) + 1;
    let flags = (libc::CLONE_VFORK | libc::CLONE_FILES) as u64;
    let mut args = CloneArgs { flags, exit_signal: libc::SIGCHLD as u64, ..Default::default() };
    if let Some(cgroup) = exec.cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = cgroup.as_raw_fd() as u64;
    }
    if exec.pidfd {
        args.flags |= libc::CLONE_PIDFD as u64;
        args.pidfd = &raw mut pidfd as u64;
    }
    let plan = Plan {
        path: exec.path.as_ptr(),
        argv: exec.argv,
        envp: exec.envp,
        stdin: stdin.as_raw_fd(),
        out: out.as_raw_fd(),
        report: report_tx.as_raw_fd(),
        keep,
        listen: exec.listen.as_ptr(),
        listen_len: exec.listen.len(),
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
        let rc = clone_into(&mut args, &plan);
        let clone_error = io::Error::last_os_error();
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        (rc, clone_error)
    };
    drop(report_tx);
    if rc < 0 {
        return Err(clone_error);
    }
    // SAFETY: CLONE_PIDFD made the kernel store a new descriptor, ours.
    let pidfd = exec.pidfd.then(|| unsafe { OwnedFd::from_raw_fd(pidfd) });
    // The child has exec'd (the pipe closed on exec: EOF) or written why
    // it could not before exiting 127.
    let mut errno = [0u8; 4];
    let mut report = std::fs::File::from(report_rx);
    match io::Read::read(&mut report, &mut errno) {
        // Reaped like any child (its pidfd is dropped).
        Ok(4) => Err(io::Error::from_raw_os_error(i32::from_ne_bytes(errno))),
        _ => Ok(Started { pid: rc as i32, pidfd }),
    }
}

/// Bytes of stack for the child of a `CLONE_VM` clone; [`child`] needs a
/// few hundred.
#[cfg(target_arch = "x86_64")]
const CHILD_STACK: usize = 64 * 1024;

/// The clone itself, on x86-64 with `CLONE_VM` as glibc's posix_spawn
/// does: the child borrows our memory instead of copying our page tables,
/// which would also leave every page of ours write-protected, to be
/// faulted back one by one after the child has exec'd — with a thousand
/// children, that triples the time to start them. Sharing memory needs a
/// stack of its own for the child (it must not write over our frames) and
/// a jump to [`child`] on it, right after the system call: the child
/// cannot return through Rust code compiled for our stack. Hence the
/// assembly. We are suspended (`CLONE_VFORK`) until the child has exec'd
/// or exited, so the stack and `plan` outlive its use of them.
///
/// # Safety
/// `args` must be a valid `clone_args`; `plan` valid until the child execs.
#[cfg(target_arch = "x86_64")]
unsafe fn clone_into(args: &mut CloneArgs, plan: &Plan) -> i64 {
    // 16-byte aligned, as `call` needs; not zeroed: the child writes the
    // few hundred bytes at its top that it uses, and the rest of the
    // allocation is never touched (no resident memory for it).
    let mut stack: Vec<u128> = Vec::with_capacity(CHILD_STACK / 16);
    args.flags |= libc::CLONE_VM as u64;
    args.stack = stack.as_mut_ptr() as u64;
    args.stack_size = CHILD_STACK as u64;
    let rc: i64;
    // SAFETY: in the parent the asm is one system call (rcx and r11 are
    // clobbered by `syscall`); the child (rax 0) starts on the top of
    // `stack` (the kernel sets it from clone_args) and calls `child_entry`,
    // which never returns.
    unsafe {
        std::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "mov rdi, r12",
            "call r13",
            "ud2",
            "2:",
            inlateout("rax") libc::SYS_clone3 => rc,
            in("rdi") args as *const CloneArgs,
            in("rsi") std::mem::size_of::<CloneArgs>(),
            in("r12") plan as *const Plan,
            in("r13") child_entry as *const (),
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    drop(stack);
    if rc < 0 {
        // The raw call reports -errno; the caller reads errno.
        // SAFETY: errno is this thread's.
        unsafe { *libc::__errno_location() = (-rc) as i32 };
        return -1;
    }
    rc
}

/// Elsewhere: a copy of our memory (fork-like, `CLONE_VFORK` still
/// suspending us), the child continuing on its copy of our stack.
///
/// # Safety
/// As for the x86-64 version.
#[cfg(not(target_arch = "x86_64"))]
unsafe fn clone_into(args: &mut CloneArgs, plan: &Plan) -> i64 {
    // SAFETY: a valid clone_args of the size passed; the child only runs `child`.
    unsafe {
        let rc = libc::syscall(libc::SYS_clone3, args as *const CloneArgs, std::mem::size_of::<CloneArgs>());
        if rc == 0 {
            child(plan);
        }
        rc
    }
}

/// Where the child of the x86-64 clone starts, on its own stack.
#[cfg(target_arch = "x86_64")]
extern "C" fn child_entry(plan: *const Plan) -> ! {
    // SAFETY: `plan` points at the parent's Plan, alive while it waits.
    unsafe { child(&*plan) }
}

/// Raw values for the child, so that it touches nothing but them.
struct Plan {
    path: *const libc::c_char,
    argv: *const *mut libc::c_char,
    envp: *const *mut libc::c_char,
    stdin: RawFd,
    out: RawFd,
    report: RawFd,
    /// Descriptors below this are copied into the child's own table.
    keep: RawFd,
    /// [`Exec::listen`], as a raw pointer and length (the child shares the
    /// parent's memory until it execs, and the slice outlives that).
    listen: *const RawFd,
    listen_len: usize,
}

/// The child between clone and exec: raw system calls only.
///
/// # Safety
/// Only to be called in the child of [`spawn`]'s clone.
unsafe fn child(p: &Plan) -> ! {
    // SAFETY: raw system calls on plain values; see the module comment.
    unsafe {
        // A descriptor table of its own before anything else: until then
        // it is ours (`CLONE_FILES`). Only the descriptors below `keep` are
        // copied (`CLOSE_RANGE_UNSHARE`, Linux 5.9; before, a whole copy).
        let unshared = libc::syscall(libc::SYS_close_range, p.keep as u32, u32::MAX, libc::CLOSE_RANGE_UNSHARE) == 0
            || libc::syscall(libc::SYS_unshare, libc::CLONE_FILES) == 0;
        if !unshared {
            let errno = (*libc::__errno_location()).to_ne_bytes();
            libc::syscall(libc::SYS_write, p.report, errno.as_ptr(), errno.len());
            libc::syscall(libc::SYS_exit_group, 127);
        }
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
            // Then the held sockets onto 3, 4, …: dup3 without O_CLOEXEC
            // makes them survive the exec (sd_listen_fds(3)).
            for i in 0..p.listen_len {
                let Ok(to) = RawFd::try_from(3 + i) else { break };
                if !move_fd(*p.listen.add(i), to) {
                    break;
                }
            }
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

/// A close-on-exec duplicate of `fd` numbered `lowest` or above.
fn above(fd: BorrowedFd<'_>, lowest: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC returns a new descriptor we then own.
    let dup = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, lowest) };
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
