//! The isinittab: which commands make up each resource group at each runlevel.
//!
//! The file is read by the daemon (to supervise), by `isinit check` (to
//! validate before replicating it across a cluster) and by every client (to
//! find the `:::socket:` directive), so the parser lives here, free of I/O
//! beyond reading the file.
//!
//! Parsing never stops at the first problem: operators fix a file in one
//! pass, so every error is collected into [`ConfigErrors`], each rendered as
//! `PATH:LINE: message`.

mod entry;
mod error;
mod limit;
mod listen;
mod parse;
mod probe;
#[cfg(test)]
mod tests;
mod watchdog;

pub use entry::{Directives, Entry, Levels, Mode, valid_level};
pub use error::{ConfigError, ConfigErrors};
pub use limit::{Limit, LimitKey};
pub use listen::{Listen, ListenAddress};
pub use parse::parse_lenient;
pub use probe::{Check, Probe};
pub use watchdog::Watchdog;

use crate::tag_index::TagIndex;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The file's bytes, or the whole-file error an operator sees.
fn read(path: &Path) -> Result<Vec<u8>, ConfigErrors> {
    std::fs::read(path).map_err(|e| ConfigErrors(vec![ConfigError::whole_file(path, format!("cannot read: {e}"))]))
}

/// A whole, valid isinittab.
///
/// Only ever built from a file with no errors, so the daemon can adopt it
/// whole or not at all (SPEC §2: a file with any error is never applied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inittab {
    /// Where it was read from; shown in errors and in the status snapshot.
    pub path: PathBuf,
    /// Every entry in file order, `off` entries included (they still name a
    /// tag and a group, and make a running process of that tag stop).
    /// Read-only: the tag index below is built from it. Shared, so the
    /// daemon's process records point at their entry instead of copying
    /// it (issue 22).
    pub entries: Vec<Arc<Entry>>,
    /// `entries` by tag: the daemon looks entries up by tag on every
    /// process change, and files can have thousands of them.
    by_tag: TagIndex,
    /// `directives.probes` by tag: asked on every snapshot row.
    probe_by_tag: TagIndex,
    /// `directives.watchdogs` by tag: asked for every datagram.
    watchdog_by_tag: TagIndex,
    /// The `:::NAME:VALUE` settings.
    pub directives: Directives,
    /// Hex SHA-256 of the file's bytes, so operators can tell at a glance
    /// whether every host of a cluster runs the same file.
    pub sha256: String,
    /// The file's text, kept so `isinit drift` can show every host what
    /// another host runs; shared, so cloning a config stays cheap.
    pub text: std::sync::Arc<str>,
}

impl Inittab {
    /// Reads and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Inittab, ConfigErrors> {
        Self::from_bytes(path, &read(path)?)
    }

    /// Reads and validates the file at `path` only if its contents differ
    /// from the file whose digest is `sha256` (the daemon re-reads on every
    /// tell, and most tells find the file unchanged).
    pub fn load_if_changed(path: &Path, sha256: &str) -> Result<Option<Inittab>, ConfigErrors> {
        let bytes = read(path)?;
        if Self::digest(&bytes) == sha256 {
            return Ok(None);
        }
        Self::from_bytes(path, &bytes).map(Some)
    }

    /// Validates `bytes` as if read from `path`.
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Inittab, ConfigErrors> {
        let (tab, errors) = parse_lenient(path, bytes);
        if errors.is_empty() { Ok(tab) } else { Err(ConfigErrors(errors)) }
    }

    /// Hex SHA-256 of some bytes, as stored in [`Inittab::sha256`].
    pub fn digest(bytes: &[u8]) -> String {
        Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The entry with this tag, if any.
    pub fn entry(&self, tag: &str) -> Option<&Arc<Entry>> {
        self.by_tag.find(&self.entries, tag, |e| &e.tag)
    }

    /// The names of every resource group in the file, sorted.
    pub fn groups(&self) -> BTreeSet<&str> {
        self.entries.iter().map(|e| e.group.as_str()).collect()
    }

    /// The group's entries in file order.
    pub fn entries_of<'a>(&'a self, group: &'a str) -> impl Iterator<Item = &'a Arc<Entry>> + 'a {
        self.entries.iter().filter(move |e| e.group == group)
    }

    /// The levels worth offering an operator for this group, in first-seen
    /// order: see [`Levels::suggestions`].
    pub fn suggested_levels(&self, group: &str) -> Vec<String> {
        let mut seen = Vec::<String>::new();
        for e in self.entries_of(group).filter(|e| e.mode != Mode::Off) {
            for l in e.levels.suggestions() {
                if !seen.iter().any(|s| s == l) {
                    seen.push(l.to_string());
                }
            }
        }
        seen
    }

    /// The `:::probe:` of an entry, if it has one.
    pub fn probe_of(&self, tag: &str) -> Option<&Probe> {
        self.probe_by_tag.find(&self.directives.probes, tag, |p| &p.tag)
    }

    /// The `:::watchdog:` of an entry, if it has one.
    pub fn watchdog_of(&self, tag: &str) -> Option<&Watchdog> {
        self.watchdog_by_tag.find(&self.directives.watchdogs, tag, |w| &w.tag)
    }

    /// The `:::listen:` sockets of an entry, in file order: the order of
    /// the descriptors it is passed (fd 3 first).
    pub fn listens_of<'a>(&'a self, tag: &'a str) -> impl Iterator<Item = &'a Listen> + 'a {
        self.directives.listens.iter().filter(move |l| l.tag == tag)
    }

    /// The `:::limit:` lines of one group, in file order.
    pub fn limits_of<'a>(&'a self, group: &'a str) -> impl Iterator<Item = &'a Limit> + 'a {
        self.directives.limits.iter().filter(move |l| l.group == group)
    }
}
