//! Host sets in ClusterShell's syntax (SPEC §16): `web[01-40]`,
//! `web[1-3,7]`, `r[1-2]n[1-3]`, `web[1-9/2]`, comma-separated lists of
//! these, `@NAME` for a group of the hosts file and `@all` for every host
//! it lists — and the way back, [`HostSet::fold`], which writes a set as
//! few bracketed patterns as it can (`web[01-04],db1`).
//!
//! A set keeps the order in which its expression names the hosts, each
//! once: `isinit hosts` prints them in that order, and a fleet command
//! reports in it. Zero padding is part of a name (`web01` is not `web1`)
//! and is kept by both directions.
//!
//! Pure: groups are looked up through a function the caller gives (the
//! hosts file's sections, see [`HostsFile`]), so the parser is tested, and
//! property-tested (parse ∘ fold is the identity), with no file at all.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

/// The largest set an expression may name: a typo such as `web[1-1000000]`
/// must be an error, not a million ssh sessions queued.
pub const MAX_HOSTS: usize = 100_000;

/// Why a host set expression was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostSetError {
    /// The expression is not well formed; the text says where.
    #[error("bad host set {expr:?}: {why}")]
    Syntax {
        /// The whole expression.
        expr: String,
        /// What is wrong with it.
        why: String,
    },
    /// `@NAME` names no group of the hosts file.
    #[error("no such host group @{0}")]
    NoSuchGroup(String),
    /// A group names itself, directly or through others.
    #[error("host group @{0} contains itself")]
    Cycle(String),
    /// More than [`MAX_HOSTS`] hosts.
    #[error("host set {0:?} names more than {MAX_HOSTS} hosts")]
    TooLarge(String),
    /// An item starts with `-`: ssh would read the host as an option
    /// (`-oProxyCommand=…` runs any command as the caller).
    #[error("invalid host '{0}': a host name cannot start with '-' (ssh would read it as an option)")]
    Option(String),
}

/// An ordered set of host names (ssh DESTs), each once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostSet {
    hosts: Vec<String>,
    seen: HashSet<String>,
}

impl HostSet {
    /// The empty set.
    pub fn new() -> HostSet {
        HostSet::default()
    }

    /// Parses `expr`; `@NAME` is looked up with `group` (which returns the
    /// group's own expressions, parsed in turn, so groups may name groups).
    pub fn parse(expr: &str, group: &dyn Fn(&str) -> Option<Vec<String>>) -> Result<HostSet, HostSetError> {
        let mut set = HostSet::new();
        let mut stack = Vec::new();
        set.add_expr(expr, group, &mut stack)?;
        Ok(set)
    }

    /// Parses an expression that may not use groups.
    pub fn parse_plain(expr: &str) -> Result<HostSet, HostSetError> {
        HostSet::parse(expr, &|_| None)
    }

    fn add_expr(
        &mut self,
        expr: &str,
        group: &dyn Fn(&str) -> Option<Vec<String>>,
        stack: &mut Vec<String>,
    ) -> Result<(), HostSetError> {
        let syntax = |why: &str| HostSetError::Syntax { expr: expr.to_string(), why: why.to_string() };
        for item in split_top(expr).map_err(|why| syntax(&why))? {
            let item = item.trim();
            if item.is_empty() {
                return Err(syntax("an empty item (two commas, or a comma at an end)"));
            }
            if item.starts_with('-') {
                return Err(HostSetError::Option(item.to_string()));
            }
            if let Some(name) = item.strip_prefix('@') {
                if name.is_empty() || name.contains(['[', ']', '@']) {
                    return Err(syntax("a group is @ and a plain name"));
                }
                if stack.iter().any(|n| n == name) {
                    return Err(HostSetError::Cycle(name.to_string()));
                }
                let members = group(name).ok_or_else(|| HostSetError::NoSuchGroup(name.to_string()))?;
                stack.push(name.to_string());
                for m in members {
                    self.add_expr(&m, group, stack)?;
                }
                stack.pop();
                continue;
            }
            if item.contains(char::is_whitespace) {
                return Err(syntax(&format!("{item:?} contains white space")));
            }
            for host in expand(item).map_err(|why| syntax(&why))? {
                self.insert(host);
                if self.hosts.len() > MAX_HOSTS {
                    return Err(HostSetError::TooLarge(expr.to_string()));
                }
            }
        }
        Ok(())
    }

    /// Adds `host` at the end unless it is already in the set.
    pub fn insert(&mut self, host: String) {
        if self.seen.insert(host.clone()) {
            self.hosts.push(host);
        }
    }

    /// Every host of `other` not yet in this set, in `other`'s order.
    pub fn extend(&mut self, other: &HostSet) {
        for h in &other.hosts {
            self.insert(h.clone());
        }
    }

    /// This set without the hosts of `other` (`-x`).
    pub fn without(&self, other: &HostSet) -> HostSet {
        let mut out = HostSet::new();
        for h in self.hosts.iter().filter(|h| !other.contains(h)) {
            out.insert(h.clone());
        }
        out
    }

