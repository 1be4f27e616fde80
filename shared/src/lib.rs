//! The vocabulary every part of isinit shares: the isinittab format
//! ([`config`]), the settings that locate a daemon's files ([`settings`]),
//! the control protocol's messages, codec and frame format ([`protocol`]),
//! and the metrics text made from a status snapshot ([`metrics`]).
//!
//! No async runtime, no libc and no process code: the pure supervisor
//! (`isinit-core`) builds on this crate, and Cargo keeps it pure because
//! nothing here could hand it those. Reaching a daemon — sockets, ssh,
//! clients — is `isinit-client`'s.

#![warn(missing_docs)]

pub mod config;
mod failure;
pub mod file_name;
#[cfg(feature = "generate")]
pub mod generate;
pub mod metrics;
pub mod protocol;
pub mod settings;
pub mod tag_index;
pub mod time;

pub use config::{ConfigError, ConfigErrors, Entry, Inittab, Mode};
pub use failure::Failure;
pub use protocol::*;
