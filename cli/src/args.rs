//! clap definitions for `isinit`.

use clap::{Arg, ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use isinit_client::fleet::rollout::Batch;
use isinit_client::fleet::{HostSet, HostSetError};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The longest delay a flag accepts: one day. Longer makes no sense for a
/// respawn pause or a stop escalation, and a bound keeps every deadline the
/// daemon computes far from the end of the clock (issue 6, defect 3b).
pub const MAX_DELAY: Duration = Duration::from_secs(24 * 60 * 60);

/// Parses a delay flag: plain seconds (`5`, `0.25`) or a duration with
/// units (`500ms`, `2m`, `1h 30m`, by `humantime`), up to [`MAX_DELAY`];
/// refused at start-up with a clear reason otherwise.
pub fn delay(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    let d = if trimmed.ends_with(|c: char| c.is_ascii_alphabetic()) {
        // `nan` and `inf` end in letters too, and are no duration.
        humantime::parse_duration(trimmed).map_err(|e| format!("`{text}` is not a duration ({e})"))?
    } else {
        let secs: f64 = trimmed.parse().map_err(|_| format!("`{text}` is not a number of seconds"))?;
        if !secs.is_finite() || secs < 0.0 {
            return Err(format!("`{text}` is not a non-negative number of seconds"));
        }
        if secs > MAX_DELAY.as_secs_f64() {
            return Err(format!("`{text}` seconds is more than the limit of {} (one day)", MAX_DELAY.as_secs()));
        }
        Duration::try_from_secs_f64(secs).map_err(|_| format!("`{text}` is not a number of seconds"))?
    };
    if d > MAX_DELAY {
        return Err(format!("`{text}` is more than the limit of {} seconds (one day)", MAX_DELAY.as_secs()));
    }
    Ok(d)
}

/// Parses a delay that must not be zero (`--ready-timeout`: a zero deadline
/// would restart every `notify` process before it could answer).
pub fn positive_delay(text: &str) -> Result<Duration, String> {
    match delay(text)? {
        d if d.is_zero() => Err(format!("`{text}` must be more than 0 seconds")),
        d => Ok(d),
    }
}

/// A cluster-wide init
///
/// One isinittab says which commands make up each resource group at each
/// runlevel; the daemon supervises them and `tell` switches a group between
/// levels.
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
    /// How long a client command waits for the daemon's answer before it
    /// gives up (seconds, or `500ms`, `2m`) [default: 10; `shutdown --wait`: 60 for the daemon to exit]
    #[arg(long, global = true, env = "ISINIT_TIMEOUT", value_name = "DURATION", value_parser = positive_delay)]
    pub timeout: Option<Duration>,
    /// Which hosts, and how to fan out to them.
    #[command(flatten)]
    pub fleet: FleetArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Cmd,
}

/// Checks a host set's syntax as the command line is read, so a malformed
/// set (or a host starting with `-`) is a usage error before anything
/// runs; `@NAME` groups are looked up later, in the hosts file.
fn host_set(text: &str) -> Result<String, HostSetError> {
    HostSet::parse(text, &|_| Some(Vec::new()))?;
    Ok(text.to_string())
}

/// `--fanout`: a positive number of sessions.
fn fanout(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("`{text}` is not a positive number of ssh sessions")),
    }
}

