//! clap definitions for `isinit`.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// isinit: a cluster-wide init. One isinittab says which commands make up
/// each resource group at each runlevel; the daemon supervises them and
/// `tell` switches a group between levels.
#[derive(Debug, Parser)]
#[command(name = "isinit", version, propagate_version = true)]
pub struct Cli {
    /// The isinittab [env: ISINIT_CONFIG] [default: /etc/isinittab]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// The control socket [env: ISINIT_SOCKET] [default: `:::socket:` of the
    /// isinittab, else /var/run/is/init.s]
    #[arg(long, global = true, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Run on this host through `ssh DEST isinit bridge` (repeatable; DEST
    /// goes to ssh verbatim). Applies to status, tell, reload, logs,
    /// shutdown, restart, retry, signal and drift.
    #[arg(short = 'H', long = "host", global = true, value_name = "DEST")]
    pub hosts: Vec<String>,
    /// Also run on every host listed in FILE (one DEST a line, `#`
    /// comments) [env: ISINIT_HOSTS, when no -H is given]
    #[arg(long = "hosts", global = true, value_name = "FILE")]
    pub hosts_file: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Cmd,
}

/// The subcommands of SPEC §8.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Run the daemon in the foreground (for systemd, an inittab respawn
    /// line, or `&`).
    Daemon(DaemonArgs),
    /// Everything that talks to a daemon (or only reads a file).
    #[command(flatten)]
    Client(ClientCmd),
    /// Act as the OCF resource agent ocf:isinit:group (run by Pacemaker
    /// through /usr/lib/ocf/resource.d/isinit/group; parameters from
    /// OCF_RESKEY_*). Answers with an OCF exit code.
    #[command(hide = true)]
    Ocf(OcfArgs),
    /// Join stdin/stdout to the daemon's socket, unchanged both ways: what
    /// `isinit -H HOST` and `isinit-tui -H HOST` run on HOST through ssh.
    Bridge,
    /// Compare the isinittab every host runs (one line per host, then a
    /// unified diff of each minority version against the majority's);
    /// without -H, the local daemon's running file against the file on
    /// disk. Exit 0 when all agree, 1 on drift, 2 when a host could not be
    /// asked.
    Drift,
}

/// The OCF agent's one argument.
#[derive(Debug, Args)]
pub struct OcfArgs {
    /// start, stop, monitor, promote, demote, validate-all, meta-data or usage.
    pub action: String,
}

/// The client subcommands.
#[derive(Debug, Subcommand)]
pub enum ClientCmd {
    /// Switch GROUP to LEVEL: stop its processes not in LEVEL, keep the
    /// shared ones, start the new ones. Returns once the switch has started.
    Tell {
        /// The resource group to switch.
        group: String,
        /// The level to switch it to (any label; `0` stops the group).
        level: String,
        /// Only print what would stop, keep running and start.
        #[arg(long)]
        dry_run: bool,
    },
    /// Print `GROUP LEVEL STATE` lines (with GROUP: that group and its
    /// processes).
    Status {
        /// Only this group, with its processes.
        group: Option<String>,
        /// Print the daemon's full snapshot as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Re-read the isinittab and adopt it; an invalid file changes nothing.
    Reload,
    /// Stop every process gracefully and end the daemon.
    Shutdown {
        /// Return only once the daemon has exited.
        #[arg(long)]
        wait: bool,
    },
    /// Validate an isinittab; errors are printed as PATH:LINE: message.
    Check {
        /// The file to check [default: the resolved --config].
        path: Option<PathBuf>,
    },
    /// Print a tag's recent output.
    Logs {
        /// The entry whose output to print.
        tag: String,
        /// How many lines.
        #[arg(short = 'n', long, default_value_t = 200)]
        lines: u32,
        /// Keep printing new output until interrupted.
        #[arg(short, long)]
        follow: bool,
    },
    /// Stop a process gracefully (SIGINT, then SIGTERM, then SIGKILL to its
    /// process group) and start it again. Returns once the new process runs.
    Restart {
        /// The entry to restart; it must be in its group's current level.
        tag: String,
    },
    /// Start a respawn entry that is throttled (in backoff) now, resetting
    /// its throttle count. Returns once the new process runs.
    Retry {
        /// The entry in backoff.
        tag: String,
    },
    /// Send a signal to the process group of an entry's process.
    Signal {
        /// The entry whose process group gets the signal.
        tag: String,
        /// A signal name (HUP, SIGHUP, usr1…) or number.
        signal: String,
    },
}

/// Settings only the daemon takes.
#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// The status file [env: ISINIT_INITSTAT] [default: `:::initstat:`, else
    /// /var/run/is/initstat]
    #[arg(long, value_name = "PATH")]
    pub initstat: Option<PathBuf>,
    /// Where each process's output is kept [env: ISINIT_LOGDIR] [default:
    /// `:::logdir:`, else /var/log/isinit]
    #[arg(long, value_name = "DIR")]
    pub logdir: Option<PathBuf>,
    /// The daemon's own log file, besides stderr [default: `:::log:`]
    #[arg(long, value_name = "PATH")]
    pub log: Option<PathBuf>,
    /// Seconds a respawn entry sleeps after starting too rapidly.
    #[arg(long, env = "ISINIT_RESPAWN_PAUSE", value_name = "SECS", default_value_t = 60.0)]
    pub respawn_pause: f64,
    /// Seconds between SIGINT and SIGTERM when stopping a process.
    #[arg(long, env = "ISINIT_TERM_AFTER", value_name = "SECS", default_value_t = 5.0)]
    pub term_after: f64,
    /// Seconds between SIGTERM and SIGKILL when stopping a process.
    #[arg(long, env = "ISINIT_KILL_AFTER", value_name = "SECS", default_value_t = 10.0)]
    pub kill_after: f64,
    /// Rotate a tag's output file once it exceeds this many bytes.
    #[arg(long, env = "ISINIT_LOG_MAX_BYTES", value_name = "BYTES", default_value_t = 4 * 1024 * 1024)]
    pub log_max_bytes: u64,
}
