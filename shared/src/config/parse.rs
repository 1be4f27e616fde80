//! Turns the bytes of an isinittab into entries and directives, collecting
//! every error on the way.

use super::Inittab;
use super::entry::{Directives, Entry, Levels, Mode};
use super::error::ConfigError;
use super::limit::{Limit, LimitKey};
use crate::tag_index::TagIndex;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Parses as much of the file as is valid and returns it together with every
/// error found.
///
/// Clients use the partial result to honour a `:::socket:` directive even
/// in a file that has errors elsewhere (so `isinit tell` reaches the daemon
/// and reports the errors the daemon found, rather than a wrong "not
/// running"). The daemon only ever adopts a file whose error list is empty.
pub fn parse_lenient(path: &Path, bytes: &[u8]) -> (Inittab, Vec<ConfigError>) {
    let mut p = Parser {
        path,
        errors: Vec::new(),
        entries: Vec::new(),
        directives: Directives::default(),
        directive_lines: HashMap::new(),
        tag_lines: HashMap::new(),
        limit_lines: HashMap::new(),
        probe_lines: HashMap::new(),
        watchdog_lines: HashMap::new(),
        listen_lines: HashMap::new(),
    };
    for (i, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        let line_no = i + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        match std::str::from_utf8(raw) {
            Ok(line) => p.line(line_no, line),
            Err(_) => p.error(line_no, "line is not valid UTF-8"),
        }
    }
    p.check_probe_tags();
    p.check_limit_groups();
    let mut entries = p.entries;
    entries.shrink_to_fit();
    let tab = Inittab {
        path: path.to_owned(),
        by_tag: TagIndex::new(&entries, |e| &e.tag),
        probe_by_tag: TagIndex::new(&p.directives.probes, |x| &x.tag),
        watchdog_by_tag: TagIndex::new(&p.directives.watchdogs, |x| &x.tag),
        entries,
        directives: p.directives,
        sha256: Inittab::digest(bytes),
        text: String::from_utf8_lossy(bytes).into(),
    };
    (tab, p.errors)
}

struct Parser<'a> {
    path: &'a Path,
    errors: Vec<ConfigError>,
    entries: Vec<Arc<Entry>>,
    directives: Directives,
    /// Directive name → line it was first set on, to reject a second setting.
    directive_lines: HashMap<&'static str, usize>,
    /// Tag → line it was first defined on, to name both lines of a duplicate.
    tag_lines: HashMap<String, usize>,
    /// (group, key) → line of its `:::limit:`, to name both lines of a duplicate.
    limit_lines: HashMap<(String, LimitKey), usize>,
    /// Tag → line of its `:::probe:`, to name both lines of a duplicate.
    probe_lines: HashMap<String, usize>,
    /// Tag → line of its `:::watchdog:`, to name both lines of a duplicate.
    watchdog_lines: HashMap<String, usize>,
    /// Address → line of its `:::listen:`: one socket, one entry.
    listen_lines: HashMap<super::ListenAddress, usize>,
}

