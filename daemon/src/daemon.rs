//! `isinit daemon`: resolve settings, take the socket and its lifetime
//! lock (or inherit both from the image `reexec` replaced), carry on from
//! a previous daemon, and run the runtime and the server until shutdown.

use crate::runtime::handover::{self, ENV_HANDOVER, HandedSettings, Handover};
use crate::runtime::output::{Capture, OutputHub};
use crate::runtime::signals::Signals;
use crate::runtime::usage::UsageSampler;
use crate::runtime::{ReexecKit, Runtime, Settings, in_force, leftovers, reap};
use crate::server::{self, Context, STREAM_SLOTS, SocketFile};
use crate::{DaemonOptions, Failure};
use isinit_client::daemon_lock::{self, DaemonLock, ENV_LOCK_FD};
use isinit_core::Timing;
use isinit_shared::config::{ConfigErrors, Directives, Inittab};
use isinit_shared::settings::{self as s, resolve};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UnixListener;
use tokio::sync::{Semaphore, mpsc, watch};

/// How many requests may queue for the runtime before handlers wait.
const COMMAND_QUEUE: usize = 1024;
/// How long exiting waits for the node health feed's last word.
const HEALTH_WAIT: Duration = Duration::from_secs(3);
/// How long exiting waits for connections to deliver their last replies.
const DRAIN_LIMIT: Duration = Duration::from_secs(2);

