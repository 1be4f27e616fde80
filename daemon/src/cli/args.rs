//! clap definitions for `isinit`.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

/// The longest `--timeout` accepted: a day. Anything longer is a typo, and
/// a bound keeps deadline arithmetic from overflowing (STYLE.md trap 13).
const MAX_TIMEOUT_SECS: f64 = 86_400.0;

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
    /// Seconds a client command waits for the daemon's answer before it
    /// gives up [default: 10; `shutdown --wait`: 60 for the daemon to exit]
    #[arg(long, global = true, env = "ISINIT_TIMEOUT", value_name = "SECS", value_parser = parse_timeout)]
    pub timeout: Option<Duration>,
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

/// `--timeout`: positive seconds, fractions allowed, at most a day.
fn parse_timeout(text: &str) -> Result<Duration, String> {
    let secs: f64 = text.trim().parse().map_err(|_| format!("not a number of seconds: {text}"))?;
    if !(secs > 0.0 && secs <= MAX_TIMEOUT_SECS) {
        return Err(format!("must be more than 0 and at most {MAX_TIMEOUT_SECS} seconds"));
    }
    Duration::try_from_secs_f64(secs).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_bounded_positive_seconds() {
        assert_eq!(parse_timeout("0.25"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_timeout("10"), Ok(Duration::from_secs(10)));
        for bad in ["0", "-1", "nan", "inf", "1e19", "86401", "ten", ""] {
            assert!(parse_timeout(bad).is_err(), "{bad}");
        }
    }
}
