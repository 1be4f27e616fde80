//! What the command line and the console share for many hosts.

pub mod hostset;

pub use hostset::{HostSet, HostSetError, HostsFile};
