//! Which hosts a client command goes to (SPEC §16): `-H SET` (repeatable,
//! ClusterShell syntax), minus `-x SET`, with `@GROUP`s from the hosts
//! file (`--hosts FILE`, else `ISINIT_HOSTS`); without `-H`, every host of
//! that file. Nothing at all means the local daemon. The rules live in
//! `isinit_client::fleet::select`, shared with the console; a host that
//! starts with `-` (an ssh option in disguise) is refused there.
//!
//! `isinit hosts` prints what a selection resolves to, so an operator can
//! check a set before acting on it.

use super::FleetArgs;
use super::fleet::{err, out};
use isinit_client::fleet::select::{self, SelectError, Selection};
use isinit_client::transport::Dest;

/// The exit code of a usage error (a bad set or host), as clap's.
const USAGE: libc::c_int = 2;
/// The exit code of a hosts file that cannot be read.
const FAILURE: libc::c_int = 1;

/// The selection the flags describe.
pub fn selection(args: &FleetArgs) -> Selection {
    Selection { sets: args.hosts.clone(), exclude: args.exclude.clone(), file: args.hosts_file.clone() }
}

/// The hosts in order, each once; `None` for the local daemon. A
/// selection that names no host is an error.
pub fn resolve(args: &FleetArgs) -> Result<Option<Vec<Dest>>, SelectError> {
    match selection(args).resolve_some()? {
        Some(set) => Ok(Some(select::dests(&set)?)),
        None => Ok(None),
    }
}

/// Says why the hosts were refused on stderr and returns the exit code:
/// 2 for a bad set or host (a usage error), 1 for an unreadable file.
pub fn refuse(error: &SelectError) -> libc::c_int {
    err(&format!("isinit: {error}\n"));
    if error.is_usage() { USAGE } else { FAILURE }
}

/// `isinit hosts`: the resolved hosts one a line, or (`--fold`) one
/// folded set. Nothing selected is a usage error: there is nothing to
/// print, and silence would read as "no hosts".
pub fn print(args: &FleetArgs) -> libc::c_int {
    let chosen = selection(args);
    match chosen.resolve() {
        Ok(Some(set)) => {
            out(&text(&set, args.fold));
            0
        }
        Ok(None) => {
            err("isinit: hosts: no hosts given (-H SET, --hosts FILE or ISINIT_HOSTS)\n");
            USAGE
        }
        Err(e) => refuse(&e),
    }
}

fn text(set: &isinit_client::fleet::HostSet, fold: bool) -> String {
    match (fold, set.is_empty()) {
        (_, true) => String::new(),
        (true, false) => format!("{}\n", set.fold()),
        (false, false) => set.hosts().iter().map(|h| format!("{h}\n")).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use isinit_client::fleet::HostSet;

    #[test]
    fn one_a_line_or_folded() {
        let set = HostSet::parse_plain("web[01-03],db1,web02").unwrap();
        assert_eq!(text(&set, false), "web01\nweb02\nweb03\ndb1\n");
        assert_eq!(text(&set, true), "web[01-03],db1\n");
        assert_eq!(text(&HostSet::new(), true), "");
    }

    #[test]
    fn errors_are_usage_or_failure() {
        let unreadable = SelectError::Read { path: "/x".into(), source: std::io::ErrorKind::NotFound.into() };
        assert_eq!(refuse(&unreadable), FAILURE);
        assert_eq!(refuse(&SelectError::Empty("-H a -x a".into())), USAGE);
    }
}
