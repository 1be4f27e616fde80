//! How the answers of many hosts are printed (SPEC §16): prefixed lines
//! (`DEST: line`, pdsh style), or folded (`-b`, `clush -b` style: hosts
//! whose output and exit status are identical printed once under a
//! `SET (N)` header); then, with two or more hosts, a summary of what went
//! wrong on stderr, the failed hosts for `--failed-to`, and progress while
//! hosts are outstanding. Pure text in, text out, but for [`Progress`].

use super::Failure;
use isinit_client::fleet::HostSet;
use std::io::{IsTerminal, Write};

/// Why a host has no answer: the summary counts the two apart, since an
/// unreachable host is a network or ssh matter, a failed one a daemon's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// ssh or the hello failed: the daemon was never reached.
    Unreachable,
    /// The daemon was reached; the command failed.
    Failed,
}

/// A host without an answer, and why.
#[derive(Debug)]
pub struct Missed {
    /// Which way it went wrong.
    pub kind: Kind,
    /// The reason, as `isinit` would print it locally.
    pub failure: Failure,
}

/// One host's answer: the text the local command would print, or why not.
pub type Answer = Result<String, Missed>;

/// `DEST: error: REASON`, then `DEST: DETAIL` per detail line.
pub fn error_lines(host: &str, f: &Failure) -> String {
    let mut text = format!("{host}: error: {}\n", f.reason);
    for d in &f.details {
        text.push_str(&format!("{host}: {d}\n"));
    }
    text
}

/// `error: REASON` and the detail lines, unprefixed (a folded block).
fn error_block(f: &Failure) -> String {
    let mut text = format!("error: {}\n", f.reason);
    for d in &f.details {
        text.push_str(&format!("{d}\n"));
    }
    text
}

/// What to print: stdout and stderr text.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Printed {
    /// The answers.
    pub stdout: String,
    /// Errors (and, folded, the failed hosts' blocks).
    pub stderr: String,
}

/// Every line of every answer prefixed `DEST: `, in the order given;
/// errors as `DEST: error: REASON` on stderr.
pub fn prefixed(hosts: &[String], answers: &[Answer]) -> Printed {
    let mut p = Printed::default();
    for (host, answer) in hosts.iter().zip(answers) {
        match answer {
            Ok(text) => {
                for line in text.lines() {
                    p.stdout.push_str(&format!("{host}: {line}\n"));
                }
            }
            Err(m) => p.stderr.push_str(&error_lines(host, &m.failure)),
        }
    }
    p
}

/// The `clush -b` header: `SET (N)` between two dashed lines as wide.
pub fn header(hosts: &[&String]) -> String {
    let mut set = HostSet::new();
    for h in hosts {
        set.insert((*h).clone());
    }
    let title = format!("{} ({})", set.fold(), hosts.len());
    let dashes = "-".repeat(title.chars().count());
    format!("{dashes}\n{title}\n{dashes}\n")
}

/// Hosts with the same output and the same exit status merged into one
/// block under a header, blocks in the order of their first host; the
/// successful ones on stdout, the failed ones (their error text is their
/// output) on stderr.
pub fn folded(hosts: &[String], answers: &[Answer]) -> Printed {
    // (failed?, text) → hosts, in order of first appearance.
    let mut blocks: Vec<((bool, String), Vec<&String>)> = Vec::new();
    for (host, answer) in hosts.iter().zip(answers) {
        let key = match answer {
            Ok(text) => (false, text.clone()),
            Err(m) => (true, error_block(&m.failure)),
        };
        match blocks.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(host),
            None => blocks.push((key, vec![host])),
        }
    }
    let mut p = Printed::default();
    for ((failed, text), members) in blocks {
        let target = if failed { &mut p.stderr } else { &mut p.stdout };
        target.push_str(&header(&members));
        target.push_str(&text);
        if !text.is_empty() && !text.ends_with('\n') {
            target.push('\n');
        }
    }
    p
}

/// The hosts of one kind, in the order given.
fn of_kind<'a>(hosts: &'a [String], answers: &[Answer], kind: Kind) -> Vec<&'a String> {
    hosts.iter().zip(answers).filter(|(_, a)| matches!(a, Err(m) if m.kind == kind)).map(|(h, _)| h).collect()
}

/// The last lines of stderr with two or more hosts: one per kind that
/// happened, `unreachable: db3 (1)`, `failed: web[07,12] (2)`.
pub fn summary(hosts: &[String], answers: &[Answer]) -> String {
    if hosts.len() < 2 {
        return String::new();
    }
    let mut text = String::new();
    for (word, kind) in [("unreachable", Kind::Unreachable), ("failed", Kind::Failed)] {
        let those = of_kind(hosts, answers, kind);
        if !those.is_empty() {
            let mut set = HostSet::new();
            for h in &those {
                set.insert((*h).clone());
            }
            text.push_str(&format!("{word}: {} ({})\n", set.fold(), those.len()));
        }
    }
    text
}

/// What `--failed-to FILE` holds: every host without an answer, one a
/// line, in the order given — a hosts file for the retry.
pub fn failed_file(hosts: &[String], answers: &[Answer]) -> String {
    hosts.iter().zip(answers).filter(|(_, a)| a.is_err()).map(|(h, _)| format!("{h}\n")).collect()
}

/// `37/200` on stderr while hosts are outstanding, only when stderr is a
/// terminal (a log or a pipe gets no carriage returns), and only for two
/// or more hosts; erased when done.
pub struct Progress {
    shown: bool,
}

impl Progress {
    /// Progress for `total` hosts.
    pub fn new(total: usize) -> Progress {
        Progress { shown: total >= 2 && std::io::stderr().is_terminal() }
    }

    /// `done` of `total` have answered.
    pub fn update(&mut self, done: usize, total: usize) {
        if self.shown {
            let mut e = std::io::stderr().lock();
            let _ = write!(e, "\r{done}/{total}\x1b[K").and_then(|()| e.flush());
        }
    }

    /// Erases the line, before the results are printed.
    pub fn finish(&mut self) {
        if std::mem::take(&mut self.shown) {
            let _ = write!(std::io::stderr().lock(), "\r\x1b[K");
        }
    }
}

#[cfg(test)]
mod tests;
