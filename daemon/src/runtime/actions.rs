//! Carrying out the actions on one process (SPEC §13) for the runtime:
//! auditing them, sending signals, and answering a restart or retry only
//! once the new process runs — or could not start, or was overtaken.

use super::{Outcome, Peer, Runtime, signals};
use crate::supervisor::{Now, StartProgress, StartTicket};
use isinit_shared::protocol::{ErrorKind, ErrorReply};
use nix::errno::Errno;
use nix::sys::signal::killpg;
use nix::unistd::Pid;
use tokio::sync::oneshot;

/// A restart or retry waiting for its new process.
pub(super) struct PendingStart {
    /// `restart` or `retry`, for the reply.
    verb: &'static str,
    ticket: StartTicket,
    reply: oneshot::Sender<Outcome>,
}

impl Runtime {
    pub(super) fn restart(&mut self, tag: String, peer: Peer, reply: oneshot::Sender<Outcome>) {
        let accepted = self.sup.restart_entry(Now::real(), &tag);
        self.accept_start("restart", tag, peer, accepted, reply);
    }

    pub(super) fn retry(&mut self, tag: String, peer: Peer, reply: oneshot::Sender<Outcome>) {
        let accepted = self.sup.retry(Now::real(), &tag);
        self.accept_start("retry", tag, peer, accepted, reply);
    }

    fn accept_start(
        &mut self,
        verb: &'static str,
        tag: String,
        peer: Peer,
        accepted: Result<StartTicket, ErrorReply>,
        reply: oneshot::Sender<Outcome>,
    ) {
        match accepted {
            Ok(ticket) => {
                self.record_audit(peer, format!("{verb} {tag}"));
                self.pending.push(PendingStart { verb, ticket, reply });
            }
            Err(refusal) => {
                let _ = reply.send(Err(refusal));
            }
        }
    }

    /// Answers every restart and retry that has come to an end. Called
    /// after each round of effects, which is when a spawn is answered.
    pub(super) fn answer_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        for p in pending {
            let tag = &p.ticket.tag;
            let outcome = match self.sup.start_progress(&p.ticket) {
                StartProgress::Pending => {
                    self.pending.push(p);
                    continue;
                }
                StartProgress::Running(pid) => Ok(format!("{tag} {}ed: running as pid {pid}", p.verb)),
                StartProgress::Exited(status) => Ok(format!("{tag} {}ed, and has already exited ({status})", p.verb)),
                StartProgress::Failed(why) => {
                    Err(ErrorReply::new(ErrorKind::Rejected, format!("{tag} could not be started: {why}")))
                }
                StartProgress::Abandoned(why) => {
                    Err(ErrorReply::new(ErrorKind::Rejected, format!("{} of {tag} abandoned: {why}", p.verb)))
                }
            };
            // The client may have gone away meanwhile; the action stands.
            let _ = p.reply.send(outcome);
        }
    }

    /// `signal TAG SIGNAL`: sent to every process group of the entry.
    pub(super) fn signal(&mut self, tag: &str, text: &str, peer: Peer) -> Outcome {
        let signal = signals::parse(text)?;
        let pgids = self.sup.signal_targets(tag)?;
        let name = signal.as_str().trim_start_matches("SIG");
        self.record_audit(peer, format!("signal {tag} {name}"));
        let mut reached = Vec::new();
        for pgid in pgids {
            match killpg(Pid::from_raw(pgid), signal) {
                Ok(()) => reached.push(pgid.to_string()),
                Err(Errno::ESRCH) => {}
                Err(e) => tracing::warn!("cannot send {signal} to process group {pgid} of {tag}: {e}"),
            }
        }
        if reached.is_empty() {
            return Err(ErrorReply::new(ErrorKind::Rejected, format!("{tag}: no process group left to signal")));
        }
        tracing::info!("sent {signal} to {tag} (process group {})", reached.join(", "));
        Ok(format!("sent {} to {tag} (process group {})", signal.as_str(), reached.join(", ")))
    }
}
