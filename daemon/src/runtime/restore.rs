//! A runtime that carries on from a previous daemon: restored from the
//! state file after that daemon died (adopting what it left running), or
//! handed the whole state by `reexec`.

use super::handover::Handover;
use super::leftovers::Leftover;
use super::{Runtime, Settings, state};
use isinit_core::{Now, Supervisor};
use isinit_shared::config::Inittab;
use isinit_shared::protocol::{ExitStatus, Response};
use std::os::fd::{FromRawFd, OwnedFd};
use std::time::Duration;

/// How long the new image tries to deliver the `reexec` reply.
const REPLY_LIMIT: Duration = Duration::from_secs(10);

impl Runtime {
    /// Restores the levels of the state file and adopts the `found`
    /// processes that match an entry of them; returns those that match
    /// nothing, for the caller to stop. Without a state file, that is all
    /// of them. A group the OCF agent's stop holds (`SOCKET.held/GROUP`)
    /// is not restored: it comes up stopped, and its processes are strays.
    pub fn restore(&mut self, found: Vec<Leftover>) -> Vec<Leftover> {
        let own_uid = nix::unistd::geteuid().as_raw();
        let socket = &self.settings.socket;
        let (held, saved): (Vec<_>, Vec<_>) = state::load(&self.settings.state)
            .into_iter()
            .partition(|s| isinit_client::held::is_held(socket, &s.group, own_uid));
        for h in &held {
            tracing::info!(
                "group {} is held stopped by the OCF agent's stop ({}): level {} not restored",
                h.group,
                isinit_client::held::path(socket, &h.group).display(),
                h.level
            );
        }
        if saved.is_empty() {
            return found;
        }
        let orphans: Vec<_> = found.iter().map(Leftover::orphan).collect();
        // Where cgroups are used, a process adopted for an entry must be
        // in that entry's cgroup (SPEC §15).
        let tracker = self.cgroups.as_ref();
        let cgroup_of = |e: &isinit_shared::config::Entry| tracker.map(|t| t.dir_of(&e.group, &e.tag));
        let adopted = self.sup.restore(Now::real(), &saved, &orphans, &cgroup_of);
        self.publish_output_tags();
        let names: Vec<String> = saved.iter().map(|s| format!("{} {}", s.group, s.level)).collect();
        tracing::info!(
            "restored levels from {}: {}; adopted {} running processes",
            self.settings.state.display(),
            names.join(", "),
            adopted.len()
        );
        let kept_groups: Vec<i32> = found.iter().filter(|l| adopted.contains(&l.pid)).map(|l| l.pgid).collect();
        let rest: Vec<Leftover> = found.iter().filter(|l| !kept_groups.contains(&l.pgid)).cloned().collect();
        self.keep_in_cgroups(&kept_groups, rest, &found)
    }

    /// The runtime of a new image from the state its predecessor handed
    /// over; the second value is the connection of the `reexec` request.
    pub fn from_handover(settings: Settings, h: Handover) -> Result<(Runtime, Option<OwnedFd>), String> {
        let mut config = Inittab::from_bytes(std::path::Path::new(&h.config_path), h.config_text.as_bytes())
            .map_err(|e| format!("the isinittab handed over does not parse: {}", e.lines().join("; ")))?;
        config.sha256 = h.config_sha256;
        let timing = settings.timing;
        let mut rt = Runtime::new(settings, config.clone());
        rt.sup = Supervisor::import(config, timing, Now::real(), h.supervisor);
        for (group, owner) in h.owners {
            rt.sup.set_owner(&group, Some(owner));
        }
        // The leaders' start times, for the state file, read again: the
        // same process image's children, not reaped since, so exactly theirs.
        for (tag, pid) in rt.sup.leaders() {
            if let Some(ticks) = super::leftovers::start_ticks(pid) {
                rt.sup.note_start_ticks(&tag, pid, ticks);
            }
        }
        // Records still stopping may belong to tags no longer in the file.
        rt.publish_output_tags();
        rt.seq = h.seq;
        rt.audit = h.audit.into();
        rt.notices = h.notices.into();
        rt.info.send_modify(|i| i.started_at_ms = h.started_at_ms);
        rt.listen = super::listen::HeldSockets::adopt(h.held);
        for (tag, pgid) in h.followed {
            rt.sup.set_followed(&tag, pgid);
        }
        // SAFETY: the descriptor was passed through execve for us alone.
        let reply = h.reply_fd.map(|fd| unsafe { OwnedFd::from_raw_fd(fd) });
        tracing::info!(
            "re-executed: took over from isinit {} ({} processes, {} groups)",
            h.from_version,
            rt.sup.processes().iter().filter(|p| p.pid.is_some()).count(),
            rt.sup.groups().len()
        );
        Ok((rt, reply))
    }

    /// Watches an adopted process (not our child) for its end.
    pub(super) fn watch_adopted(&self, pid: i32) {
        let tx = self.adopted_exits.0.clone();
        match u32::try_from(pid).map_err(std::io::Error::other).and_then(isinit_client::pidwait::pidfd) {
            Ok(fd) => {
                tokio::spawn(async move {
                    isinit_client::pidwait::wait_pidfd(fd).await;
                    let _ = tx.send(pid);
                });
            }
            // Already gone (or no pidfds): handle its end now.
            Err(_) => {
                let _ = tx.send(pid);
            }
        }
    }

    /// An adopted process ended; its status cannot be had. (A followed
    /// `MAINPID=` that is our child is reaped first, with its status.)
    pub(super) fn adopted_exited(&mut self, pid: i32) {
        self.reap();
        let now = Now::real();
        self.sup.child_exited(now, pid, ExitStatus::Unknown);
        self.sweep(now);
        self.save_state();
    }
}

/// Answers the `reexec` request on its connection, from the new image;
/// `said`: what the operator must also learn (an invalid file on disk,
/// one line per error, as `reload` reports it).
pub async fn answer_reexec(conn: OwnedFd, said: Vec<String>) {
    let mut message = format!("re-executed: isinit {} (pid {})", env!("CARGO_PKG_VERSION"), std::process::id());
    for line in said {
        message.push('\n');
        message.push_str(&line);
    }
    let std = std::os::unix::net::UnixStream::from(conn);
    let _ = super::handover::set_cloexec(&std, true);
    if std.set_nonblocking(true).is_err() {
        return;
    }
    let Ok(mut stream) = tokio::net::UnixStream::from_std(std) else { return };
    let reply = Response::Ok { message };
    let send = isinit_client::frame::write_message(&mut stream, &reply);
    if tokio::time::timeout(REPLY_LIMIT, send).await.is_err() {
        tracing::warn!("the reexec client did not take its reply");
    }
}