/// The flags that pick hosts and say how to reach them (SPEC §16); global,
/// so they are accepted before or after the subcommand.
#[derive(Debug, Clone, Args)]
pub struct FleetArgs {
    /// Run on the hosts of SET through `ssh -- DEST isinit bridge`
    /// (repeatable; ClusterShell syntax: `web[01-40]`, `r[1-2]n[1-3]`,
    /// comma lists, `@GROUP` of the hosts file, `@all`; a host starting
    /// with `-` is refused). Applies to status, tell, reload, logs, ps, analyze,
    /// shutdown, restart, retry, signal, drift and hosts.
    #[arg(short = 'H', long = "host", global = true, value_name = "SET", value_parser = host_set)]
    pub hosts: Vec<String>,
    /// Leave out the hosts of SET (repeatable; same syntax as -H).
    #[arg(short = 'x', long = "exclude", global = true, value_name = "SET", value_parser = host_set)]
    pub exclude: Vec<String>,
    /// The hosts file: one set a line, `#` comments, `[NAME]` starts group
    /// NAME. Without -H, every host it names; with -H, only its groups
    /// [env: ISINIT_HOSTS]
    #[arg(long = "hosts", global = true, value_name = "FILE")]
    pub hosts_file: Option<PathBuf>,
    /// At most N ssh sessions at once; the other hosts wait for a slot
    /// (short: `-f N`, except after `logs`, where -f is --follow).
    #[arg(long, global = true, env = "ISINIT_FANOUT", value_name = "N", default_value = "64", value_parser = fanout)]
    pub fanout: usize,
    /// How long reaching one host (ssh and the daemon's hello) may take,
    /// apart from --timeout for the command (seconds, or `500ms`).
    #[arg(
        long,
        global = true,
        env = "ISINIT_CONNECT_TIMEOUT",
        value_name = "DURATION",
        default_value = "5",
        value_parser = positive_delay
    )]
    pub connect_timeout: Duration,
    /// Print hosts whose output and exit status are identical once, under
    /// a `SET (N)` header (`clush -b` style); `hosts --fold`: one folded set.
    #[arg(short = 'b', long = "fold", global = true)]
    pub fold: bool,
    /// Write the hosts that failed or could not be reached to FILE, one a
    /// line, for a retry with `--hosts FILE`.
    #[arg(long, global = true, value_name = "FILE")]
    pub failed_to: Option<PathBuf>,
}

/// The id of the hidden `-f N` that stands for `--fanout N`.
const FANOUT_SHORT: &str = "fanout_short";
/// The one subcommand whose `-f` is its own (`logs -f`: follow).
const F_IS_FOLLOW: &str = "logs";

/// The `-f N` short for `--fanout N`. `--fanout` is global, so clap puts
/// it into every subcommand, and a global short may not also be a
/// subcommand's (`logs -f` means follow). So `--fanout` stays long, and
/// this hidden `-f` is declared on the top level and on every subcommand
/// but `logs`; [`Cli::from_matches`] folds it into `fleet.fanout`.
fn fanout_short() -> Arg {
    Arg::new(FANOUT_SHORT).short('f').value_name("N").value_parser(fanout).hide(true)
}

impl Cli {
    /// The command line's definition: the derived one plus the `-f` of
    /// [`fanout_short`]. Parsing, `--help`, the man page and completions
    /// all use this one.
    pub fn definition() -> clap::Command {
        let mut command = Cli::command().arg(fanout_short());
        let names: Vec<String> =
            command.get_subcommands().map(|s| s.get_name().to_string()).filter(|name| name != F_IS_FOLLOW).collect();
        for name in names {
            command = command.mut_subcommand(name, |s| s.arg(fanout_short()));
        }
        command
    }

    /// Parses the process's arguments; a usage error exits 2 with clap's
    /// message, as `Cli::parse` does.
    pub fn parse_args() -> Cli {
        Cli::definition().try_get_matches().and_then(|m| Cli::from_matches(&m)).unwrap_or_else(|e| e.exit())
    }

    /// Parses `args` (the program name first), for tests.
    pub fn try_parse_args<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        Cli::from_matches(&Cli::definition().try_get_matches_from(args)?)
    }

    /// The derived `Cli` from `matches`, with a `-f N` (after the
    /// subcommand, else before it) as the fan-out.
    fn from_matches(matches: &ArgMatches) -> Result<Cli, clap::Error> {
        let mut cli = Cli::from_arg_matches(matches)?;
        let short = |m: &ArgMatches| m.try_get_one::<usize>(FANOUT_SHORT).ok().flatten().copied();
        let after = matches.subcommand().and_then(|(_, sub)| short(sub));
        if let Some(n) = after.or_else(|| short(matches)) {
            cli.fleet.fanout = n;
        }
        Ok(cli)
    }
}

