//! Which hosts a client command goes to: `-H/--host DEST` (repeatable),
//! then the lines of `--hosts FILE`; with neither, the file named by
//! `ISINIT_HOSTS`. No host at all means the local daemon.

use super::Failure;
use std::path::Path;

/// Environment variable naming a hosts file, used when no `-H` or
/// `--hosts` is given: a shell profile can point every command at a cluster.
pub const ENV_HOSTS: &str = "ISINIT_HOSTS";

/// The hosts in the order given, duplicates dropped (a host listed twice
/// would otherwise be told twice).
pub fn resolve(flags: &[String], file: Option<&Path>) -> Result<Vec<String>, Failure> {
    let mut hosts: Vec<String> = flags.iter().map(|h| h.trim().to_string()).filter(|h| !h.is_empty()).collect();
    let env_file = std::env::var_os(ENV_HOSTS).filter(|v| !v.is_empty());
    let file = match (file, hosts.is_empty()) {
        (Some(file), _) => Some(file.to_owned()),
        (None, true) => env_file.map(Into::into),
        (None, false) => None,
    };
    if let Some(file) = file {
        let text = std::fs::read_to_string(&file)
            .map_err(|e| Failure::new(format!("cannot read hosts file {}: {e}", file.display())))?;
        hosts.extend(parse(&text));
    }
    let mut unique = Vec::with_capacity(hosts.len());
    for h in hosts {
        if !unique.contains(&h) {
            unique.push(h);
        }
    }
    Ok(unique)
}

/// One DEST a line; `#` starts a comment; blank lines are skipped.
pub fn parse(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_blank_lines_are_skipped() {
        let text = "# web tier\nweb1\n  web2  # spare\n\nssh://ops@db1:2222\n";
        assert_eq!(parse(text), ["web1", "web2", "ssh://ops@db1:2222"]);
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
