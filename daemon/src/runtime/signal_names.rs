//! Signal names as operators type them (`HUP`, `SIGHUP`, `hup`, `1`), for
//! `isinit signal`. The daemon, not the client, parses them, so every
//! client is held to the same list.

use isinit_shared::protocol::{ErrorKind, ErrorReply};
use nix::sys::signal::Signal;
use std::str::FromStr;

/// The signal `text` names: a name with or without `SIG`, any case, or a
/// number. Signal 0 (a probe, not a signal) and unknown names are refused.
pub fn parse(text: &str) -> Result<Signal, ErrorReply> {
    let trimmed = text.trim();
    let parsed = match trimmed.parse::<i32>() {
        Ok(0) => None,
        Ok(n) => Signal::try_from(n).ok(),
        Err(_) => {
            let upper = trimmed.to_ascii_uppercase();
            let name = if upper.starts_with("SIG") { upper } else { format!("SIG{upper}") };
            Signal::from_str(&name).ok()
        }
    };
    parsed.ok_or_else(|| {
        ErrorReply::new(
            ErrorKind::Rejected,
            format!("unknown signal `{text}` (try HUP, INT, TERM, USR1, USR2, KILL or a number)"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_or_without_sig_in_any_case_and_numbers() {
        for text in ["HUP", "SIGHUP", "hup", "SigHup", "1", " HUP "] {
            assert_eq!(parse(text), Ok(Signal::SIGHUP), "{text}");
        }
        assert_eq!(parse("USR2"), Ok(Signal::SIGUSR2));
        assert_eq!(parse("9"), Ok(Signal::SIGKILL));
    }

    #[test]
    fn unknown_names_zero_and_out_of_range_are_refused() {
        for text in ["", "0", "FOO", "SIG", "SIGFOO", "999", "-1", "HUP1"] {
            let e = parse(text).expect_err(text);
            assert_eq!(e.kind, ErrorKind::Rejected);
            assert!(e.message.starts_with("unknown signal"), "{text}: {}", e.message);
        }
    }
}
