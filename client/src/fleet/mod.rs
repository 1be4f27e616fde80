//! What the command line and the console share for many hosts: host sets,
//! which hosts a command goes to, the fan-out window, and the pure rules
//! of a rolling switch.

pub mod hostset;
pub mod rollout;
pub mod select;
pub mod window;

pub use hostset::{HostSet, HostSetError, HostsFile};
pub use select::{SelectError, Selection};
pub use window::{HostError, Window};
