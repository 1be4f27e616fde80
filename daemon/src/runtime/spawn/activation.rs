//! What an entry that is told about itself at its start gets: the
//! sockets it is passed (`:::listen:`, SPEC §17, systemd's socket
//! activation) and the variables that must name its own pid
//! (`LISTEN_PID`, `WATCHDOG_PID`), which only the running child knows.

use super::exec_prefixed;
use isinit_core::SpawnRequest;
use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// A watched entry (SPEC §17) runs as `/bin/sh -c` setting `WATCHDOG_PID`
/// to the shell's own pid — the leader's, known only once it runs — and
/// then `exec`ing the command where that is provably the same, so the
/// service keeps that pid (sd_watchdog_enabled(3) checks it).
///
/// An entry with held sockets (`listening`) gets `LISTEN_PID` the same
/// way: `sd_listen_fds(3)` ignores the descriptors unless `LISTEN_PID` is
/// the caller's own pid, and posix_spawn and clone3 give the child's pid
/// only once it has exec'd, too late to put it in its environment. `$$`
/// is the pid of the shell, which `exec` hands to the service unchanged,
/// with descriptors 3… untouched (the shell opens none of its own below
/// 10). A command the shell cannot `exec` (a pipeline, a list) leaves the
/// shell as the leader, so the pid is the shell's, as under systemd with
/// such an `ExecStart=`; the book says to give such entries one command.
pub(super) fn wrapped(req: &SpawnRequest, listening: bool) -> Option<String> {
    let mut prefix = String::new();
    if req.watchdog_usec.is_some() {
        prefix.push_str("WATCHDOG_PID=$$; export WATCHDOG_PID; ");
    }
    if listening {
        prefix.push_str("LISTEN_PID=$$; export LISTEN_PID; ");
    }
    if prefix.is_empty() {
        return None;
    }
    let command = exec_prefixed(&req.command).unwrap_or_else(|| req.command.clone());
    Some(format!("{prefix}{command}"))
}

/// The held sockets of one spawn, copied to descriptors numbered above
/// every target (3 … 2+n), so that moving each to its target in the child
/// never overwrites another still to be moved. The copies are
/// close-on-exec and closed when the spawn is done; the child's moved
/// descriptors are not close-on-exec (`dup2` clears the flag).
pub(super) struct Passed(Vec<OwnedFd>);

impl Passed {
    pub(super) fn new(listen: &[BorrowedFd<'_>]) -> std::io::Result<Passed> {
        let above = 3 + listen.len() as libc::c_int;
        let copies = listen
            .iter()
            .map(|fd| {
                // SAFETY: F_DUPFD_CLOEXEC on a descriptor we hold; the
                // result is a new descriptor owned by nobody else.
                let dup = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, above) };
                if dup < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // SAFETY: just created, ours alone.
                Ok(unsafe { OwnedFd::from_raw_fd(dup) })
            })
            .collect::<std::io::Result<_>>()?;
        Ok(Passed(copies))
    }

    /// The copies' numbers, in the order of their targets.
    pub(super) fn raw(&self) -> Vec<RawFd> {
        self.0.iter().map(AsRawFd::as_raw_fd).collect()
    }

    /// `LISTEN_FDS` and `LISTEN_FDNAMES` (each socket named after its
    /// entry, as systemd names every socket of a unit after the unit); none
    /// without sockets. `LISTEN_PID` is set by the shell ([`wrapped`]).
    pub(super) fn environment(&self, tag: &str) -> Vec<CString> {
        if self.0.is_empty() {
            return Vec::new();
        }
        let names = vec![tag; self.0.len()].join(":");
        [format!("LISTEN_FDS={}", self.0.len()), format!("LISTEN_FDNAMES={names}")]
            .into_iter()
            .filter_map(|pair| CString::new(pair).ok())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn sockets_are_copied_above_their_targets_and_named_after_the_entry() {
        let a = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let b = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let passed = Passed::new(&[a.as_fd(), b.as_fd()]).expect("copies");
        assert!(passed.raw().iter().all(|fd| *fd >= 5), "{:?}", passed.raw());
        let env: Vec<String> =
            passed.environment("web").into_iter().map(|c| c.into_string().unwrap_or_default()).collect();
        assert_eq!(env, ["LISTEN_FDS=2", "LISTEN_FDNAMES=web:web"]);
        assert!(Passed::new(&[]).expect("none").environment("web").is_empty());
    }
}
