//! Reaching isinit daemons: everything that opens a socket or an ssh
//! session to one, shared by the command line (`isinit-cli`), the console
//! (`isinit-tui`) and, for frames and the socket's lock, the daemon.
//!
//! - [`Client`] (async) and [`blocking`]: one conversation with a daemon,
//!   every step under a deadline (STYLE.md trap 14);
//! - [`frame`]: messages over an async socket, bounded before allocation;
//! - [`transport`]: a daemon's UNIX socket here, or `ssh DEST isinit
//!   bridge` to another host;
//! - [`fleet`]: many hosts — host sets in ClusterShell syntax;
//! - [`daemon_lock`]: the lock that proves whether a daemon lives on a
//!   socket; [`held`]: the OCF agent's marks that keep a stopped group
//!   stopped across daemon restarts; [`pidwait`]: waiting for a process to end without polling.

#![warn(missing_docs)]

mod client;
pub mod daemon_lock;
pub mod fleet;
pub mod frame;
pub mod held;
pub mod pidwait;
pub mod transport;

pub use client::*;