    /// Whether `host` is in the set.
    pub fn contains(&self, host: &str) -> bool {
        self.seen.contains(host)
    }

    /// The hosts, in order.
    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }

    /// How many hosts.
    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    /// The set as few patterns as possible, comma-separated: hosts that
    /// differ only in their numbers become one pattern with a range per
    /// number (`r[1-2]n[1-3]`). Patterns come in the order of their first
    /// host; `parse_plain(fold())` gives back the same hosts.
    pub fn fold(&self) -> String {
        fold(&self.hosts)
    }
}

impl fmt::Display for HostSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.fold())
    }
}

/// Splits on the commas that are not inside brackets.
fn split_top(expr: &str) -> Result<Vec<&str>, String> {
    let (mut items, mut depth, mut start) = (Vec::new(), 0usize, 0);
    for (i, c) in expr.char_indices() {
        match c {
            '[' if depth == 0 => depth = 1,
            '[' => return Err("nested brackets".to_string()),
            ']' if depth == 1 => depth = 0,
            ']' => return Err("a ] without its [".to_string()),
            ',' if depth == 0 => {
                items.push(&expr[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("a [ without its ]".to_string());
    }
    items.push(&expr[start..]);
    Ok(items)
}

/// One number of a range, as written: its value and its width when zero
/// padded (`07`: 2), 0 when not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Num {
    value: u64,
    pad: usize,
}

impl Num {
    fn parse(s: &str) -> Result<Num, String> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("{s:?} is not a number"));
        }
        let value = s.parse::<u64>().map_err(|_| format!("{s} is too large"))?;
        let pad = if s.len() > 1 && s.starts_with('0') { s.len() } else { 0 };
        Ok(Num { value, pad })
    }
}

fn padded(value: u64, pad: usize) -> String {
    format!("{value:0pad$}")
}

/// The numbers of one bracket: `1-3,7,09-11,1-9/2`.
fn range_items(body: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for part in body.split(',') {
        let part = part.trim();
        let (span, step) = match part.split_once('/') {
            Some((span, step)) => {
                let step = step.parse::<u64>().map_err(|_| format!("bad step {step:?}"))?;
                if step == 0 {
                    return Err("a step of 0".to_string());
                }
                (span, step)
            }
            None => (part, 1),
        };
        match span.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (Num::parse(a)?, Num::parse(b)?);
                if a.value > b.value {
                    return Err(format!("range {span} goes backwards"));
                }
                if (b.value - a.value) / step >= MAX_HOSTS as u64 {
                    return Err(format!("range {span} names more than {MAX_HOSTS} hosts"));
                }
                let pad = a.pad.max(b.pad);
                let mut v = a.value;
                while v <= b.value {
                    out.push(padded(v, pad));
                    v += step;
                }
            }
            None if step != 1 => return Err(format!("a step needs a range: {part:?}")),
            None => {
                Num::parse(span)?;
                out.push(span.to_string());
            }
        }
    }
    Ok(out)
}

/// Expands one item without commas at the top: every bracket is a
/// dimension, the hosts are their product in order.
fn expand(item: &str) -> Result<Vec<String>, String> {
    let mut names = vec![String::new()];
    let mut rest = item;
    while !rest.is_empty() {
        match rest.find('[') {
            Some(open) => {
                let close = rest[open..].find(']').ok_or("a [ without its ]")? + open;
                let literal = &rest[..open];
                let numbers = range_items(&rest[open + 1..close])?;
                if names.len().saturating_mul(numbers.len()) > MAX_HOSTS {
                    return Err(format!("names more than {MAX_HOSTS} hosts"));
                }
                names = names.iter().flat_map(|n| numbers.iter().map(move |x| format!("{n}{literal}{x}"))).collect();
                rest = &rest[close + 1..];
            }
            None => {
                if rest.contains(']') {
                    return Err("a ] without its [".to_string());
                }
                for n in &mut names {
                    n.push_str(rest);
                }
                rest = "";
            }
        }
    }
    if names.iter().any(|n| n.starts_with('-')) {
        return Err("a host name may not start with '-' (it would be an ssh option)".to_string());
    }
    Ok(names)
}

/// A host name cut into its literal parts and its numbers:
/// `r01n3` → (`r`, `n`, ``) and (`01`, `3`).
fn split_numbers(host: &str) -> (Vec<&str>, Vec<&str>) {
    let (mut literals, mut numbers) = (Vec::new(), Vec::new());
    let bytes = host.as_bytes();
    let (mut i, mut start) = (0, 0);
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let j = bytes[i..].iter().position(|b| !b.is_ascii_digit()).map_or(bytes.len(), |k| i + k);
            literals.push(&host[start..i]);
            numbers.push(&host[i..j]);
            start = j;
            i = j;
        } else {
            i += 1;
        }
    }
    literals.push(&host[start..]);
    (literals, numbers)
}

