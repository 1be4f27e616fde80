//! Where the daemon's files are: SPEC §2 setting precedence.
//!
//! Command-line flag, then environment variable, then isinittab directive,
//! then built-in default. The daemon and every client resolve the socket the
//! same way, so a `:::socket:` line in the file is honoured by `isinit tell`.

use crate::config::{Directives, parse_lenient};
use std::path::{Path, PathBuf};

/// Default isinittab path.
pub const DEFAULT_CONFIG: &str = "/etc/isinittab";
/// Default control socket path.
pub const DEFAULT_SOCKET: &str = "/var/run/is/init.s";
/// Default status file path.
pub const DEFAULT_INITSTAT: &str = "/var/run/is/initstat";
/// Default state file: a runtime directory on purpose, so that told levels
/// survive a daemon restart but not a reboot (SPEC §10).
pub const DEFAULT_STATE: &str = "/var/run/is/state";
/// Default directory for per-process output files.
pub const DEFAULT_LOGDIR: &str = "/var/log/isinit";
/// SPEC §5: from SIGINT to SIGTERM when a process is stopped, unless the
/// daemon is told otherwise (`--term-after`). The OCF agent, stopping a
/// group with no daemon to ask, uses it too.
pub const DEFAULT_TERM_AFTER: std::time::Duration = std::time::Duration::from_secs(5);
/// SPEC §5: from SIGTERM to SIGKILL (`--kill-after`).
pub const DEFAULT_KILL_AFTER: std::time::Duration = std::time::Duration::from_secs(10);

/// Environment variable naming the isinittab.
pub const ENV_CONFIG: &str = "ISINIT_CONFIG";
/// Environment variable naming the control socket.
pub const ENV_SOCKET: &str = "ISINIT_SOCKET";
/// Environment variable naming the status file.
pub const ENV_INITSTAT: &str = "ISINIT_INITSTAT";
/// Environment variable naming the state file.
pub const ENV_STATE: &str = "ISINIT_STATE";
/// Environment variable naming the cgroup2 directory entries' cgroups are
/// made under (`none`: process groups only).
pub const ENV_CGROUP: &str = "ISINIT_CGROUP";
/// Environment variable naming the output directory.
pub const ENV_LOGDIR: &str = "ISINIT_LOGDIR";

/// First of flag, non-empty environment variable, directive, default.
pub fn resolve(flag: Option<&Path>, env: &str, directive: Option<&Path>, default: &str) -> PathBuf {
    if let Some(p) = flag {
        return p.to_owned();
    }
    if let Some(v) = std::env::var_os(env).filter(|v| !v.is_empty()) {
        return PathBuf::from(v);
    }
    directive.map(Path::to_owned).unwrap_or_else(|| PathBuf::from(default))
}

/// The isinittab path from a `--config` flag, `ISINIT_CONFIG`, or the default.
pub fn config_path(flag: Option<&Path>) -> PathBuf {
    resolve(flag, ENV_CONFIG, None, DEFAULT_CONFIG)
}

/// The directives of the file at `config`, read leniently: an unreadable or
/// partly broken file still yields whatever directives it validly sets.
pub fn directives_of(config: &Path) -> Directives {
    match std::fs::read(config) {
        Ok(bytes) => parse_lenient(config, &bytes).0.directives,
        Err(_) => Directives::default(),
    }
}

/// The socket a client should connect to.
pub fn client_socket(socket_flag: Option<&Path>, config_flag: Option<&Path>) -> PathBuf {
    if socket_flag.is_some() || std::env::var_os(ENV_SOCKET).is_some_and(|v| !v.is_empty()) {
        return resolve(socket_flag, ENV_SOCKET, None, DEFAULT_SOCKET);
    }
    let directives = directives_of(&config_path(config_flag));
    resolve(None, ENV_SOCKET, directives.socket.as_deref(), DEFAULT_SOCKET)
}
