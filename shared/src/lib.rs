//! Everything the isinit daemon, the `isinit` command line and the
//! `isinit-tui` console must agree on: the isinittab format, the settings
//! that locate the daemon, and the control protocol spoken over its socket.
//!
//! Nothing in this crate touches a terminal, and the only process it
//! starts is the ssh command of [`transport`] that reaches a remote daemon,
//! so both sides of the socket can depend on it without pulling in the
//! other's I/O.

#![warn(missing_docs)]

pub mod client;
pub mod config;
pub mod daemon_lock;
#[cfg(feature = "generate")]
pub mod generate;
pub mod held;
pub mod protocol;
pub mod settings;
pub mod time;
pub mod transport;

pub use client::{Client, ClientError};
pub use config::{ConfigError, ConfigErrors, Entry, Inittab, Mode};
pub use protocol::*;
