//! The cgroup v2 file system as isinit uses it (SPEC §14): where the
//! entry cgroups live ([`discover`], `ROOT/GROUP/TAG` named by
//! [`encode`]), what is in one ([`procs`], [`populated`], [`read_usage`]),
//! and signalling everything in one ([`signal`]).
//!
//! A crate of its own because two roles need it: the daemon, which makes
//! the cgroups and starts children in them, and the OCF agent, which must
//! find and stop a group's processes when no daemon answers (SPEC §15) —
//! and the agent may never depend on the daemon's code.

#![warn(missing_docs)]

pub mod fs;
mod root;

pub use fs::{Usage, oom_kills, populated, procs, read_usage, signal};
pub use isinit_shared::file_name::{decode, encode};
pub use root::{Choice, Root, cgroup2_mount, default_name, discover};
