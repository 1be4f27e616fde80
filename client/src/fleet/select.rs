//! Which hosts a command goes to (SPEC §16): the `-H SET` expressions,
//! minus the `-x SET` ones, with `@NAME` groups looked up in the hosts
//! file (`--hosts FILE`, else the file `ISINIT_HOSTS` names). Without `-H`
//! the hosts file's every host (`@all`) is the target; with `-H` the file
//! only lends its groups. Shared by `isinit` and `isinit-tui`, so both read
//! a set and a file the same way.

use super::hostset::{HostSet, HostSetError, HostsFile};
use crate::transport::{Dest, ENV_HOSTS};
use std::io;
use std::path::{Path, PathBuf};

/// What the operator gave to pick hosts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// `-H SET` values, in order.
    pub sets: Vec<String>,
    /// `-x SET` values: hosts left out.
    pub exclude: Vec<String>,
    /// `--hosts FILE`.
    pub file: Option<PathBuf>,
}

/// Why the hosts could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    /// The hosts file could not be read.
    #[error("cannot read hosts file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A line of the hosts file is malformed (`PATH:LINE: message`).
    #[error("hosts file {0}")]
    File(String),
    /// A `-H` or `-x` set is malformed or names an unknown group.
    #[error("{0}")]
    Set(#[from] HostSetError),
    /// `-x` or a group with no hosts file to say what it means.
    #[error("{0} needs a hosts file (--hosts FILE or {ENV_HOSTS})")]
    NoFile(String),
    /// The sets name no host at all (`-H a -x a`, an empty file): never
    /// read as "the local daemon".
    #[error("no hosts: {0} names none")]
    Empty(String),
}

impl SelectError {
    /// Whether the operator wrote something wrong (a usage error, exit
    /// code 2) rather than named a file that cannot be read.
    pub fn is_usage(&self) -> bool {
        !matches!(self, SelectError::Read { .. })
    }
}

impl Selection {
    /// Whether anything selects hosts: `-H`, `-x`, `--hosts`, or a
    /// non-empty `ISINIT_HOSTS`. Nothing means the local daemon.
    pub fn is_given(&self) -> bool {
        !self.sets.is_empty() || !self.exclude.is_empty() || self.file().is_some()
    }

    /// The hosts file in force: `--hosts`, else `ISINIT_HOSTS`.
    pub fn file(&self) -> Option<PathBuf> {
        self.file.clone().or_else(|| std::env::var_os(ENV_HOSTS).filter(|v| !v.is_empty()).map(PathBuf::from))
    }

    /// The hosts, in the order their sets name them, each once; `None`
    /// when nothing selects hosts (the local daemon). The file is read
    /// only when needed: without `-H`, or when a set names a group.
    pub fn resolve(&self) -> Result<Option<HostSet>, SelectError> {
        if !self.is_given() {
            return Ok(None);
        }
        // `ops@web1` is a login, not a group: only an item starting with @.
        let uses_groups =
            self.sets.iter().chain(&self.exclude).any(|s| s.split(',').any(|i| i.trim().starts_with('@')));
        let file = match self.file() {
            Some(path) if self.sets.is_empty() || uses_groups => Some(read(&path)?),
            _ => None,
        };
        let parse = |expr: &str| match &file {
            Some(f) => f.resolve(expr),
            None => HostSet::parse(expr, &|_| None),
        };
        let mut hosts = HostSet::new();
        if self.sets.is_empty() {
            match &file {
                Some(f) => hosts = f.resolve("@all")?,
                None => return Err(SelectError::NoFile("-x without -H".to_string())),
            }
        }
        for set in &self.sets {
            hosts.extend(&parse(set).map_err(|e| no_file(e, file.is_none()))?);
        }
        let mut left_out = HostSet::new();
        for set in &self.exclude {
            left_out.extend(&parse(set).map_err(|e| no_file(e, file.is_none()))?);
        }
        Ok(Some(hosts.without(&left_out)))
    }

    /// [`Selection::resolve`] for a command that acts on the hosts: a
    /// selection naming no host is an error, not the local daemon.
    pub fn resolve_some(&self) -> Result<Option<HostSet>, SelectError> {
        match self.resolve()? {
            Some(hosts) if hosts.is_empty() => Err(SelectError::Empty(self.describe())),
            other => Ok(other),
        }
    }

