//! What the daemon is started with — its own type,
//! so that the daemon never depends on the command line's crate:
//! the `isinit` binary turns `isinit daemon`'s flags into
//! [`DaemonOptions`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The daemon's settings as given on its command line or in its
/// environment; `None` leaves a path to the isinittab's directive, else
/// the built-in default (SPEC §2 precedence, resolved in `daemon::run`).
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    /// The status file.
    pub initstat: Option<PathBuf>,
    /// The directory of per-process output files.
    pub logdir: Option<PathBuf>,
    /// The daemon's own log file, besides stderr.
    pub log: Option<PathBuf>,
    /// The state file.
    pub state: Option<PathBuf>,
    /// The cgroup2 directory entries' cgroups are made under, or `none`.
    pub cgroup: Option<PathBuf>,
    /// How long a respawn entry sleeps after starting too rapidly.
    pub respawn_pause: Duration,
    /// From SIGINT to SIGTERM when stopping a process.
    pub term_after: Duration,
    /// From SIGTERM to SIGKILL when stopping a process.
    pub kill_after: Duration,
    /// How long a `notify` entry has to report READY=1.
    pub ready_timeout: Duration,
    /// A tag's output file is rotated past this many bytes.
    pub log_max_bytes: u64,
    /// Where to serve Prometheus metrics over HTTP, if anywhere.
    pub metrics_listen: Option<SocketAddr>,
}

/// Why the daemon could not start or ended in failure: the same type the
/// command line fails with, so `main` prints both alike.
pub use isinit_shared::Failure;
