//! `isinit daemon`: resolve settings, take the socket, and run the runtime
//! and the server until shutdown.

use crate::cli::{DaemonArgs, Failure};
use crate::runtime::output::{Capture, OutputHub};
use crate::runtime::{Runtime, Settings, leftovers, reap};
use crate::server::{self, Context};
use crate::supervisor::Timing;
use isinit_shared::config::Inittab;
use isinit_shared::settings::{self as s, resolve};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::mpsc;

/// How many requests may queue for the runtime before handlers wait.
const COMMAND_QUEUE: usize = 1024;
/// How long exiting waits for connections to deliver their last replies.
const DRAIN_LIMIT: Duration = Duration::from_secs(2);

/// Runs the daemon in the foreground until it is shut down.
pub async fn run(config_flag: Option<&Path>, socket_flag: Option<&Path>, args: DaemonArgs) -> Result<(), Failure> {
    let config_path = s::config_path(config_flag);
    let config = Inittab::load(&config_path).map_err(|errors| Failure {
        reason: format!("invalid isinittab {}: {} error(s), not starting", config_path.display(), errors.0.len()),
        details: errors.lines(),
    })?;
    let d = config.directives.clone();
    let settings = Settings {
        config: config_path.clone(),
        socket: resolve(socket_flag, s::ENV_SOCKET, d.socket.as_deref(), s::DEFAULT_SOCKET),
        initstat: resolve(args.initstat.as_deref(), s::ENV_INITSTAT, d.initstat.as_deref(), s::DEFAULT_INITSTAT),
        logdir: resolve(args.logdir.as_deref(), s::ENV_LOGDIR, d.logdir.as_deref(), s::DEFAULT_LOGDIR),
        log_max_bytes: args.log_max_bytes,
        timing: Timing {
            respawn_pause: seconds("--respawn-pause", args.respawn_pause)?,
            term_after: seconds("--term-after", args.term_after)?,
            kill_after: seconds("--kill-after", args.kill_after)?,
            ..Timing::default()
        },
    };
    init_logging(args.log.or(d.log))?;
    if let Err(e) = reap::become_subreaper() {
        tracing::warn!("cannot become child subreaper ({e}); orphans of children will escape to init");
    }
    std::fs::create_dir_all(&settings.logdir)
        .map_err(|e| Failure::new(format!("cannot create log directory {}: {e}", settings.logdir.display())))?;
    let (listener, socket_file) = server::bind(&settings.socket).await.map_err(|e| Failure::new(e.to_string()))?;
    stop_leftovers(&settings).await;

    tracing::info!(
        "isinit {} pid {}: {} groups from {} (sha256 {}), socket {}",
        env!("CARGO_PKG_VERSION"),
        std::process::id(),
        config.groups().len(),
        config_path.display(),
        &config.sha256[..12],
        settings.socket.display()
    );
    let (logdir, log_max_bytes) = (settings.logdir.clone(), settings.log_max_bytes);
    let runtime = Runtime::new(settings, config);
    let (commands, rx) = mpsc::channel(COMMAND_QUEUE);
    let output = OutputHub::start(Capture {
        logdir,
        max_bytes: log_max_bytes,
        tags: runtime.output_tags(),
        notices: commands.clone(),
        positions: Vec::new(),
    })
    .map_err(|e| Failure::new(format!("cannot start output capture: {e}")))?;
    let (exiting_tx, exiting) = tokio::sync::watch::channel(false);
    let ctx = Context { commands, info: runtime.info(), output, own_uid: nix::unistd::geteuid().as_raw(), exiting };
    let slots = server::Slots::new();
    let serve = tokio::spawn(server::serve(listener, ctx, slots.clone()));
    let result = runtime.run(rx).await;
    serve.abort();
    socket_file.remove();
    exiting_tx.send_replace(true);
    slots.drain(DRAIN_LIMIT).await;
    tracing::info!("every process stopped; exiting");
    result.map_err(|e| Failure::new(format!("daemon failed: {e}")))
}

/// Stops what a previous daemon on this socket left running (see
/// `runtime::leftovers`), before any request can start an entry again.
async fn stop_leftovers(settings: &Settings) {
    let leftovers = leftovers::find(&settings.socket);
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

fn seconds(flag: &str, secs: f64) -> Result<Duration, Failure> {
    Duration::try_from_secs_f64(secs).map_err(|_| Failure::new(format!("{flag}: `{secs}` is not a number of seconds")))
}

/// Logs to stderr and, when configured, appends to the daemon log file.
fn init_logging(file: Option<PathBuf>) -> Result<(), Failure> {
    use tracing_subscriber::fmt::writer::MakeWriterExt;
    let filter = tracing_subscriber::EnvFilter::try_from_env("ISINIT_LOG_LEVEL")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    match file {
        Some(path) => {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| Failure::new(format!("cannot open log file {}: {e}", path.display())))?;
            builder.with_ansi(false).with_writer(std::io::stderr.and(std::sync::Mutex::new(f))).init();
        }
        None => builder.with_writer(std::io::stderr).init(),
    }
    Ok(())
}
