//! Which hosts a client command goes to: `-H/--host DEST` (repeatable),
//! then the lines of `--hosts FILE`; with neither, the file named by
//! `ISINIT_HOSTS`. No host at all means the local daemon. The rules live
//! in `isinit_client::transport`, shared with the console.

use super::Failure;
use std::path::Path;

/// The hosts in the order given, duplicates dropped.
pub fn resolve(flags: &[String], file: Option<&Path>) -> Result<Vec<String>, Failure> {
    isinit_client::transport::resolve_hosts(flags, file).map_err(|e| Failure::new(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use isinit_client::transport::parse_hosts;

    #[test]
    fn comments_and_blank_lines_are_skipped() {
        let text = "# web tier\nweb1\n  web2  # spare\n\nssh://ops@db1:2222\n";
        assert_eq!(parse_hosts(text), ["web1", "web2", "ssh://ops@db1:2222"]);
    }

    #[test]
    fn flags_come_first_then_the_file_without_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hosts");
        std::fs::write(&file, "b\na\nc\n").unwrap();
        let hosts = resolve(&["a".into(), "b".into()], Some(&file)).unwrap();
        assert_eq!(hosts, ["a", "b", "c"]);
    }

    #[test]
    fn a_missing_file_is_an_error() {
        let err = resolve(&[], Some(Path::new("/nonexistent/hosts"))).unwrap_err();
        assert!(err.reason.contains("cannot read hosts file"), "{err}");
    }
}
