//! `:::probe:TAG [every=SECS] [timeout=SECS] [failures=N] CHECK`: a
//! liveness check of one entry (SPEC §17), validated here so that `isinit
//! check` refuses a probe the daemon could not run, before the file reaches
//! a cluster's hosts.

use std::time::Duration;

/// Default time between two checks.
pub const DEFAULT_EVERY: Duration = Duration::from_secs(10);
/// Default time one check may take before it counts as failed.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// Default number of failed checks in a row that restart the entry.
pub const DEFAULT_FAILURES: u32 = 3;
/// The longest `every=` or `timeout=` accepted: a day, like every other
/// delay of the daemon (STYLE.md trap 13: no unbounded user durations).
pub const MAX_SECS: f64 = 86_400.0;
/// The shortest: a probe every millisecond would be a busy loop.
pub const MIN_SECS: f64 = 0.01;

/// What one check does.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Check {
    /// `tcp:HOST:PORT`: a TCP connection is accepted.
    Tcp {
        /// A name or an address (`[::1]` for IPv6).
        host: String,
        /// The port.
        port: u16,
    },
    /// `http://HOST:PORT/PATH`: a GET answered with a 2xx or 3xx status.
    Http {
        /// A name or an address (`[::1]` for IPv6).
        host: String,
        /// The port (80 when not written).
        port: u16,
        /// The path with its query, from the first `/` (`/` when absent).
        path: String,
    },
    /// `exec:COMMAND`: the command, run like the entry's, exits 0.
    Exec(String),
}

impl std::fmt::Display for Check {
    /// As written in the isinittab, for messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Check::Tcp { host, port } => write!(f, "tcp:{host}:{port}"),
            Check::Http { host, port, path } => write!(f, "http://{host}:{port}{path}"),
            Check::Exec(command) => write!(f, "exec:{command}"),
        }
    }
}

/// One `:::probe:` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// The entry it checks (a tag of the file).
    pub tag: String,
    /// Time between two checks.
    pub every: Duration,
    /// Time one check may take.
    pub timeout: Duration,
    /// Failed checks in a row that stop the process.
    pub failures: u32,
    /// What a check does.
    pub check: Check,
    /// 1-based line number, for messages and duplicates.
    pub line: usize,
}

/// Parses the value part of `:::probe:` into a probe on `line`, or the
/// message an operator reads.
pub(crate) fn parse(line: usize, text: &str) -> Result<Probe, String> {
    const SHAPE: &str = "directive `probe` expects TAG [every=SECS] [timeout=SECS] [failures=N] CHECK";
    let text = text.trim();
    let (tag, mut rest) = text.split_once(char::is_whitespace).ok_or(SHAPE)?;
    let mut probe = Probe {
        tag: tag.to_string(),
        every: DEFAULT_EVERY,
        timeout: DEFAULT_TIMEOUT,
        failures: DEFAULT_FAILURES,
        check: Check::Exec(String::new()),
        line,
    };
    loop {
        rest = rest.trim_start();
        let word = rest.split(char::is_whitespace).next().unwrap_or("");
        let Some((key, value)) = word.split_once('=').filter(|(k, _)| matches!(*k, "every" | "timeout" | "failures"))
        else {
            break;
        };
        match key {
            "every" => probe.every = seconds(key, value)?,
            "timeout" => probe.timeout = seconds(key, value)?,
            _ => {
                probe.failures =
                    value.parse::<u32>().ok().filter(|n| (1..=1000).contains(n)).ok_or_else(|| {
                        format!("probe failures=`{value}` is invalid: expected an integer from 1 to 1000")
                    })?
            }
        }
        rest = &rest[word.len()..];
    }
    probe.check = check(rest.trim())?;
    Ok(probe)
}

/// `every=`/`timeout=`: seconds, fractions allowed.
fn seconds(key: &str, value: &str) -> Result<Duration, String> {
    let bad = || format!("probe {key}=`{value}` is invalid: expected seconds from {MIN_SECS} to {MAX_SECS} (e.g. 0.5)");
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(bad());
    }
    let secs: f64 = value.parse().map_err(|_| bad())?;
    if !(MIN_SECS..=MAX_SECS).contains(&secs) {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(secs))
}

/// The CHECK word and what follows it.
fn check(text: &str) -> Result<Check, String> {
    if text.is_empty() {
        return Err("probe has no check: expected tcp:HOST:PORT, http://HOST:PORT/PATH or exec:COMMAND".into());
    }
    if let Some(command) = text.strip_prefix("exec:") {
        let command = command.trim();
        if command.is_empty() {
            return Err("probe `exec:` has an empty command".into());
        }
        return Ok(Check::Exec(command.to_string()));
    }
    if text.contains(char::is_whitespace) {
        return Err(format!("probe check `{text}` contains whitespace (only exec: takes a command line)"));
    }
    if let Some(address) = text.strip_prefix("tcp:") {
        let (host, port) = host_port(address, None).map_err(|m| format!("probe check `{text}`: {m}"))?;
        return Ok(Check::Tcp { host, port });
    }
    if let Some(url) = text.strip_prefix("http://") {
        let (authority, path) = match url.find('/') {
            Some(i) => (&url[..i], &url[i..]),
            None => (url, "/"),
        };
        let (host, port) = host_port(authority, Some(80)).map_err(|m| format!("probe check `{text}`: {m}"))?;
        return Ok(Check::Http { host, port, path: path.to_string() });
    }
    if text.starts_with("https://") {
        return Err(format!("probe check `{text}`: https is not supported (probe the plain port, or use exec:)"));
    }
    Err(format!("unknown probe check `{text}` (expected tcp:HOST:PORT, http://HOST:PORT/PATH or exec:COMMAND)"))
}

/// `HOST:PORT` (or `[V6]:PORT`); the port may be left out only where a
/// default is given.
fn host_port(text: &str, default_port: Option<u16>) -> Result<(String, u16), String> {
    let (host, port) = if let Some(v6) = text.strip_prefix('[') {
        let (addr, after) = v6.split_once(']').ok_or("unclosed `[` in the address")?;
        (format!("[{addr}]"), after.strip_prefix(':'))
    } else {
        match text.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (text.to_string(), None),
        }
    };
    if host.is_empty() || host == "[]" {
        return Err("empty host".into());
    }
    if host.contains(['/', '@', '?', '#']) || (!host.starts_with('[') && host.contains(':')) {
        return Err(format!("invalid host `{host}`"));
    }
    let port = match (port, default_port) {
        (Some(p), _) => p.parse::<u16>().ok().filter(|p| *p > 0).ok_or(format!("invalid port `{p}`"))?,
        (None, Some(d)) => d,
        (None, None) => return Err("missing port".into()),
    };
    Ok((host, port))
}
