//! The isinit daemon: the I/O edge of the supervisor (`isinit-core`).
//!
//! - [`runtime`]: the one task that owns the supervisor and carries out
//!   its effects — spawning, reaping, output capture, the state and status
//!   files, adoption after a crash, `reexec`;
//! - [`server`]: the control socket — listener, connections, one handler
//!   per request;
//! - [`cgroup`]: one cgroup v2 per entry, limits, the watch on emptiness;
//! - [`notify`]: the sd_notify protocol to systemd; [`report`]: the task
//!   that says `READY=1` once the socket answers and keeps `STATUS=`
//!   current;
//! - [`metrics`]: the Prometheus listener;
//! - [`daemon`]: start-up wiring, from [`DaemonOptions`] to a running
//!   runtime and server.
//!
//! The command line (`isinit-cli`) is never a dependency: the `isinit`
//! binary hands `isinit daemon`'s flags over as [`DaemonOptions`].

#![warn(missing_docs)]

pub mod cgroup;
pub mod daemon;
pub mod host_limits;
pub mod liveness;
mod log_file;
pub mod metrics;
pub mod notify;
mod options;
pub mod report;
pub mod runtime;
pub mod server;

/// Runs the daemon's future on a current-thread runtime (see
/// [`isinit_client::block_on`]).
pub use isinit_client::block_on;
pub use options::{DaemonOptions, Failure};
