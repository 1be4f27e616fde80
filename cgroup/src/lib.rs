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
pub use root::{Choice, Root, cgroup2_mount, default_name, discover};

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
