//! Starting one entry's process (SPEC §5, §6).
//!
//! Not `tokio::process`: exits are collected by our own one reaper
//! (`reap.rs`: by pidfd, else `waitpid(-1)`), and a tokio `Child` would
//! reap behind our back and steal exit statuses (STYLE.md trap 4).

mod activation;
mod invocation;

use activation::{Passed, wrapped};

pub use crate::cgroup::clone::Started;
pub use invocation::{Invocation, exec_prefixed, invocation};

use isinit_core::SpawnRequest;
use std::ffi::CString;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

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

/// Most threads that start children at once. Each start waits for its
/// child's `execve` (`CLONE_VFORK`): a wait, not work — the child needs a
/// CPU to get there, and on a busy host it waits its turn behind other
/// runnable tasks (the children started just before, doing their own
/// start-up). A spawner waiting costs no CPU, so the starts in flight are
/// not bounded by the cores: with two spawners on this 2-core VM, 950
/// starts took about 2 s under load; with 32, about 1 s (issue 22,
/// docs/src/performance.md). Each holds only its spawn's descriptors
/// ([`DESCRIPTORS_PER_SPAWN`]), and [`spawners`] has fewer under a low
/// descriptor limit.
pub const SPAWNERS: usize = 32;

/// The descriptors one start holds while it is in flight: its output
/// file, `/dev/null` for stdin, its cgroup's directory and the pidfd
/// `clone3` returns.
pub const DESCRIPTORS_PER_SPAWN: u64 = 4;

/// How many spawners the daemon's descriptor limit allows: starts in
/// flight hold at most a quarter of `RLIMIT_NOFILE`, the rest being for
/// the children's pidfds (`reap::ChildExits`), clients, held sockets and
/// the daemon's own files; 32 ([`SPAWNERS`]) from
/// a limit of 512. Under `ulimit -n 64` that is 4: the daemon's own
/// parallelism never fails its starts for want of descriptors (a full
/// limit still can, and is said: `host_limits`).
pub fn spawners() -> usize {
    let limit = crate::host_limits::nofile().map_or(1024, |(soft, _)| soft);
    let allowed = limit / 4 / DESCRIPTORS_PER_SPAWN;
    usize::try_from(allowed).unwrap_or(SPAWNERS).clamp(1, SPAWNERS)
}

/// `f(0)`, …, `f(n - 1)` in that order, computed on up to [`spawners`]
/// threads (this one included), each taking every k-th index, so the
/// starts stay close to file order.
pub fn in_parallel<R: Send>(n: usize, f: impl Fn(usize) -> R + Sync) -> Vec<R> {
    let threads = spawners().min(n).max(1);
    if threads == 1 {
        return (0..n).map(f).collect();
    }
    let f = &f;
    let share = |k: usize| (k..n).step_by(threads).map(|i| (i, f(i))).collect::<Vec<_>>();
    let mut shares = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads).map(|k| scope.spawn(move || share(k))).collect();
        let mut all = share(0);
        for helper in helpers {
            // A panic in a helper is a bug in `f`; carried over as ours.
            all.extend(helper.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
        }
        all
    });
    shares.sort_unstable_by_key(|(i, _)| *i);
    shares.into_iter().map(|(_, r)| r).collect()
}

