//! End-to-end test support for isinit: the real `isinit` binary, started as a
//! daemon in a private temporary directory, driven through its command line
//! and its socket, supervising real child processes.
//!
//! The helpers are split the way pueue splits its test helpers:
//!
//! - [`fixtures`] starts and tears down daemons ([`fixtures::TestDaemon`]),
//!   runs the command line with a deadline, and finds the binaries;
//! - [`wait`] polls for a condition with a deadline and a panic message that
//!   says what was last seen — tests wait on state, never on fixed sleeps;
//! - [`asserts`] checks processes and process groups from the outside;
//! - [`ocf`] runs the OCF resource agent as Pacemaker would, and
//!   installs it where Pacemaker looks;
//! - [`pacemaker`] starts a one-node Corosync/Pacemaker cluster;
//! - [`ssh`] puts daemons behind real OpenSSH servers, for `-H`;
//! - [`procfs`] reads `/proc`, which is how a test sees what a daemon's
//!   children really are (parents, process groups, signal dispositions).
//!
//! Every test gets its own directory, socket and daemon, so tests run in
//! parallel, and every daemon's children carry a marker in their environment
//! so that a test that fails half-way still leaves no process behind.

#![warn(missing_docs)]

pub mod asserts;
pub mod cgroup;
pub mod fixtures;
pub mod ocf;
pub mod pacemaker;
pub mod procfs;
pub mod services;
pub mod ssh;
pub mod wait;

pub use fixtures::{Cli, TestDaemon};
pub use wait::{DEADLINE, wait_for, wait_until};
