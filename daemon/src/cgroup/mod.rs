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
mod fs;
pub mod limits;
mod root;
mod tracker;
mod watch;

pub use fs::{Usage, populated, procs, read_usage, signal};
pub use root::{Choice, Root, cgroup2_mount, default_name, discover};
pub use tracker::{Found, Tracker, open_for_clone, probe};
pub use watch::Watch;

/// A group or tag as a cgroup directory name.
///
/// Tags may hold any character, but a cgroup name may not hold `/`, be
/// `.` or `..`, or collide with an interface file such as `cpu.max`.
/// Letters, digits, `-` and `_` are kept; every other byte becomes `%XX`,
/// so the mapping is one-to-one, no name has a dot and none can be an
/// interface file (`%` appears in none). [`decode`] is its inverse.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The name [`encode`] turned into `dir`, if it is one of its results.
pub fn decode(dir: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(dir.len());
    let mut it = dir.bytes();
    while let Some(b) = it.next() {
        match b {
            b'%' => {
                let hex = [it.next()?, it.next()?];
                bytes.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' => bytes.push(b),
            _ => return None,
        }
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_never_look_like_interface_files() {
        for name in ["mta", "web-1", "a/b", "..", ".", "cpu.max", "cgroup.procs", "é", "a%b", "x y"] {
            let dir = encode(name);
            assert!(!dir.contains('.') && !dir.contains('/') && !dir.is_empty(), "{dir}");
            assert_eq!(decode(&dir).as_deref(), Some(name));
        }
        assert_eq!(decode("cgroup.procs"), None, "interface files are no entry");
        assert_eq!(decode("%4"), None);
    }
}