    /// The selection as the operator wrote it, for messages.
    fn describe(&self) -> String {
        let mut words: Vec<String> = self.sets.iter().map(|s| format!("-H {s}")).collect();
        words.extend(self.exclude.iter().map(|s| format!("-x {s}")));
        if self.sets.is_empty()
            && let Some(file) = self.file()
        {
            words.insert(0, format!("hosts file {}", file.display()));
        }
        words.join(" ")
    }
}

/// A group named with no file at all is not "no such group" but "no file".
fn no_file(e: HostSetError, no_file: bool) -> SelectError {
    match e {
        HostSetError::NoSuchGroup(name) if no_file => SelectError::NoFile(format!("@{name}")),
        e => SelectError::Set(e),
    }
}

fn read(path: &Path) -> Result<HostsFile, SelectError> {
    let text = std::fs::read_to_string(path).map_err(|source| SelectError::Read { path: path.to_owned(), source })?;
    HostsFile::parse(&path.display().to_string(), &text).map_err(SelectError::File)
}

/// The hosts as ssh destinations. A set never holds a name starting with
/// `-` (the parser refuses it), so this only fails on a name [`Dest`]
/// refuses for another reason.
pub fn dests(hosts: &HostSet) -> Result<Vec<Dest>, SelectError> {
    hosts
        .hosts()
        .iter()
        .map(|h| {
            Dest::new(h).map_err(|e| SelectError::Set(HostSetError::Syntax { expr: h.clone(), why: e.to_string() }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(sets: &[&str], exclude: &[&str], file: Option<&Path>) -> Selection {
        Selection {
            sets: sets.iter().map(|s| s.to_string()).collect(),
            exclude: exclude.iter().map(|s| s.to_string()).collect(),
            file: file.map(Path::to_owned),
        }
    }

    fn names(s: &Selection) -> Vec<String> {
        s.resolve().unwrap().unwrap().hosts().to_vec()
    }

    #[test]
    fn sets_groups_and_exclusions() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hosts");
        std::fs::write(&file, "gw1\n[web]\nweb[01-04]\n[db]\ndb[1-2]  # primary, replica\n").unwrap();
        let f = Some(file.as_path());
        assert_eq!(names(&sel(&["@web"], &["web0[2-3]"], f)), ["web01", "web04"]);
        assert_eq!(names(&sel(&[], &[], f)), ["gw1", "web01", "web02", "web03", "web04", "db1", "db2"]);
        assert_eq!(names(&sel(&[], &["@web,gw1"], f)), ["db1", "db2"]);
        assert_eq!(names(&sel(&["db2", "@db"], &[], f)), ["db2", "db1"]);
        // With -H and no group, the file is not even read.
        assert_eq!(names(&sel(&["a[1-2]", "ops@b1"], &[], Some(Path::new("/nonexistent")))), ["a1", "a2", "ops@b1"]);
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let e = sel(&["web[1-"], &[], None).resolve().unwrap_err();
        assert!(e.is_usage() && e.to_string().contains("bad host set"), "{e}");
        let e = sel(&["@web"], &[], None).resolve().unwrap_err();
        assert!(e.is_usage() && e.to_string().contains("@web needs a hosts file"), "{e}");
        let e = sel(&["@web"], &[], Some(Path::new("/nonexistent"))).resolve().unwrap_err();
        assert!(!e.is_usage() && e.to_string().contains("cannot read hosts file"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hosts");
        std::fs::write(&file, "a\n-oProxyCommand=id\n").unwrap();
        let e = sel(&[], &[], Some(&file)).resolve().unwrap_err();
        let message = e.to_string();
        assert!(e.is_usage() && message.contains(&format!("{}:2", file.display())), "{message}");
        assert!(message.contains("cannot start with '-'"), "{message}");
        let e = sel(&["a,b"], &["b,a"], None).resolve_some().unwrap_err();
        assert!(e.is_usage() && e.to_string() == "no hosts: -H a,b -x b,a names none", "{e}");
        assert!(sel(&["a,b"], &["b,a"], None).resolve().unwrap().unwrap().is_empty());
    }
}
