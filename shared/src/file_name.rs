//! Group and tag names as single path components: the entry cgroups
//! (`ROOT/GROUP/TAG`) and the OCF agent's hold marks (`SOCKET.held/GROUP`)
//! name files after them with the one mapping here.

/// A group or tag as one path component.
///
/// Tags may hold any character, but a file or cgroup name may not hold
/// `/` or be `.` or `..`, and a cgroup name may not collide with an
/// interface file such as `cpu.max`.
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