/// Starts an entry's command as the leader of a new process group and
/// returns its pid (= its process group id): the command itself when it
/// needs no shell, else `/bin/sh -c` ([`invocation`]).
///
/// `posix_spawn` rather than fork: glibc starts the child with
/// `CLONE_VM | CLONE_VFORK`, so the daemon's page tables are neither copied
/// nor copy-on-write faulted afterwards — with a thousand children that is
/// most of the cost of starting them — and nothing of ours runs between
/// clone and exec (STYLE.md trap 5). Everything SPEC §5–§6 asks of the child
/// is expressed as spawn attributes: its own process group, every signal at
/// its default disposition, an empty signal mask, stdin `/dev/null`, stdout
/// and stderr appended to its output file, and no other descriptor.
///
/// glibc reports an `exec` failure as the spawn's result, so a command that
/// does not exist fails to start here (`NAME: not found`), where a shell
/// would have started and exited 127. The reason is also written into the
/// output file, where the shell would have written its complaint.
///
/// With `cgroup` (an open entry cgroup, SPEC §14) the child is instead
/// created inside that cgroup by `clone3` (`cgroup::clone`, which says why
/// posix_spawn cannot do it), with the same attributes; so it is with
/// `pidfd`, which asks for a child collected by its pidfd
/// ([`Started::pidfd`], `reap.rs`).
///
/// `listen`: the entry's held sockets (`:::listen:`, SPEC §17), which the
/// child gets as descriptors 3, 4, … ([`Passed`]).
pub fn spawn(
    req: &SpawnRequest,
    logdir: &Path,
    socket: &Path,
    cgroup: Option<std::os::fd::BorrowedFd<'_>>,
    listen: &[std::os::fd::BorrowedFd<'_>],
    pidfd: bool,
) -> Result<Started, String> {
    let path = output_path(logdir, &req.tag);
    let mut out = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mut env = child_environment(req, socket);
    let passed = Passed::new(listen).map_err(|e| format!("cannot pass the listening sockets: {e}"))?;
    env.extend(passed.environment(&req.tag));
    let attrs = SpawnAttrs::new().map_err(|e| format!("cannot prepare spawn attributes: {e}"))?;
    let actions = FileActions::new(out.as_raw_fd(), &passed.raw())
        .map_err(|e| format!("cannot prepare spawn file actions: {e}"))?;
    let null = if cgroup.is_some() || pidfd {
        Some(std::fs::File::open("/dev/null").map_err(|e| format!("cannot open /dev/null: {e}"))?)
    } else {
        None
    };
    let place = null.as_ref().map(|null| Placement {
        stdin: null.as_fd(),
        out: out.as_fd(),
        cgroup,
        pidfd,
        listen: passed.raw(),
    });
    let how = How { actions: &actions, attrs: &attrs, place: place.as_ref() };
    let wrapped = wrapped(req, !listen.is_empty());
    let result = match wrapped.map_or_else(|| invocation(&req.command), Invocation::Shell) {
        Invocation::Direct(words) => {
            add_pwd(&mut env);
            match launch(Program::Search, &words, &env, &how) {
                // Like execvp and Perl: a file the kernel cannot execute
                // (a script without `#!`) is run by the shell.
                Err(e) if e.raw_os_error() == Some(libc::ENOEXEC) => {
                    shell(&req.command, &env, &how).map_err(|e| format!("cannot start /bin/sh: {e}"))
                }
                Err(e) => Err(not_started(words.first().map_or("", String::as_str), &e)),
                Ok(started) => Ok(started),
            }
        }
        Invocation::Shell(script) => shell(&script, &env, &how).map_err(|e| format!("cannot start /bin/sh: {e}")),
    };
    if let Err(reason) = &result {
        // Best effort: the status reply carries the reason anyway.
        let _ = writeln!(out, "isinit: failed to start: {reason}");
    }
    result
}

/// The reason a directly executed command did not start, in the shell's
/// words where it has some.
fn not_started(name: &str, e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::ENOENT) => format!("{name}: not found"),
        Some(libc::EACCES) => format!("{name}: permission denied"),
        _ => format!("cannot execute {name}: {e}"),
    }
}

/// What the shell would have done to the environment before running the
/// command: `PWD` names the working directory. Like dash, an inherited
/// `PWD` is kept if it is an absolute path to the same directory (it may go
/// through a symbolic link), and replaced otherwise. The daemon never
/// changes its directory or `PWD`, so the answer is worked out once.
fn add_pwd(env: &mut Vec<CString>) {
    static PWD: OnceLock<Option<CString>> = OnceLock::new();
    let Some(pwd) = PWD.get_or_init(daemon_pwd) else { return };
    env.retain(|e| !e.as_bytes().starts_with(b"PWD="));
    env.push(pwd.clone());
}

