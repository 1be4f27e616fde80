//! `isinit-tui`: the operator console. Wiring only — the console itself is
//! the `isinit_tui` library.

use clap::{CommandFactory, Parser};
use color_eyre::eyre::{Context, Result, bail};
use isinit_client::fleet::window::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_FANOUT};
use isinit_client::fleet::{HostSet, HostSetError, Selection, Window, select};
use isinit_client::transport::{Endpoint, SshRoute};
use isinit_tui::app::App;
use isinit_tui::clock::TimeZone;
use isinit_tui::fleet::Fleet;
use isinit_tui::{client, event_loop, fleet_loop};
use std::io::IsTerminal;
use std::path::PathBuf;

/// The isinit operator console
///
/// Live view of every resource group, level and process of an isinit
/// daemon, with keys to switch levels and reload the isinittab.
///
/// Press ? inside for the keys. The console never changes anything by
/// itself: every switch is an explicit Enter in the level picker.
#[derive(Parser)]
#[command(name = "isinit-tui", version)]
struct Args {
    /// Control socket of the daemon [default: from ISINIT_SOCKET, the
    /// isinittab's :::socket: line, or /var/run/is/init.s]
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// The isinittab, read only to find its :::socket: line [default: from
    /// ISINIT_CONFIG or /etc/isinittab]
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Show times of day in UTC instead of the local time zone, e.g. to
    /// compare across a cluster spanning zones.
    #[arg(long)]
    utc: bool,
    /// Watch the hosts of SET through `ssh -- DEST isinit bridge`
    /// (repeatable; ClusterShell syntax as for `isinit -H`: `web[01-40]`,
    /// `@GROUP`, `@all`; a host starting with `-` is refused). With two or
    /// more, a fleet screen lists them; Enter opens one.
    #[arg(short = 'H', long = "host", value_name = "SET", value_parser = host_set)]
    hosts: Vec<String>,
    /// Leave out the hosts of SET (repeatable).
    #[arg(short = 'x', long = "exclude", value_name = "SET", value_parser = host_set)]
    exclude: Vec<String>,
    /// The hosts file: one set a line, `#` comments, `[NAME]` starts group
    /// NAME. Without -H, every host it names; with -H, only its groups
    /// [env: ISINIT_HOSTS]
    #[arg(long = "hosts", value_name = "FILE")]
    hosts_file: Option<PathBuf>,
    /// At most N ssh sessions starting at once (as `isinit -f/--fanout`).
    #[arg(short = 'f', long, env = "ISINIT_FANOUT", value_name = "N", default_value_t = DEFAULT_FANOUT)]
    fanout: usize,
    /// How long reaching one host (ssh and the daemon's hello) may take, in
    /// seconds.
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_CONNECT_TIMEOUT.as_secs_f64())]
    connect_timeout: f64,
}

/// A host set's syntax, checked as the command line is read (as `isinit`
/// does): a malformed set or a host starting with `-` is a usage error.
fn host_set(text: &str) -> Result<String, HostSetError> {
    HostSet::parse(text, &|_| Some(Vec::new()))?;
    Ok(text.to_string())
}

fn main() -> Result<()> {
    color_eyre::install()?;
    if let Some(request) = isinit_shared::generate::requested(std::env::args_os()) {
        return generate(request);
    }
    let args = Args::parse();
    // Before anything is drawn or any ssh started: a bad host (one that
    // starts with `-`, an ssh option in disguise) is a usage error, as a
    // bad `-H` is to clap.
    let selection =
        Selection { sets: args.hosts.clone(), exclude: args.exclude.clone(), file: args.hosts_file.clone() };
    let hosts = match selection.resolve_some().and_then(|set| set.map(|s| select::dests(&s)).transpose()) {
        Ok(hosts) => hosts.unwrap_or_default(),
        Err(e) if e.is_usage() => {
            eprintln!("isinit-tui: {e}");
            std::process::exit(2);
        }
        Err(e) => return Err(e.into()),
    };
    let connect_timeout = std::time::Duration::try_from_secs_f64(args.connect_timeout)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| color_eyre::eyre::eyre!("--connect-timeout must be a positive number of seconds"))?;
    let window = Window::new(args.fanout, connect_timeout);
    // One host: today's console over ssh; none: the local socket.
    let (endpoint, label) = match hosts.as_slice() {
        [one] => (Endpoint::Ssh(SshRoute::from_env(one)), PathBuf::from(one.as_str())),
        _ => {
            let socket = isinit_shared::settings::client_socket(args.socket.as_deref(), args.config.as_deref());
            (Endpoint::Socket(socket.clone()), socket)
        }
    };
    let tz = if args.utc { TimeZone::Utc } else { TimeZone::Local };
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        bail!("isinit-tui needs a terminal; for scripts use `isinit status` or `isinit status --json`");
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let client = (hosts.len() < 2).then(|| client::spawn(endpoint));
        // Installed after color-eyre's hook, so a panic restores the
        // terminal before the report is printed.
        let mut terminal = match ratatui::try_init() {
            Ok(t) => t,
            Err(e) => {
                ratatui::restore();
                return Err(e).context("cannot set up the terminal");
            }
        };
        let result = match client {
            Some(client) => event_loop::run(&mut terminal, App::new(label, tz), client).await,
            None => fleet_loop::run(&mut terminal, Fleet::new(&hosts, tz), window).await,
        };
        ratatui::restore();
        result
    })
}

/// What the SEE ALSO section of the man page names.
const SEE_ALSO: [&str; 2] = ["isinit(8)", "isinittab(5)"];

/// `isinit-tui --generate man|completions DIR` (for packaging): the man
/// page and completions come from the same `Args` as `--help`, so they
/// cannot drift from it. Prints the files written.
fn generate(request: Result<isinit_shared::generate::Request, String>) -> Result<()> {
    let request = match request {
        Ok(request) => request,
        Err(usage) => {
            // A usage error, not a crash: no report, no backtrace. Nothing
            // has started yet, so exiting here skips no cleanup.
            eprintln!("isinit-tui: {usage}");
            std::process::exit(2);
        }
    };
    let written = isinit_shared::generate::write(&request, Args::command(), "1", &SEE_ALSO)
        .with_context(|| format!("cannot write into {}", request.dir.display()))?;
    for path in written {
        println!("{}", path.display());
    }
    Ok(())
}
