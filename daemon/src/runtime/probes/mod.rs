//! Running the checks the supervisor asks for (SPEC §17): each as a task
//! of its own under its timeout, at most [`MAX_RUNNING`] at once, so that
//! a thousand probed services or a hung network never block the runtime.
//! Every check ends in one [`Answer`] to the run loop, which hands it to
//! `Supervisor::probed`.
//!
//! An `exec:` check is started like an entry's command (its environment,
//! its own process group, its output appended to the entry's output file)
//! but outside the entry's cgroup, so that it neither counts as one of the
//! entry's processes nor outlives a stop of it. Its exit is collected by
//! the run loop's one reaper ([`Runtime::reap`], STYLE.md trap 4) and passed
//! here by [`Probes::reaped`].

mod check;

use super::Runtime;
use isinit_core::{Now, ProbeRequest, SpawnRequest};
use isinit_shared::config::Check;
use isinit_shared::protocol::ExitStatus;
use std::collections::{HashMap, VecDeque};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Checks running at once; more wait their turn in a queue. Enough for
/// every service of a host checked in parallel, few enough that a burst
/// of `exec:` checks cannot fork-bomb it.
pub const MAX_RUNNING: usize = 32;

/// How one check ended.
#[derive(Debug)]
pub struct Answer {
    /// The entry checked.
    pub tag: String,
    /// The run checked.
    pub pid: i32,
    /// `Ok` if it passed, else why not.
    pub result: Result<(), String>,
}

/// The checks waiting and running. Owned by the runtime task.
pub struct Probes {
    queue: VecDeque<ProbeRequest>,
    running: usize,
    answers_tx: mpsc::UnboundedSender<Answer>,
    /// Finished checks, for the run loop.
    pub answers: mpsc::UnboundedReceiver<Answer>,
    /// `exec:` checks running: pid → who waits for its exit status.
    children: HashMap<i32, oneshot::Sender<ExitStatus>>,
}

impl Default for Probes {
    fn default() -> Self {
        let (answers_tx, answers) = mpsc::unbounded_channel();
        Probes { queue: VecDeque::new(), running: 0, answers_tx, answers, children: HashMap::new() }
    }
}

impl Probes {
    /// Kills every running `exec:` check (process group and all): the
    /// daemon is about to re-execute or exit, and nothing would time them
    /// out after. Their exits are reaped by whoever runs the loop next.
    pub fn kill_checks(&mut self) {
        for pid in self.children.keys() {
            let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(*pid), nix::sys::signal::Signal::SIGKILL);
        }
        self.children.clear();
    }

    /// Whether `pid` was an `exec:` check; its status then goes to the task
    /// waiting for it, and the supervisor never sees it.
    pub fn reaped(&mut self, pid: i32, status: ExitStatus) -> bool {
        match self.children.remove(&pid) {
            Some(tx) => {
                let _ = tx.send(status); // its task may have timed out already
                true
            }
            None => false,
        }
    }
}

impl Runtime {
    /// [`isinit_core::Effect::Probe`]: queue the check and start what the
    /// bound allows.
    pub(super) fn probe(&mut self, req: ProbeRequest) {
        self.probes.queue.push_back(req);
        self.start_probes();
    }

    /// A check finished: tell the supervisor, start the next one waiting.
    pub(super) fn probe_answered(&mut self, answer: Answer) {
        self.probes.running = self.probes.running.saturating_sub(1);
        if let Err(reason) = &answer.result {
            tracing::debug!("{}: probe failed: {reason}", answer.tag);
        }
        self.sup.probed(Now::real(), &answer.tag, answer.pid, answer.result);
        self.start_probes();
    }

    fn start_probes(&mut self) {
        while self.probes.running < MAX_RUNNING {
            let Some(req) = self.probes.queue.pop_front() else { return };
            self.probes.running += 1;
            let tx = self.probes.answers_tx.clone();
            let (tag, pid, timeout) = (req.tag.clone(), req.pid, req.timeout);
            let answer = move |result| Answer { tag, pid, result };
            match &req.check {
                Check::Tcp { host, port } => {
                    let (host, port) = (host.clone(), *port);
                    tokio::spawn(async move {
                        let result = within(timeout, async { check::tcp(&host, port).await.map(drop) }).await;
                        let _ = tx.send(answer(result));
                    });
                }
                Check::Http { host, port, path } => {
                    let (host, port, path) = (host.clone(), *port, path.clone());
                    tokio::spawn(async move {
                        let result = within(timeout, check::http(&host, port, &path)).await;
                        let _ = tx.send(answer(result));
                    });
                }
                Check::Exec(command) => match self.start_exec(&req, command) {
                    Ok((child, status)) => {
                        tokio::spawn(async move {
                            let waited = within(timeout, async {
                                match status.await {
                                    Ok(ExitStatus::Code(0)) => Ok(()),
                                    Ok(status) => Err(status.to_string()),
                                    Err(_) => Err("its exit status was lost".to_string()),
                                }
                            })
                            .await;
                            if waited.as_ref().is_err_and(|e| e.starts_with("timed out")) {
                                // Its process group, so that a shell's
                                // children go too; reaped by the run loop.
                                let _ = nix::sys::signal::killpg(
                                    nix::unistd::Pid::from_raw(child),
                                    nix::sys::signal::Signal::SIGKILL,
                                );
                            }
                            let _ = tx.send(answer(waited));
                        });
                    }
                    Err(reason) => {
                        let _ = tx.send(answer(Err(reason)));
                    }
                },
            }
        }
    }

    /// Starts an `exec:` check's command and registers it with the reaper
    /// before any SIGCHLD can be handled (both happen on this task).
    fn start_exec(
        &mut self,
        req: &ProbeRequest,
        command: &str,
    ) -> Result<(i32, oneshot::Receiver<ExitStatus>), String> {
        let spawn = SpawnRequest {
            group: req.group.clone(),
            tag: req.tag.clone(),
            level: req.level.clone(),
            command: command.to_string(),
            // Not the entry's mark: a daemon started after a crash must
            // never adopt a check as the entry's process.
            mark: String::new(),
            notify: false,
            watchdog_usec: None,
        };
        let pidfd = self.exits.room() > 0;
        let started = super::spawn::spawn(&spawn, &self.settings.logdir, &self.settings.socket, None, &[], pidfd)
            .map_err(|e| format!("cannot start the check: {e}"))?;
        let child = started.pid;
        self.exits.started(child, started.pidfd);
        let (tx, rx) = oneshot::channel();
        self.probes.children.insert(child, tx);
        Ok((child, rx))
    }
}

/// `check` under `timeout`: a check that takes longer failed.
async fn within(timeout: Duration, check: impl Future<Output = Result<(), String>>) -> Result<(), String> {
    match tokio::time::timeout(timeout, check).await {
        Ok(result) => result,
        Err(_) => Err(format!("timed out after {}s", timeout.as_secs_f64())),
    }
}