/// `PWD=…` for the daemon's working directory; `None` if it has none.
fn daemon_pwd() -> Option<CString> {
    let inherited = std::env::var_os("PWD").map(PathBuf::from);
    let value = match inherited {
        Some(p) if p.is_absolute() && same_file(&p, Path::new(".")) => p,
        _ => std::env::current_dir().ok()?,
    };
    let mut pair = b"PWD=".to_vec();
    pair.extend(value.into_os_string().into_vec());
    CString::new(pair).ok()
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}

/// Runs `/bin/sh -c SCRIPT`.
fn shell(script: &str, env: &[CString], how: &How<'_>) -> std::io::Result<Started> {
    let words = ["/bin/sh".to_owned(), "-c".to_owned(), script.to_owned()];
    launch(Program::Path, &words, env, how)
}

/// How a child is started: by posix_spawn with these attributes, or
/// (`place`) by `clone3`, into its cgroup or with a pidfd kept, with the
/// same effect.
struct How<'a> {
    actions: &'a FileActions,
    attrs: &'a SpawnAttrs,
    place: Option<&'a Placement<'a>>,
}

/// What a child started by `clone3` gets instead of file actions.
struct Placement<'a> {
    stdin: std::os::fd::BorrowedFd<'a>,
    out: std::os::fd::BorrowedFd<'a>,
    cgroup: Option<std::os::fd::BorrowedFd<'a>>,
    pidfd: bool,
    /// [`Passed::raw`]: moved to 3, 4, … in the child.
    listen: Vec<RawFd>,
}

/// Whether `argv[0]` is searched in `PATH`.
#[derive(Clone, Copy)]
enum Program {
    /// `posix_spawnp`: `execvp`'s search of the daemon's `PATH` (a name
    /// with a `/` is used as it is).
    Search,
    /// `posix_spawn`: `argv[0]` is the path.
    Path,
}

fn launch(program: Program, words: &[String], env: &[CString], how: &How<'_>) -> std::io::Result<Started> {
    let (actions, attrs) = (how.actions, how.attrs);
    let words: Vec<CString> = words
        .iter()
        .map(|w| CString::new(w.as_str()))
        .collect::<Result<_, _>>()
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "the command contains a NUL byte"))?;
    let Some(file) = words.first() else {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty command"));
    };
    let mut argv: Vec<*mut libc::c_char> = words.iter().map(|w| w.as_ptr().cast_mut()).collect();
    argv.push(std::ptr::null_mut());
    let mut envp: Vec<*mut libc::c_char> = env.iter().map(|e| e.as_ptr().cast_mut()).collect();
    envp.push(std::ptr::null_mut());
    if let Some(place) = how.place {
        let path = match program {
            Program::Search => crate::cgroup::clone::search_path(file)?,
            Program::Path => file.clone(),
        };
        let exec = crate::cgroup::clone::Exec {
            path: &path,
            argv: argv.as_ptr(),
            envp: envp.as_ptr(),
            stdin: place.stdin,
            out: place.out,
            cgroup: place.cgroup,
            pidfd: place.pidfd,
            listen: &place.listen,
        };
        return crate::cgroup::clone::spawn(&exec);
    }
    let mut pid: libc::pid_t = 0;
    // SAFETY: every pointer is valid for the call: argv and envp are
    // NUL-terminated arrays of NUL-terminated strings that outlive it, and
    // the attribute objects were initialised by their constructors.
    let rc = unsafe {
        match program {
            Program::Search => {
                libc::posix_spawnp(&mut pid, file.as_ptr(), &actions.0, &attrs.0, argv.as_ptr(), envp.as_ptr())
            }
            Program::Path => {
                libc::posix_spawn(&mut pid, file.as_ptr(), &actions.0, &attrs.0, argv.as_ptr(), envp.as_ptr())
            }
        }
    };
    check(rc).map(|()| Started { pid, pidfd: None })
}