/// `tell … --batch`: a rolling switch over the hosts (SPEC §16).
#[derive(Debug, Clone, Args)]
pub struct RolloutArgs {
    /// Switch the hosts in waves of N hosts, or of P% of them (`25%`, at
    /// least one); each wave must be healthy before the next is told.
    #[arg(long, value_name = "N|P%")]
    pub batch: Option<Batch>,
    /// How long every respawn entry of LEVEL must run without a restart,
    /// the group DONE or PASSED, for a host to count as healthy.
    #[arg(long, value_name = "DURATION", default_value = "5", value_parser = delay, requires = "batch")]
    pub healthy_for: Duration,
    /// Stop after the wave in which more than N hosts have failed in all.
    #[arg(long, value_name = "N", default_value_t = 0, requires = "batch")]
    pub max_fail: usize,
    /// When the rollout stops, tell every host of the failing wave back
    /// to the level it had.
    #[arg(long, requires = "batch")]
    pub revert: bool,
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
    /// Internal: run by a daemon before `reexec`, as the new binary, to
    /// prove it can read the state handed to it on stdin. Exits 0 if so.
    #[command(hide = true, name = "handover-check")]
    HandoverCheck,
    /// Join stdin/stdout to the daemon's socket, unchanged both ways: what
    /// `isinit -H HOST` and `isinit-tui -H HOST` run on HOST through ssh.
    Bridge,
    /// Compare the isinittab every host runs (one line per host, then a
    /// unified diff of each minority version against the majority's);
    /// without -H, the local daemon's running file against the file on
    /// disk. Exit 0 when all agree, 1 on drift, 2 when a host could not be
    /// asked.
    Drift,
    /// Print the hosts that -H, -x and the hosts file select, one a line,
    /// in order, each once (`--fold`: as one folded set).
    Hosts,
    /// `isinit GROUP LEVEL`: IS::Init's own command line ("called like init
    /// and telinit, with a resource-group argument"), the same as `isinit
    /// tell GROUP LEVEL`. A group named like a subcommand needs `tell`.
    #[command(external_subcommand)]
    Telinit(Vec<String>),
}

impl Cmd {
    /// The `tell` that `isinit GROUP LEVEL` means; any other command as it
    /// is. A word that is no subcommand, not followed by exactly one LEVEL,
    /// is refused with a reason (a typo of a subcommand lands here).
    pub fn resolve_telinit(self) -> Result<Cmd, String> {
        match self {
            Cmd::Telinit(words) => match <[String; 2]>::try_from(words) {
                Ok([group, level]) => Ok(Cmd::Client(ClientCmd::Tell {
                    group,
                    level,
                    dry_run: false,
                    force: false,
                    rollout: RolloutArgs::none(),
                })),
                Err(words) => Err(format!(
                    "unrecognized subcommand '{}' (`isinit GROUP LEVEL` is `isinit tell GROUP LEVEL`; see `isinit --help`)",
                    words.first().map(String::as_str).unwrap_or_default()
                )),
            },
            other => Ok(other),
        }
    }
}

