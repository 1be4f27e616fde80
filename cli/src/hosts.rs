//! Which hosts a client command goes to: `-H/--host DEST` (repeatable),
//! then the lines of `--hosts FILE`; with neither, the file named by
//! `ISINIT_HOSTS`. No host at all means the local daemon. The rules live
//! in `isinit_client::transport`, shared with the console; a DEST that
//! starts with `-` (an ssh option in disguise) is refused there.

use isinit_client::transport::{Dest, HostsError};
use std::path::Path;

/// The exit code of a usage error (a bad host), as clap's.
const USAGE: libc::c_int = 2;
/// The exit code of a hosts file that cannot be read.
const FAILURE: libc::c_int = 1;

/// The hosts in the order given, duplicates dropped.
pub fn resolve(flags: &[Dest], file: Option<&Path>) -> Result<Vec<Dest>, HostsError> {
    isinit_client::transport::resolve_hosts(flags, file)
}

/// Says why the hosts were refused on stderr and returns the exit code:
/// 2 for a bad host (a usage error), 1 for an unreadable file.
pub fn refuse(error: &HostsError) -> libc::c_int {
    eprintln!("isinit: {error}");
    if error.is_usage() { USAGE } else { FAILURE }
}

#[cfg(test)]
mod tests {
    use super::*;
    use isinit_client::transport::parse_hosts;

    fn dests(names: &[&str]) -> Vec<Dest> {
        names.iter().map(|n| Dest::new(n).unwrap()).collect()
    }

    #[test]
    fn comments_and_blank_lines_are_skipped() {
        let text = "# web tier\nweb1\n  web2  # spare\n\nssh://ops@db1:2222\n";
        assert_eq!(parse_hosts(text).unwrap(), dests(&["web1", "web2", "ssh://ops@db1:2222"]));
    }

    #[test]
    fn flags_come_first_then_the_file_without_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hosts");
        std::fs::write(&file, "b\na\nc\n").unwrap();
        let hosts = resolve(&dests(&["a", "b"]), Some(&file)).unwrap();
        assert_eq!(hosts, dests(&["a", "b", "c"]));
    }

    #[test]
    fn a_missing_file_is_an_error() {
        let err = resolve(&[], Some(Path::new("/nonexistent/hosts"))).unwrap_err();
        assert!(err.to_string().contains("cannot read hosts file"), "{err}");
        assert_eq!(refuse(&err), FAILURE);
    }

    #[test]
    fn an_option_in_a_hosts_file_is_a_usage_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hosts");
        std::fs::write(&file, "web1\n-oProxyCommand=true\n").unwrap();
        let err = resolve(&[], Some(&file)).unwrap_err();
        assert!(err.to_string().contains("-oProxyCommand=true"), "{err}");
        assert_eq!(refuse(&err), USAGE);
    }
}