/// The daemon's environment (less `NOTIFY_SOCKET`: a child must not talk to
/// systemd as if it were the daemon) plus `ISINIT_GROUP`, `ISINIT_TAG` and
/// `ISINIT_LEVEL` (SPEC §6), and `ISINIT_SOCKET`: the mark by which a later
/// daemon recognises what this one left behind (`leftovers.rs`), and which
/// makes an `isinit` run by the child talk to this daemon; `ISINIT_ENTRY`
/// tells that later daemon which entry it was (to adopt it). A `notify`
/// entry also gets `NOTIFY_SOCKET`: the daemon's readiness socket.
fn child_environment(req: &SpawnRequest, socket: &Path) -> Vec<CString> {
    let notify = super::readiness::address(socket);
    let socket = socket.display().to_string();
    let mut ours = vec![
        ("ISINIT_GROUP", &req.group),
        ("ISINIT_TAG", &req.tag),
        ("ISINIT_LEVEL", &req.level),
        ("ISINIT_SOCKET", &socket),
        ("ISINIT_ENTRY", &req.mark),
    ];
    // Only `notify` entries and watched ones are told where to report
    // (SPEC §11, §17).
    if req.notify || req.watchdog_usec.is_some() {
        ours.push(("NOTIFY_SOCKET", &notify));
    }
    let usec = req.watchdog_usec.map(|u| u.to_string()).unwrap_or_default();
    if req.watchdog_usec.is_some() {
        ours.push(("WATCHDOG_USEC", &usec));
    }
    let inherited = std::env::vars_os()
        .filter(|(k, _)| !ours.iter().any(|(name, _)| k == name))
        // Socket activation of the daemon itself is not the child's: its
        // own sockets, if any, are set by `Passed`.
        .filter(|(k, _)| !matches!(k.to_str(), Some("LISTEN_PID" | "LISTEN_FDS" | "LISTEN_FDNAMES")))
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
            // Wrapped (and so destroyed on drop) only once init succeeded.
            let mut attrs = SpawnAttrs(initialised(libc::posix_spawnattr_init)?);
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

/// A C object of type `T` made by `init` from zeroed memory, or init's
/// error. The caller wraps the value in its destroying guard only on
/// success: destroying an object whose init failed is undefined.
///
/// # Safety
/// `init` must be an initialiser of `T` taking a pointer to it.
unsafe fn initialised<T>(init: unsafe extern "C" fn(*mut T) -> libc::c_int) -> std::io::Result<T> {
    let mut value = std::mem::MaybeUninit::<T>::zeroed();
    // SAFETY: the caller promises `init` initialises a `T` in place.
    check(unsafe { init(value.as_mut_ptr()) })?;
    // SAFETY: zeroed, then initialised by a successful `init`.
    Ok(unsafe { value.assume_init() })
}

/// glibc's `sigfillset` leaves out signals 32 and 33, which it reserves for
/// its threads, and its spawn helper sets them to *ignored* in the child
/// unless they are in the set of signals to default. A program exec'd with
/// them ignored keeps them ignored, so add them by hand: glibc's
/// `sigaddset` refuses them, so their bits are set in the kernel's layout
/// (signal N is bit N-1 of an array of `unsigned long`), one word at a
/// time, never by writing a wider integer through the set.
fn add_glibc_reserved(set: &mut libc::sigset_t) {
    for sig in [32, 33] {
        add_signal(set, sig);
    }
}

/// Adds `sig` to `set`: through `sigaddset`, or, for a signal the C
/// library reserves and refuses, by setting its bit in the kernel layout.
fn add_signal(set: &mut libc::sigset_t, sig: libc::c_int) {
    // SAFETY: set is a valid sigset_t.
    if unsafe { libc::sigaddset(set, sig) } == 0 {
        return;
    }
    let Ok(index) = usize::try_from(sig - 1) else { return };
    let bits = libc::c_ulong::BITS as usize;
    let words = std::mem::size_of::<libc::sigset_t>() / std::mem::size_of::<libc::c_ulong>();
    let (word, bit) = (index / bits, index % bits);
    if word < words {
        // SAFETY: sigset_t is an array of `words` c_ulongs on Linux (with
        // their alignment); `word` is within it.
        unsafe { *(set as *mut libc::sigset_t).cast::<libc::c_ulong>().add(word) |= 1 << bit };
    }
}

/// `posix_spawn_file_actions_t` for stdin `/dev/null`, stdout/stderr onto
/// `out`, `listen` (see [`Passed`]) onto 3, 4, …, and every other
/// descriptor closed, destroyed on drop.
///
/// The daemon opens its own descriptors close-on-exec, but whatever it
/// inherited without that flag (a shell's `exec 7<file`, a leaked socket of
/// the service manager) would otherwise reach every child: a held lock, a
/// pipe that never sees EOF. glibc ≥ 2.34 closes them in the child with
/// `close_range`, after the `dup2`s.
struct FileActions(libc::posix_spawn_file_actions_t);

impl FileActions {
    fn new(out: RawFd, listen: &[RawFd]) -> std::io::Result<FileActions> {
        // SAFETY: as for SpawnAttrs; the path is a NUL-terminated literal.
        unsafe {
            let mut actions = FileActions(initialised(libc::posix_spawn_file_actions_init)?);
            check(libc::posix_spawn_file_actions_addopen(&mut actions.0, 0, c"/dev/null".as_ptr(), libc::O_RDONLY, 0))?;
            check(libc::posix_spawn_file_actions_adddup2(&mut actions.0, out, 1))?;
            check(libc::posix_spawn_file_actions_adddup2(&mut actions.0, out, 2))?;
            let mut next = 3;
            for fd in listen {
                check(libc::posix_spawn_file_actions_adddup2(&mut actions.0, *fd, next))?;
                next += 1;
            }
            check(libc::posix_spawn_file_actions_addclosefrom_np(&mut actions.0, next))?;
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

    /// Signals 32 and 33 end up in the set (as the kernel reads it), and
    /// no other signal does.
    #[test]
    fn the_reserved_signals_are_added_bit_by_bit() {
        // SAFETY: a plain sigset_t, emptied before use.
        let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
        unsafe { libc::sigemptyset(&mut set) };
        add_glibc_reserved(&mut set);
        for sig in 1..=64 {
            // SAFETY: sigismember reads the set.
            let member = unsafe { libc::sigismember(&set, sig) } == 1;
            assert_eq!(member, sig == 32 || sig == 33, "signal {sig}");
        }
        add_signal(&mut set, libc::SIGTERM);
        assert_eq!(unsafe { libc::sigismember(&set, libc::SIGTERM) }, 1);
    }

    unsafe extern "C" fn failing_init(_: *mut u64) -> libc::c_int {
        libc::ENOMEM
    }

    unsafe extern "C" fn good_init(v: *mut u64) -> libc::c_int {
        // SAFETY: v points to a u64 (see `initialised`).
        unsafe { *v = 7 };
        0
    }

    /// A failed init gives no object to wrap (and so none to destroy).
    #[test]
    fn a_failed_init_yields_nothing_to_destroy() {
        // SAFETY: both initialise a u64 through its pointer.
        let failed = unsafe { initialised(failing_init) };
        assert_eq!(failed.map_err(|e| e.raw_os_error()), Err(Some(libc::ENOMEM)));
        assert_eq!(unsafe { initialised(good_init) }.ok(), Some(7));
        assert!(SpawnAttrs::new().is_ok() && FileActions::new(1, &[]).is_ok());
    }

    #[test]
    fn output_names_round_trip() {
        for tag in ["mta", "web-1", "a/b", "..", ".hidden", "x.y", "é", "a%b"] {
            let p = output_path(Path::new("/l"), tag);
            let name = p.file_name().unwrap().to_str().unwrap();
            assert!(!name.starts_with('.') && !name.contains('/'), "{name}");
            assert_eq!(tag_of_output(name).as_deref(), Some(tag));
        }
    }

    #[test]
    fn parallel_results_come_back_in_order_from_every_thread() {
        let out = in_parallel(100, |i| (i * 3, std::thread::current().id()));
        assert_eq!(out.iter().map(|(v, _)| *v).collect::<Vec<_>>(), (0..100).map(|i| i * 3).collect::<Vec<_>>());
        let threads: std::collections::HashSet<_> = out.iter().map(|(_, t)| *t).collect();
        assert_eq!(threads.len(), spawners(), "one share per thread");
        assert_eq!(in_parallel(1, |i| i + 1), [1]);
        assert!(in_parallel(0, |i| i).is_empty());
    }
}