impl Parser<'_> {
    fn error(&mut self, line: usize, message: impl Into<String>) {
        self.errors.push(ConfigError::at(self.path, line, message));
    }

    fn line(&mut self, n: usize, line: &str) {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            return;
        }
        let mut fields = line.splitn(5, ':');
        let (Some(group), Some(tag), Some(levels), Some(mode), Some(command)) =
            (fields.next(), fields.next(), fields.next(), fields.next(), fields.next())
        else {
            self.error(n, "expected group:tag:runlevels:mode:command (or :::name:value)");
            return;
        };
        let (group, tag, levels, mode) = (group.trim(), tag.trim(), levels.trim(), mode.trim());
        if group.is_empty() && tag.is_empty() && levels.is_empty() {
            self.directive(n, mode, command);
        } else {
            self.entry(n, group, tag, levels, mode, command);
        }
    }

    fn directive(&mut self, n: usize, name: &str, value: &str) {
        if name == "limit" {
            return self.limit(n, value);
        }
        if name == "probe" {
            return self.probe(n, value);
        }
        if name == "watchdog" {
            return self.watchdog(n, value);
        }
        if name == "listen" {
            return self.listen(n, value);
        }
        let key: &'static str = match name {
            "socket" => "socket",
            "initstat" | "clstat" => "initstat",
            "log" => "log",
            "logdir" => "logdir",
            "state" => "state",
            "cgroup" => "cgroup",
            "" => return self.error(n, "empty resource group"),
            other => {
                return self.error(
                    n,
                    format!(
                        "unknown directive `{other}` (expected socket, initstat, clstat, log, logdir, state, cgroup, limit, probe, watchdog or listen)"
                    ),
                );
            }
        };
        let value = value.trim();
        if value.is_empty() {
            return self.error(n, format!("directive `{name}` has an empty value"));
        }
        if let Some(first) = self.directive_lines.get(key) {
            let first = *first;
            return self.error(n, format!("directive `{name}` is already set on line {first}"));
        }
        self.directive_lines.insert(key, n);
        let value = Some(PathBuf::from(value));
        match key {
            "socket" => self.directives.socket = value,
            "initstat" => self.directives.initstat = value,
            "log" => self.directives.log = value,
            "state" => self.directives.state = value,
            "cgroup" => self.directives.cgroup = value,
            _ => self.directives.logdir = value,
        }
    }

    /// A repeatable directive: one per group and key.
    fn limit(&mut self, n: usize, value: &str) {
        let limit = match super::limit::parse(n, value) {
            Ok(l) => l,
            Err(message) => return self.error(n, message),
        };
        let id = (limit.group.clone(), limit.key);
        if let Some(first) = self.limit_lines.get(&id) {
            let first = *first;
            return self.error(n, format!("limit `{} {}` is already set on line {first}", limit.group, limit.key));
        }
        self.limit_lines.insert(id, n);
        self.directives.limits.push(limit);
    }

    /// A repeatable directive: at most one per tag.
    fn probe(&mut self, n: usize, value: &str) {
        let probe = match super::probe::parse(n, value) {
            Ok(p) => p,
            Err(message) => return self.error(n, message),
        };
        if let Some(first) = self.probe_lines.get(&probe.tag) {
            let first = *first;
            return self.error(n, format!("probe for `{}` is already set on line {first}", probe.tag));
        }
        self.probe_lines.insert(probe.tag.clone(), n);
        self.directives.probes.push(probe);
    }

    /// A repeatable directive: at most one per tag.
    fn watchdog(&mut self, n: usize, value: &str) {
        let watchdog = match super::watchdog::parse(n, value) {
            Ok(w) => w,
            Err(message) => return self.error(n, message),
        };
        if let Some(first) = self.watchdog_lines.get(&watchdog.tag) {
            let first = *first;
            return self.error(n, format!("watchdog for `{}` is already set on line {first}", watchdog.tag));
        }
        self.watchdog_lines.insert(watchdog.tag.clone(), n);
        self.directives.watchdogs.push(watchdog);
    }

    /// A repeatable directive: an entry may have several sockets, but an
    /// address is bound once, so it appears once in the file.
    fn listen(&mut self, n: usize, value: &str) {
        let listen = match super::listen::parse(n, value) {
            Ok(l) => l,
            Err(message) => return self.error(n, message),
        };
        if let Some(first) = self.listen_lines.get(&listen.address) {
            let first = *first;
            return self.error(n, format!("listen address `{}` is already used on line {first}", listen.address));
        }
        self.listen_lines.insert(listen.address.clone(), n);
        self.directives.listens.push(listen);
    }

    /// Once every entry is read: a probe or a watchdog must name an entry
    /// of the file that runs (an `off` entry has nothing to check).
    fn check_probe_tags(&mut self) {
        let modes: HashMap<&str, Mode> = self.entries.iter().map(|e| (e.tag.as_str(), e.mode)).collect();
        let mut bad = Vec::new();
        self.directives.probes.retain(|p| match modes.get(p.tag.as_str()) {
            Some(Mode::Off) => {
                bad.push((p.line, format!("probe for `{}`, an entry whose mode is off", p.tag)));
                false
            }
            Some(_) => true,
            None => {
                bad.push((p.line, format!("probe for unknown tag `{}`", p.tag)));
                false
            }
        });
        self.directives.watchdogs.retain(|w| match modes.get(w.tag.as_str()) {
            Some(Mode::Off) => {
                bad.push((w.line, format!("watchdog for `{}`, an entry whose mode is off", w.tag)));
                false
            }
            Some(_) => true,
            None => {
                bad.push((w.line, format!("watchdog for unknown tag `{}`", w.tag)));
                false
            }
        });
        self.directives.listens.retain(|l| match modes.get(l.tag.as_str()) {
            Some(Mode::Off) => {
                bad.push((l.line, format!("listen for `{}`, an entry whose mode is off", l.tag)));
                false
            }
            Some(_) => true,
            None => {
                bad.push((l.line, format!("listen for unknown tag `{}`", l.tag)));
                false
            }
        });
        for (line, message) in bad {
            self.error(line, message);
        }
    }

    /// Once every entry is read (a limit may come before its group's
    /// entries): a limit must name a group of the file. Keeps the errors in
    /// line order.
    fn check_limit_groups(&mut self) {
        let groups: std::collections::HashSet<&str> = self.entries.iter().map(|e| e.group.as_str()).collect();
        let (known, unknown): (Vec<Limit>, Vec<Limit>) =
            std::mem::take(&mut self.directives.limits).into_iter().partition(|l| groups.contains(l.group.as_str()));
        self.directives.limits = known;
        for l in unknown {
            self.error(l.line, format!("limit for unknown resource group `{}`", l.group));
        }
        self.errors.sort_by_key(|e| e.line);
    }

    fn entry(&mut self, n: usize, group: &str, tag: &str, levels: &str, mode: &str, command: &str) {
        let before = self.errors.len();
        if group.is_empty() {
            self.error(n, "empty resource group");
        }
        if tag.is_empty() {
            self.error(n, "empty tag");
        }
        if levels.is_empty() {
            self.error(n, "empty runlevels field");
        } else if levels.split(',').all(|l| l.trim().is_empty()) {
            // `,` alone is a list whose items are all empty (SPEC §2 drops
            // them), so the entry would silently run at no level.
            self.error(n, format!("runlevels field `{levels}` names no level"));
        } else if let Some(bad) = levels.split(',').map(str::trim).find(|l| l.chars().any(char::is_whitespace)) {
            self.error(n, format!("runlevel `{bad}` contains whitespace"));
        }
        let parsed_mode = Mode::parse(mode);
        if mode.is_empty() {
            self.error(n, "empty mode");
        } else if parsed_mode.is_none() {
            self.error(n, format!("unknown mode `{mode}` (expected respawn, once, wait, test, notify or off)"));
        }
        if command.trim().is_empty() {
            self.error(n, "empty command");
        }
        if !tag.is_empty() {
            match self.tag_lines.get(tag) {
                Some(first) => {
                    let first = *first;
                    self.error(n, format!("duplicate tag `{tag}` (first defined on line {first})"));
                }
                None => {
                    self.tag_lines.insert(tag.to_string(), n);
                }
            }
        }
        if self.errors.len() != before {
            return;
        }
        let Some(mode) = parsed_mode else { return };
        self.entries.push(Arc::new(Entry {
            group: group.to_string(),
            tag: tag.to_string(),
            levels: Levels::from_field(levels),
            mode,
            command: command.to_string(),
            line: n,
        }));
    }
}
