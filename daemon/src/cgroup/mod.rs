//! Process tracking by cgroup v2 (SPEC §14).
//!
//! A process that calls `setsid()` leaves its process group, and with it
//! the reach of `killpg`. Its cgroup it cannot leave (without privileges
//! we do not give it), so where a writable cgroup2 hierarchy exists each
//! entry's processes are placed, before they exec, in `ROOT/GROUP/TAG`:
//! stop signals go to every process listed there, and the entry's
//! processes are gone when the kernel reports the cgroup unpopulated.
//!
//! The supervisor stays unaware of all this: it still speaks of process
//! groups, and the runtime maps each process group it started to the
//! cgroup it started it in ([`Tracker`]).

pub mod clone;
pub mod limits;
mod tracker;
mod watch;

pub use isinit_cgroup::{
    Choice, Root, Usage, cgroup2_mount, decode, default_name, discover, encode, fs, oom_kills, populated, procs,
    read_usage, signal,
};
pub use tracker::{Found, Tracker, open_for_clone, probe};
pub use watch::Watch;
