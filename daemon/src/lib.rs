//! The isinit daemon and the `isinit` command line.
//!
//! `main.rs` is wiring only; the work lives here:
//! - [`supervisor`]: the pure group/process state machines;
//! - [`runtime`]: the one task that owns the supervisor, plus spawning,
//!   reaping, output capture and the status file (the I/O edge);
//! - [`server`]: the control socket — listener, connections, one handler
//!   per request;
//! - [`cli`]: the client subcommands;
//! - [`notify`]: readiness and status for systemd (sd_notify);
//! - [`metrics`]: the Prometheus text format and its HTTP listener.

#![warn(missing_docs)]

pub mod cli;
pub mod daemon;
pub mod metrics;
pub mod notify;
pub mod pidwait;
pub mod runtime;
pub mod server;
pub mod supervisor;
