//! The isinittab parser against SPEC §2: one test per error it can report
//! (each checked as the exact `PATH:LINE: message` an operator reads), the
//! format rules that decide which levels an entry is in, and property tests
//! that no input makes it panic.

mod errors;
mod format;
mod limits;
mod listens;
mod probes;
mod properties;

use super::*;

const PATH: &str = "/etc/isinittab";

/// Parses `text` leniently as if read from [`PATH`].
fn parse(text: &str) -> (Inittab, Vec<ConfigError>) {
    parse_lenient(Path::new(PATH), text.as_bytes())
}

/// The rendered errors of `text`, in the order reported.
fn errors(text: &str) -> Vec<String> {
    parse(text).1.iter().map(ToString::to_string).collect()
}

/// Asserts that `text` has exactly one error, rendered as `expected`, and
/// that no entry was kept from the bad line.
#[track_caller]
fn assert_one_error(text: &str, expected: &str) {
    let (tab, errs) = parse(text);
    let rendered: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert_eq!(rendered, [expected], "errors of {text:?}");
    let bad_line = errs[0].line.expect("a line-level error");
    assert!(tab.entries.iter().all(|e| e.line != bad_line), "an entry was kept from the bad line: {tab:?}");
}

/// A valid file with no errors.
#[track_caller]
fn valid(text: &str) -> Inittab {
    match Inittab::from_bytes(Path::new(PATH), text.as_bytes()) {
        Ok(tab) => tab,
        Err(e) => panic!("{text:?} should be valid, got:\n{e}"),
    }
}

/// The labels of an entry, for comparing with literals.
fn labels(e: &Entry) -> Vec<&str> {
    e.levels.labels()
}