impl RolloutArgs {
    /// No rollout: `isinit GROUP LEVEL` tells at once.
    pub fn none() -> RolloutArgs {
        RolloutArgs { batch: None, healthy_for: Duration::from_secs(5), max_fail: 0, revert: false }
    }
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
        /// Only print what would stop, keep running and start (with
        /// --batch: the waves).
        #[arg(long)]
        dry_run: bool,
        /// Tell a group a cluster manager owns (`status` shows
        /// `pacemaker:RESOURCE@NODE`) anyway; its manager will see the
        /// group at a level it did not ask for.
        #[arg(long)]
        force: bool,
        /// A rolling switch over the hosts.
        #[command(flatten)]
        rollout: RolloutArgs,
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
    /// Re-execute the daemon's binary in place (e.g. after an upgrade):
    /// same pid, same socket, every process kept running. If the new binary
    /// cannot take over, the daemon carries on and this fails with why.
    Reexec,
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
    /// Print a tag's recent output, or with -g every tag of a group
    /// interleaved in time order, each line `TAG | text`.
    Logs {
        /// The entry whose output to print.
        #[arg(required_unless_present = "group", conflicts_with = "group")]
        tag: Option<String>,
        /// Every tag of this group instead, one merged log.
        #[arg(short = 'g', long, value_name = "GROUP")]
        group: Option<String>,
        /// How many lines.
        #[arg(short = 'n', long, default_value_t = 200)]
        lines: u32,
        /// Keep printing new output until interrupted.
        #[arg(short, long)]
        follow: bool,
        /// With -g: start each line with when the daemon read it (UTC).
        #[arg(short = 't', long)]
        timestamps: bool,
        /// With -g: only lines read at most this long ago (`90s`, `5m`).
        #[arg(long, value_name = "DURATION", value_parser = delay)]
        since: Option<Duration>,
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
    /// Print the daemon's metrics in the Prometheus text format (the same
    /// as `daemon --metrics-listen` serves at /metrics).
    Metrics,
    /// Print every live process of each entry as a tree: `GROUP TAG PID
    /// PPID RSS CPU% COMMAND`, the main process first, its children
    /// indented; a process of the entry's cgroup that is not a descendant
    /// of the main one is marked `(stray)`. CPU% is over each process's
    /// lifetime, as ps(1) computes it.
    Ps {
        /// Only this group's entries, or only this entry.
        #[arg(value_name = "GROUP|TAG")]
        name: Option<String>,
        /// Print the entries and their processes as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the timeline of GROUP's last switch: each entry stopped and
    /// started with its offset from the tell and how long it took, what
    /// held it back, and the critical chain.
    Analyze {
        /// The resource group.
        group: String,
        /// Print the timeline as JSON (times in microseconds from the tell).
        #[arg(long)]
        json: bool,
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
    /// Where told levels are kept across daemon restarts [env: ISINIT_STATE]
    /// [default: `:::state:`, else /var/run/is/state]
    #[arg(long, value_name = "PATH")]
    pub state: Option<PathBuf>,
    /// The cgroup2 directory each entry's cgroup is made under, or `none`
    /// for process groups only [env: ISINIT_CGROUP] [default:
    /// `:::cgroup:`, else the daemon's own cgroup if delegated, else
    /// isinit-HASH under the cgroup2 mount]
    #[arg(long, value_name = "PATH")]
    pub cgroup: Option<PathBuf>,
    /// How long a respawn entry sleeps after starting too rapidly (0 to one
    /// day; seconds, or `500ms`, `2m`).
    #[arg(long, env = "ISINIT_RESPAWN_PAUSE", value_name = "DURATION", default_value = "60", value_parser = delay)]
    pub respawn_pause: Duration,
    /// Time between SIGINT and SIGTERM when stopping a process (0 to one
    /// day; seconds, or `500ms`, `2m`).
    #[arg(long, env = "ISINIT_TERM_AFTER", value_name = "DURATION", default_value = "5", value_parser = delay)]
    pub term_after: Duration,
    /// Time between SIGTERM and SIGKILL when stopping a process (0 to one
    /// day; seconds, or `500ms`, `2m`).
    #[arg(long, env = "ISINIT_KILL_AFTER", value_name = "DURATION", default_value = "10", value_parser = delay)]
    pub kill_after: Duration,
    /// How long a `notify` entry has to report READY=1 (sd_notify) before it
    /// is stopped and started again (more than 0, at most one day; seconds,
    /// or `500ms`, `2m`).
    #[arg(long, env = "ISINIT_READY_TIMEOUT", value_name = "DURATION", default_value = "90", value_parser = positive_delay)]
    pub ready_timeout: Duration,
    /// Rotate a tag's output file once it exceeds this many bytes.
    #[arg(long, env = "ISINIT_LOG_MAX_BYTES", value_name = "BYTES", default_value_t = 4 * 1024 * 1024)]
    pub log_max_bytes: u64,
    /// Serve Prometheus metrics at http://ADDR:PORT/metrics (off unless
    /// given; e.g. 127.0.0.1:9717).
    #[arg(long, env = "ISINIT_METRICS_LISTEN", value_name = "ADDR:PORT")]
    pub metrics_listen: Option<SocketAddr>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn fleet_flags_go_before_or_after_the_subcommand() {
        let before = Cli::try_parse_from(["isinit", "-H", "web[1-2]", "-x", "web2", "--fanout", "3", "-b", "status"]);
        let after = Cli::try_parse_from(["isinit", "status", "-H", "web[1-2]", "-x", "web2", "--fanout=3", "--fold"]);
        for cli in [before.unwrap(), after.unwrap()] {
            assert_eq!((cli.fleet.hosts, cli.fleet.exclude), (vec!["web[1-2]".to_string()], vec!["web2".to_string()]));
            assert_eq!((cli.fleet.fanout, cli.fleet.fold), (3, true));
        }
        let e = Cli::try_parse_from(["isinit", "-H", "web[1-", "status"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("bad host set"), "{e}");
        assert!(Cli::try_parse_from(["isinit", "status", "--fanout", "0"]).is_err());
        let cli = Cli::try_parse_from(["isinit", "tell", "web", "2", "-H", "w[1-9]", "--batch", "25%", "--revert"]);
        let Cmd::Client(ClientCmd::Tell { rollout, .. }) = cli.unwrap().command else { panic!("not a tell") };
        assert_eq!((rollout.batch, rollout.revert), (Some(Batch::Percent(25)), true));
        assert!(Cli::try_parse_from(["isinit", "tell", "web", "2", "--revert"]).is_err(), "--revert needs --batch");
    }

    #[test]
    fn dash_f_is_the_fanout_except_after_logs() {
        for args in [
            &["isinit", "-f", "3", "status"][..],
            &["isinit", "-f3", "status"],
            &["isinit", "status", "-f", "3"],
            &["isinit", "status", "-bf", "3"],
            &["isinit", "tell", "web", "2", "-H", "w[1-9]", "--batch", "2", "-f=3"],
            &["isinit", "-f", "3", "logs", "cf"],
            &["isinit", "logs", "cf", "--fanout", "3"],
            &["isinit", "hosts", "-f", "3"],
        ] {
            let cli = Cli::try_parse_args(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
            assert_eq!(cli.fleet.fanout, 3, "{args:?}");
        }
        let cli = Cli::try_parse_args(["isinit", "status"]).unwrap();
        assert_eq!(cli.fleet.fanout, 64, "the default");
        // After `logs`, -f is --follow and takes no value.
        let cli = Cli::try_parse_args(["isinit", "-f", "5", "logs", "cf", "-f"]).unwrap();
        let Cmd::Client(ClientCmd::Logs { follow, .. }) = cli.command else { panic!("not logs") };
        assert!(follow);
        assert_eq!(cli.fleet.fanout, 5);
        assert!(Cli::try_parse_args(["isinit", "status", "-f", "0"]).is_err(), "a positive number");
        assert!(Cli::try_parse_args(["isinit", "logs", "cf", "-f", "3"]).is_err(), "3 is a second tag");
        Cli::definition().debug_assert();
    }

    #[test]
    fn timeouts_are_bounded_positive_seconds() {
        assert_eq!(positive_delay("0.25"), Ok(Duration::from_millis(250)));
        assert_eq!(positive_delay("10"), Ok(Duration::from_secs(10)));
        assert_eq!(positive_delay("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(delay("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(delay("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(delay("0s"), Ok(Duration::ZERO));
        for bad in ["0ms", "2 parsecs", "25h", "1d 1s"] {
            assert!(positive_delay(bad).is_err(), "{bad}");
        }
        for bad in ["0", "-1", "nan", "inf", "1e19", "86401", "ten", ""] {
            assert!(positive_delay(bad).is_err(), "{bad}");
        }
    }
}