/// Runs the daemon in the foreground until it is shut down.
pub async fn run(config_flag: Option<&Path>, socket_flag: Option<&Path>, args: DaemonOptions) -> Result<(), Failure> {
    let handed = take_handover_fd();
    let handed_lock = take_env_fd(ENV_LOCK_FD);
    // Handlers first (defect 3f): a signal while leftovers are stopped, or
    // one that arrived during a reexec (blocked until now), is handled.
    let signals = Signals::install().map_err(|e| Failure::new(format!("cannot install signal handlers: {e}")))?;
    let config_path = s::config_path(config_flag);
    let on_disk = Inittab::load(&config_path);
    // The new image of a reexec looks at what it was handed before the
    // file on disk: it carries on with the configuration and settings in
    // force, whatever the file says now (issue 16, item 3).
    let (handover, unreadable) = match handed.map(handover::read_fd) {
        Some(Ok(h)) => (Some(h), None),
        Some(Err(e)) => (None, Some(format!("cannot read the state handed over by reexec: {e}"))),
        None => (None, None),
    };
    let handed_settings = handover.as_ref().and_then(|h| h.settings.clone());
    let directives = on_disk.as_ref().map(|c| c.directives.clone()).unwrap_or_default();
    let log = match &handed_settings {
        Some(hs) => hs.log.clone(),
        None => args.log.clone().or(directives.log.clone()),
    };
    // A fresh start waits a moment for the log file, to refuse one that
    // cannot be opened; the new image of a reexec never waits for it (the
    // old image already waited for its files, within their bounds).
    let open_wait = if handover.is_some() { Duration::ZERO } else { crate::log_file::OPEN_WAIT };
    if let Err(e) = crate::log_file::init(log.clone(), open_wait) {
        if handover.is_none() {
            return Err(e);
        }
        // The children must not lose their supervisor over a log file.
        crate::log_file::init(None, Duration::ZERO)?;
        tracing::error!("{e}; logging to stderr only");
    }
    // Issue 22: connections and spawns in flight take descriptors; the
    // customary soft limit of 1,024 is the first a busy daemon meets.
    crate::host_limits::raise_nofile();
    crate::host_limits::limit_malloc_arenas();
    if let Err(e) = reap::become_subreaper() {
        tracing::warn!("cannot become child subreaper ({e}); orphans of children will escape to init");
    }
    let started = match handover {
        Some(h) => match carry_on(h, handed_settings, handed_lock, &config_path, &on_disk, socket_flag, &args) {
            Ok(started) => Ok(started),
            Err(why) => {
                tracing::error!("{why}; carrying on from the state file instead");
                close_inherited_fds();
                fresh_start(&config_path, on_disk, socket_flag, &args).await
            }
        },
        None => {
            if let Some(why) = unreadable {
                tracing::error!("{why}; carrying on from the state file instead");
                close_inherited_fds();
            }
            fresh_start(&config_path, on_disk, socket_flag, &args).await
        }
    }?;
    let Started { listener, socket_file, runtime, reply, positions, settings, lock } = started;
    if let Err(e) = std::fs::create_dir_all(&settings.logdir) {
        let why = format!("cannot create log directory {}: {e}", settings.logdir.display());
        if reply.is_none() {
            return Err(Failure::new(why));
        }
        tracing::error!("{why}; output capture will fail until it exists");
    }
    let metrics_listener = match crate::metrics::http::bind(args.metrics_listen).await {
        Ok(l) => l, // issue 9: --metrics-listen
        Err(e) if reply.is_some() => {
            tracing::error!("{e}; carrying on without metrics");
            None
        }
        Err(e) => return Err(e),
    };
    let control_socket = settings.socket.clone(); // issue 9: for the sd_notify readiness probe

    let (commands, rx) = mpsc::channel(COMMAND_QUEUE);
    let (logdir_full, logdir_full_rx) = watch::channel(false);
    let output = OutputHub::start(Capture {
        logdir: settings.logdir.clone(),
        max_bytes: settings.log_max_bytes,
        tags: runtime.output_tags(),
        notices: commands.clone(),
        positions,
        logdir_full,
    })
    .map_err(|e| Failure::new(format!("cannot start output capture: {e}")))?;
    let slots = server::Slots::new();
    let (exiting_tx, exiting) = watch::channel(false);
    let (ending_tx, ending) = watch::channel(false);
    let streams = Arc::new(Semaphore::new(STREAM_SLOTS));
    let mut kit = ReexecKit::capture(
        listener.as_raw_fd(),
        ending_tx,
        streams.clone(),
        STREAM_SLOTS as u32,
        log,
        commands.clone(),
    )
    .map_err(|e| Failure::new(format!("cannot find the daemon's own binary: {e}")))?;
    kit.lock_fd = lock.as_ref().map(|l| l.as_fd().as_raw_fd());
    let runtime = runtime.with_reexec(kit, output.clone());
    let ctx = Context {
        commands,
        info: runtime.info(),
        output: output.clone(),
        usage: UsageSampler::start(),
        own_uid: nix::unistd::geteuid().as_raw(),
        exiting,
        slots: slots.clone(),
        ending,
        streams,
    };
    let serve = tokio::spawn(server::serve(listener, ctx.clone()));
    crate::metrics::http::spawn(metrics_listener, ctx.clone()); // issue 9: /metrics over HTTP, if asked for
    tokio::spawn(crate::report::report(ctx.commands.clone(), control_socket)); // issue 9: sd_notify READY=1, STATUS=
    let health = tokio::spawn(crate::runtime::node_health::feed(ctx.commands.clone(), logdir_full_rx)); // SPEC §18: #health-isinit
    if let Some((conn, said)) = reply {
        tokio::spawn(crate::runtime::answer_reexec(conn, said));
    }
    let result = runtime.run(rx, signals).await;
    // The health feed removes #health-isinit once it sees the daemon halt;
    // exiting first would cancel that (bounded: a hung cluster stack must
    // not hold the exit).
    let _ = tokio::time::timeout(HEALTH_WAIT, health).await;
    serve.abort();
    socket_file.remove();
    drop(lock);
    exiting_tx.send_replace(true);
    slots.drain(DRAIN_LIMIT).await;
    tracing::info!("every process stopped; exiting");
    crate::log_file::end();
    result.map_err(|e| Failure::new(format!("daemon failed: {e}")))
}

