//! Setting the node attribute with Pacemaker's `attrd_updater`, off the
//! runtime thread and within a time limit.
//!
//! The daemon has one reaper (the run loop's `waitpid(-1)` walk, STYLE.md
//! trap 4), which collects this child too, as a pid it does not know; so the
//! updater's exit status cannot be waited for here. It travels on the
//! helper's output instead: a `/bin/sh` runs the updater and prints
//! `exit=N` after it, and the reading ends at the pipe's end.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The node attribute Pacemaker's health strategies read (`#health-*`).
pub const ATTRIBUTE: &str = "#health-isinit";
/// The updater run, unless `ISINIT_ATTRD_UPDATER` names another (a path or
/// a wrapper, e.g. one entering the node's namespaces).
pub const DEFAULT_UPDATER: &str = "attrd_updater";
/// How long one update may take before it is killed and counted failed.
pub const UPDATE_LIMIT: Duration = Duration::from_secs(10);

/// Why an update did not happen.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// No updater on this node: Pacemaker does not run here.
    #[error("{0} not found")]
    Absent(String),
    /// The updater ran and failed (Pacemaker not running, not answering).
    #[error("{program} exited {code}: {output}")]
    Failed {
        /// The updater.
        program: String,
        /// Its exit code (`?` when it did not say).
        code: String,
        /// What it printed.
        output: String,
    },
    /// It did not finish within [`UPDATE_LIMIT`].
    #[error("{0} did not finish within {UPDATE_LIMIT:?}")]
    TimedOut(String),
    /// It could not be run at all.
    #[error("cannot run {0}: {1}")]
    Spawn(String, std::io::Error),
}

/// The process names (`comm`, at most 15 bytes) of the Pacemaker daemons
/// that take attribute updates: the attribute manager of a full node and
/// the proxy of a Pacemaker Remote node.
const ATTRIBUTE_DAEMONS: &[&str] = &["pacemaker-attrd", "pacemaker-remot"];

/// Whether a Pacemaker daemon that takes attribute updates runs (visible
/// in this pid namespace): the updater is run only then, so a node
/// without Pacemaker never spawns it. Only a process of root or of
/// Pacemaker's own user (`hacluster`) counts: any local user can name a
/// process `pacemaker-attrd` (STYLE trap 16), which must not make the
/// daemon run the updater every few seconds. Reads `/proc`; call it off
/// the runtime thread.
pub fn pacemaker_runs() -> bool {
    use std::os::unix::fs::MetadataExt;
    let hacluster = nix::unistd::User::from_name("hacluster").ok().flatten().map(|u| u.uid.as_raw());
    let Ok(dir) = std::fs::read_dir("/proc") else { return false };
    dir.flatten().any(|e| {
        let is_pid = e.file_name().to_str().is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()));
        is_pid
            && std::fs::read_to_string(e.path().join("comm"))
                .is_ok_and(|comm| ATTRIBUTE_DAEMONS.contains(&comm.trim_end()))
            && e.metadata().is_ok_and(|m| m.uid() == 0 || Some(m.uid()) == hacluster)
    })
}

/// `attrd_updater -n #health-isinit -U VALUE`, with the output's end as its end.
pub async fn update(program: &str, value: &str) -> Result<(), UpdateError> {
    run(program, &["-n", ATTRIBUTE, "-U", value]).await
}

/// `attrd_updater -n #health-isinit -D`: the attribute removed, so a node
/// whose isinit was shut down is judged by nothing isinit said last (a
/// missing health attribute counts as green, a stale one as it was).
pub async fn delete(program: &str) -> Result<(), UpdateError> {
    run(program, &["-n", ATTRIBUTE, "-D"]).await
}

/// Runs the updater with `args`, with the output's end as its end.
async fn run(program: &str, args: &[&str]) -> Result<(), UpdateError> {
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(r#""$0" "$@" 2>&1; echo "exit=$?""#)
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| UpdateError::Spawn(program.to_string(), e))?;
    let pgid = child.id() as i32;
    let Some(mut stdout) = child.stdout.take() else {
        return Err(UpdateError::Spawn(program.to_string(), std::io::Error::other("no stdout")));
    };
    // Dropping a std Child neither waits nor kills: the run loop reaps it.
    drop(child);
    let read = tokio::task::spawn_blocking(move || {
        let mut out = String::new();
        stdout.read_to_string(&mut out).map(|_| out)
    });
    let out = match tokio::time::timeout(UPDATE_LIMIT, read).await {
        Ok(Ok(Ok(out))) => out,
        Ok(Ok(Err(e))) => return Err(UpdateError::Spawn(program.to_string(), e)),
        Ok(Err(e)) => return Err(UpdateError::Spawn(program.to_string(), std::io::Error::other(e))),
        Err(_) => {
            // Its output is still open, so something of its group lives.
            let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pgid), nix::sys::signal::Signal::SIGKILL);
            return Err(UpdateError::TimedOut(program.to_string()));
        }
    };
    let (text, code) = match out.trim_end().rsplit_once("exit=") {
        Some((text, code)) => (text.trim().to_string(), code.trim().to_string()),
        None => (out.trim().to_string(), "?".to_string()),
    };
    match code.as_str() {
        "0" => Ok(()),
        // The shell's "command not found".
        "127" => Err(UpdateError::Absent(program.to_string())),
        _ => Err(UpdateError::Failed { program: program.to_string(), code, output: text }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A process named `pacemaker-attrd` run as `uid`, killed when dropped.
    struct Named(std::process::Child);

    impl Named {
        fn start(dir: &std::path::Path, uid: u32) -> Named {
            let bin = dir.join("pacemaker-attrd");
            if !bin.exists() {
                std::fs::copy("/bin/sleep", &bin).expect("copy sleep");
            }
            let child = std::process::Command::new(&bin).arg("100").uid(uid).spawn().expect("start it");
            // Its name is in /proc once it has exec'd.
            let comm = format!("/proc/{}/comm", child.id());
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while std::fs::read_to_string(&comm).map(|c| c.trim_end() != "pacemaker-attrd").unwrap_or(true) {
                assert!(std::time::Instant::now() < deadline, "the named process never ran");
                std::thread::sleep(Duration::from_millis(10));
            }
            Named(child)
        }
    }

    impl Drop for Named {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    #[test]
    fn a_local_users_process_named_like_pacemaker_does_not_count() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root (runs a process as another user)");
            return;
        }
        if pacemaker_runs() {
            eprintln!("skipped: a real Pacemaker attribute daemon runs here");
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let nobody = Named::start(dir.path(), 65534);
        assert!(!pacemaker_runs(), "a process of uid 65534 named pacemaker-attrd");
        let root = Named::start(dir.path(), 0);
        assert!(pacemaker_runs(), "root's pacemaker-attrd counts");
        drop((nobody, root));
    }
}