/// Folds names along each of their numbers in turn, from the last: names
/// alike in everything but one number merge into one pattern whose
/// bracket lists the numbers. Each result is an exact product, so
/// expanding it gives back exactly the names it came from.
fn fold(hosts: &[String]) -> String {
    // Per shape (the literal parts), the names as lists of number sets,
    // kept in the order their first name came.
    type Row = Vec<Vec<String>>;
    let mut shapes: Vec<(Vec<&str>, Vec<Row>)> = Vec::new();
    let mut index: BTreeMap<Vec<&str>, usize> = BTreeMap::new();
    for h in hosts {
        let (literals, numbers) = split_numbers(h);
        let row: Row = numbers.iter().map(|n| vec![n.to_string()]).collect();
        let at = *index.entry(literals.clone()).or_insert_with(|| {
            shapes.push((literals, Vec::new()));
            shapes.len() - 1
        });
        shapes[at].1.push(row);
    }
    let mut patterns = Vec::new();
    for (literals, mut rows) in shapes {
        let dims = literals.len() - 1;
        for d in (0..dims).rev() {
            let mut merged: Vec<Row> = Vec::new();
            let mut by_rest: BTreeMap<Vec<Vec<String>>, usize> = BTreeMap::new();
            for row in rows {
                let mut key = row.clone();
                key.remove(d);
                match by_rest.get(&key) {
                    Some(&at) => {
                        for n in &row[d] {
                            if !merged[at][d].contains(n) {
                                merged[at][d].push(n.clone());
                            }
                        }
                    }
                    None => {
                        by_rest.insert(key, merged.len());
                        merged.push(row);
                    }
                }
            }
            rows = merged;
        }
        for row in rows {
            let mut p = String::new();
            for (i, lit) in literals.iter().enumerate() {
                p.push_str(lit);
                if let Some(numbers) = row.get(i) {
                    p.push_str(&bracket(numbers));
                }
            }
            patterns.push(p);
        }
    }
    patterns.join(",")
}

/// One dimension's numbers: `7` alone, else `[1-3,7,09-11]`. A run joins
/// the next number only if the range re-expands to exactly its text (a
/// padded run `08-10` takes `10`, a plain `9` never takes `010`).
fn bracket(numbers: &[String]) -> String {
    if numbers.len() == 1 {
        return numbers[0].clone();
    }
    let mut sorted: Vec<(u64, &String)> = numbers.iter().map(|n| (n.parse::<u64>().unwrap_or(u64::MAX), n)).collect();
    sorted.sort();
    struct Run<'a> {
        first: &'a str,
        last: &'a str,
        value: u64,
        pad: usize,
    }
    let mut runs: Vec<Run> = Vec::new();
    for (value, text) in sorted {
        if let Some(run) = runs.last_mut()
            && run.value.checked_add(1) == Some(value)
            && padded(value, run.pad) == *text
        {
            run.last = text;
            run.value = value;
            continue;
        }
        let pad = if text.len() > 1 && text.starts_with('0') { text.len() } else { 0 };
        runs.push(Run { first: text, last: text, value, pad });
    }
    let parts: Vec<String> = runs
        .iter()
        .map(|r| if r.first == r.last { r.first.to_string() } else { format!("{}-{}", r.first, r.last) })
        .collect();
    format!("[{}]", parts.join(","))
}

/// A hosts file (`--hosts FILE`, `ISINIT_HOSTS`): one host set a line, `#`
/// starts a comment, `[NAME]` starts group NAME (Ansible-inventory style);
/// lines before the first section belong to no group. `@all` is every
/// host the file names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostsFile {
    /// Every line's set, in file order (what `@all` expands).
    pub all: Vec<String>,
    /// Each group's lines, by name.
    pub groups: BTreeMap<String, Vec<String>>,
}

impl HostsFile {
    /// Parses a hosts file's text; `path` only names it in errors, which
    /// say `PATH:LINE: message`.
    pub fn parse(path: &str, text: &str) -> Result<HostsFile, String> {
        let mut file = HostsFile::default();
        let mut current: Option<String> = None;
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or_default().trim();
            if line.is_empty() {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                let name = name.trim();
                if name.is_empty() || name == "all" || !name.chars().all(|c| c.is_alphanumeric() || "-_.".contains(c)) {
                    return Err(format!("{path}:{}: bad group name [{name}]", n + 1));
                }
                file.groups.entry(name.to_string()).or_default();
                current = Some(name.to_string());
                continue;
            }
            // Checked now, so that a broken line is reported with its line
            // number rather than when a set names its group.
            if !line.starts_with('@') {
                HostSet::parse(line, &|_| Some(Vec::new())).map_err(|e| format!("{path}:{}: {e}", n + 1))?;
            }
            file.all.push(line.to_string());
            if let Some(g) = &current {
                file.groups.entry(g.clone()).or_default().push(line.to_string());
            }
        }
        Ok(file)
    }

    /// The lines of group `name` (`all`: every line).
    pub fn group(&self, name: &str) -> Option<Vec<String>> {
        if name == "all" {
            return Some(self.all.clone());
        }
        self.groups.get(name).cloned()
    }

    /// Parses `expr` with this file's groups.
    pub fn resolve(&self, expr: &str) -> Result<HostSet, HostSetError> {
        HostSet::parse(expr, &|name| self.group(name))
    }
}

#[cfg(test)]
mod tests;