/// ROOT of the entry cgroups (SPEC §14) from `--cgroup`, `ISINIT_CGROUP`
/// or `:::cgroup:`, else found; or `None` — said once, here — and every
/// entry is tracked by its process group as before.
fn find_cgroup_root(flag: Option<&Path>, directive: Option<&Path>, socket: &Path) -> Option<crate::cgroup::Root> {
    let setting = match flag {
        Some(p) => Some(p.to_owned()),
        None => std::env::var_os(s::ENV_CGROUP)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or(directive.map(Path::to_owned)),
    };
    let choice = crate::cgroup::Choice::from_setting(setting.as_deref());
    match crate::cgroup::discover(&choice, socket) {
        Ok(root) => {
            tracing::info!("process tracking: each entry in its own cgroup under {}", root.path.display());
            Some(root)
        }
        Err(why) => {
            tracing::warn!("process tracking: no writable cgroup2 ({why}); using process groups");
            None
        }
    }
}

/// The memfd number `reexec` left in the environment, removed from it so
/// that no child inherits the variable.
fn take_handover_fd() -> Option<i32> {
    take_env_fd(ENV_HANDOVER)
}

/// A descriptor number `reexec` left in the environment variable `name`,
/// removed from it so that no child inherits the variable.
fn take_env_fd(name: &str) -> Option<i32> {
    let fd = std::env::var(name).ok()?.parse().ok();
    // SAFETY: no other thread exists yet that could read the environment
    // (the runtime is single-threaded and has spawned nothing).
    unsafe { std::env::remove_var(name) };
    fd
}

/// The lifetime lock in an image started by `reexec`: the descriptor the
/// old image passed (made close-on-exec again at once, so no child gets
/// it), if it really is the lock file of our socket. An old image that
/// held no lock passed none: then the lock is taken now, as it is free
/// (no other daemon can hold it while this one serves the socket).
fn inherited_lock(fd: Option<i32>, socket: &Path) -> Option<DaemonLock> {
    use std::os::unix::fs::MetadataExt;
    let path = daemon_lock::lock_path(socket);
    if let Some(fd) = fd.filter(|fd| *fd > 2) {
        // Looked at before it is owned: a number that is not the lock is
        // left alone (not closed).
        // SAFETY: fstat on a plain number writes only into `st`; a number
        // that is not open gives EBADF.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        let open = unsafe { libc::fstat(fd, &mut st) } == 0;
        let same = open && std::fs::metadata(&path).is_ok_and(|m| (st.st_dev, st.st_ino) == (m.dev(), m.ino()));
        if same {
            // SAFETY: the descriptor is the lock file, passed through
            // execve for us alone.
            let lock = DaemonLock::inherited(unsafe { OwnedFd::from_raw_fd(fd) });
            if let Err(e) = lock.set_inherit(false) {
                tracing::warn!("cannot make the inherited lock {} close-on-exec: {e}", path.display());
            }
            return Some(lock);
        }
        tracing::warn!("descriptor {fd} handed over is not the lock {}; ignoring it", path.display());
    }
    match DaemonLock::try_acquire(socket) {
        Ok(Some(lock)) => {
            let _ = lock.record_pid();
            Some(lock)
        }
        Ok(None) => {
            tracing::error!(
                "the lock {} is held by another process (pid {:?})",
                path.display(),
                daemon_lock::holder_pid(socket)
            );
            None
        }
        Err(e) => {
            tracing::error!("cannot take the lock {}: {e}", path.display());
            None
        }
    }
}

/// What the start-up hands to the serving part of [`run`].
struct Started {
    listener: UnixListener,
    socket_file: SocketFile,
    runtime: Runtime,
    /// The `reexec` request's connection and what to tell it beyond
    /// "re-executed" (the new image of a reexec only).
    reply: Option<(OwnedFd, Vec<String>)>,
    positions: Vec<(String, u64)>,
    settings: Settings,
    /// The lock on SOCKET.lock, held from here until the socket file is
    /// removed at exit: while it is held, no other daemon touches the
    /// socket. `None` only when a new image could neither inherit nor
    /// take it (logged).
    lock: Option<DaemonLock>,
}

