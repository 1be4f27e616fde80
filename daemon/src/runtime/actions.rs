//! Carrying out the actions on one process (SPEC §13) for the runtime:
//! auditing them, sending signals, and answering a restart or retry only
//! once the new process runs — or could not start, or was overtaken.

use super::{Outcome, Peer, Runtime, signal_names};
use isinit_core::{Now, StartProgress, StartTicket};
use isinit_shared::protocol::{ErrorKind, ErrorReply};
use nix::errno::Errno;
use nix::sys::signal::killpg;
use nix::unistd::Pid;
use tokio::sync::oneshot;

/// Which of the two actions that start a process again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StartKind {
    Restart,
    Retry,
}

impl StartKind {
    /// The request's name, as the audit trail records it.
    fn verb(self) -> &'static str {
        match self {
            StartKind::Restart => "restart",
            StartKind::Retry => "retry",
        }
    }

    /// For the reply: `restarted mta: running as pid 42`.
    fn past(self) -> &'static str {
        match self {
            StartKind::Restart => "restarted",
            StartKind::Retry => "retried",
        }
    }
}

/// A restart or retry waiting for its new process.
pub(super) struct PendingStart {
    kind: StartKind,
    ticket: StartTicket,
    reply: oneshot::Sender<Outcome>,
}

impl Runtime {
    pub(super) fn restart(&mut self, tag: String, peer: Peer, reply: oneshot::Sender<Outcome>) {
        let accepted = self.sup.restart_entry(Now::real(), &tag);
        self.accept_start(StartKind::Restart, tag, peer, accepted, reply);
    }

    pub(super) fn retry(&mut self, tag: String, peer: Peer, reply: oneshot::Sender<Outcome>) {
        let accepted = self.sup.retry(Now::real(), &tag);
        self.accept_start(StartKind::Retry, tag, peer, accepted, reply);
    }

    fn accept_start(
        &mut self,
        kind: StartKind,
        tag: String,
        peer: Peer,
        accepted: Result<StartTicket, ErrorReply>,
        reply: oneshot::Sender<Outcome>,
    ) {
        match accepted {
            Ok(ticket) => {
                self.record_audit(peer, format!("{} {tag}", kind.verb()));
                self.pending.push(PendingStart { kind, ticket, reply });
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
                StartProgress::Running(pid) => Ok(format!("{} {tag}: running as pid {pid}", p.kind.past())),
                StartProgress::Exited(status) => {
                    Ok(format!("{} {tag}: it has already exited ({status})", p.kind.past()))
                }
                StartProgress::Failed(why) => {
                    Err(ErrorReply::new(ErrorKind::Rejected, format!("{tag} could not be started: {why}")))
                }
                StartProgress::Abandoned(why) => {
                    Err(ErrorReply::new(ErrorKind::Rejected, format!("{} of {tag} abandoned: {why}", p.kind.verb())))
                }
            };
            // The client may have gone away meanwhile; the action stands.
            let _ = p.reply.send(outcome);
        }
    }

    /// `signal TAG SIGNAL`: sent to every process group of the entry.
    pub(super) fn signal(&mut self, tag: &str, text: &str, peer: Peer) -> Outcome {
        let signal = signal_names::parse(text)?;
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