/// The settings from flags, environment and the file's directives, as a
/// daemon that starts (or restarts) resolves them.
fn resolve_settings(config: &Path, socket_flag: Option<&Path>, args: &DaemonOptions, d: &Directives) -> Settings {
    Settings {
        config: config.to_owned(),
        socket: resolve(socket_flag, s::ENV_SOCKET, d.socket.as_deref(), s::DEFAULT_SOCKET),
        initstat: resolve(args.initstat.as_deref(), s::ENV_INITSTAT, d.initstat.as_deref(), s::DEFAULT_INITSTAT),
        state: resolve(args.state.as_deref(), s::ENV_STATE, d.state.as_deref(), s::DEFAULT_STATE),
        logdir: resolve(args.logdir.as_deref(), s::ENV_LOGDIR, d.logdir.as_deref(), s::DEFAULT_LOGDIR),
        log_max_bytes: args.log_max_bytes,
        timing: Timing {
            respawn_pause: args.respawn_pause,
            term_after: args.term_after,
            kill_after: args.kill_after,
            ready_timeout: args.ready_timeout,
            ..Timing::default()
        },
        cgroup: None,
    }
}

/// A daemon with nothing handed over: the file on disk must be valid; the
/// socket is bound; the state file's levels are restored and what a
/// previous daemon left running is adopted or stopped.
async fn fresh_start(
    config_path: &Path,
    on_disk: Result<Inittab, ConfigErrors>,
    socket_flag: Option<&Path>,
    args: &DaemonOptions,
) -> Result<Started, Failure> {
    let (config, said) = match on_disk {
        Ok(config) => (config, Vec::new()),
        Err(errors) => kept_in_force(config_path, &errors, socket_flag, args)?,
    };
    let d = &config.directives;
    let mut settings = resolve_settings(config_path, socket_flag, args, d);
    settings.cgroup = find_cgroup_root(args.cgroup.as_deref(), d.cgroup.as_deref(), &settings.socket);
    let (lock, listener, socket_file) =
        server::bind(&settings.socket).await.map_err(|e| Failure::new(e.to_string()))?;
    tracing::info!(
        "isinit {} pid {}: {} groups from {} (sha256 {}), socket {}",
        env!("CARGO_PKG_VERSION"),
        std::process::id(),
        config.groups().len(),
        config_path.display(),
        &config.sha256[..12],
        settings.socket.display()
    );
    let mut runtime = Runtime::new(settings.clone(), config);
    if !said.is_empty() {
        runtime.notice_on_takeover(said.join("\n"));
    }
    runtime.enable_cgroups();
    let found = runtime.leftovers();
    let strays = runtime.restore(found);
    runtime.apply_limits();
    stop_leftovers(&settings, strays).await;
    Ok(Started { listener, socket_file, runtime, reply: None, positions: Vec::new(), settings, lock: Some(lock) })
}

/// A restart after a crash with an invalid file on disk (SPEC §15): the
/// isinittab the daemon before had in force, kept beside its state file,
/// with the file's errors to report as `reload` reports them. Without such
/// a copy (a first start, or one after a clean shutdown) the file's
/// errors refuse the start: there is nothing in force to keep.
fn kept_in_force(
    config_path: &Path,
    errors: &ConfigErrors,
    socket_flag: Option<&Path>,
    args: &DaemonOptions,
) -> Result<(Inittab, Vec<String>), Failure> {
    let refused = |why: String| Failure {
        reason: format!(
            "invalid isinittab {}: {} error(s), not starting ({why})",
            config_path.display(),
            errors.0.len()
        ),
        details: errors.lines(),
    };
    // The file's valid lines still say where its state file is.
    let bytes = std::fs::read(config_path).unwrap_or_default();
    let (partial, _) = isinit_shared::config::parse_lenient(config_path, &bytes);
    let state = resolve_settings(config_path, socket_flag, args, &partial.directives).state;
    let kept = in_force::load(&state, config_path).map_err(|e| refused(e.to_string()))?;
    let reason = format!(
        "invalid isinittab: {} error(s), the isinittab in force before the restart ({}) is kept",
        errors.0.len(),
        kept.sha256.get(..12).unwrap_or_default()
    );
    tracing::error!("{reason}:\n{}", errors.lines().join("\n"));
    let mut said = vec![reason];
    said.extend(errors.lines());
    Ok((kept, said))
}

/// The new image of a `reexec`: the inherited listener, the state and the
/// settings in force, whatever the file on disk says now. An invalid file
/// is reported (log, notices, the reexec's reply) as `reload` reports it,
/// and left for the next `reload` or `tell` to try again. The error is why
/// the handover cannot be used; the caller then starts as after a crash.
fn carry_on(
    mut h: Handover,
    handed: Option<HandedSettings>,
    handed_lock: Option<i32>,
    config_path: &Path,
    on_disk: &Result<Inittab, ConfigErrors>,
    socket_flag: Option<&Path>,
    args: &DaemonOptions,
) -> Result<Started, String> {
    let settings = match handed {
        Some(hs) => Settings {
            socket: hs.socket,
            initstat: hs.initstat,
            state: hs.state,
            logdir: hs.logdir,
            cgroup: hs.cgroup.map(|(path, own)| crate::cgroup::Root { path, own }),
            ..resolve_settings(config_path, socket_flag, args, &Directives::default())
        },
        // From an image of handover version 1: resolved again as it did,
        // from the file's directives while the file is valid.
        None => {
            let d = on_disk.as_ref().map(|c| c.directives.clone()).unwrap_or_default();
            let mut settings = resolve_settings(config_path, socket_flag, args, &d);
            settings.cgroup = find_cgroup_root(args.cgroup.as_deref(), d.cgroup.as_deref(), &settings.socket);
            settings
        }
    };
    let mut said = Vec::new();
    if let Err(errors) = on_disk {
        let reason = format!(
            "invalid isinittab: {} error(s), the isinittab in force ({}) is kept",
            errors.0.len(),
            &h.config_sha256.get(..12).unwrap_or_default()
        );
        said.push(reason);
        said.extend(errors.lines());
    }
    // SAFETY: the descriptor was passed through execve for us alone.
    let std_listener = unsafe { std::os::unix::net::UnixListener::from_raw_fd(h.listener_fd) };
    let fail = |e: std::io::Error| format!("cannot take over the listening socket: {e}");
    handover::set_cloexec(&std_listener, true).map_err(fail)?;
    std_listener.set_nonblocking(true).map_err(fail)?;
    let listener = UnixListener::from_std(std_listener).map_err(fail)?;
    let socket_file = SocketFile::existing(&settings.socket);
    let lock = inherited_lock(handed_lock, &settings.socket);
    let positions = std::mem::take(&mut h.output);
    let (mut runtime, reply) = Runtime::from_handover(settings.clone(), h)?;
    if !said.is_empty() {
        runtime.notice_on_takeover(said.join("\n"));
    }
    let reply = reply.map(|conn| (conn, said));
    Ok(Started { listener, socket_file, runtime, reply, positions, settings, lock })
}

/// Closes every descriptor the image inherited through `execve` (all that
/// lack close-on-exec: the old listener, the reexec's connection, the
/// memfd), so that a new image which cannot use its handover starts like
/// a restarted daemon: the socket is then free to be bound again.
fn close_inherited_fds() {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else { return };
    let fds: Vec<i32> = dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).filter(|fd| *fd > 2).collect();
    for fd in fds {
        // SAFETY: F_GETFD on a number; close only of descriptors without
        // close-on-exec, which nothing in this image has opened (the
        // standard library and tokio open all theirs close-on-exec).
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags >= 0 && flags & libc::FD_CLOEXEC == 0 {
                libc::close(fd);
            }
        }
    }
}

/// Stops what a previous daemon on this socket left running that was not
/// adopted (see `runtime::leftovers`), before any request can start an
/// entry again.
async fn stop_leftovers(settings: &Settings, leftovers: Vec<leftovers::Leftover>) {
    if leftovers.is_empty() {
        return;
    }
    let names: Vec<String> = leftovers.iter().map(|l| format!("{} (pid {})", l.tag, l.pid)).collect();
    tracing::warn!(
        "{} processes of a previous daemon on {} are still running; stopping them: {}",
        leftovers.len(),
        settings.socket.display(),
        names.join(", ")
    );
    match leftovers::stop(&leftovers, settings.timing).await {
        0 => tracing::info!("previous daemon's processes stopped"),
        n => tracing::error!("{n} processes of the previous daemon survived SIGKILL"),
    }
}
