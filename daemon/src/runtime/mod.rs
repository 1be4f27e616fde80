//! The runtime: the one task that owns the [`Supervisor`], fed by client
//! commands, child exits (SIGCHLD), its own deadlines and daemon signals,
//! and the I/O that carries out the supervisor's effects.

mod actions;
mod cgroups;
mod command;
mod effects;
mod exhaustion;
pub mod handover;
pub mod in_force;
pub mod leftovers;
mod limits;
mod listen;
mod mainpid;
pub mod node_health;
pub mod output;
mod owned;
mod probes;
pub mod readiness;
pub mod reap;
mod reexec;
mod reload;
mod replace;
mod restore;
mod signal_names;
pub mod signals;
pub mod spawn;
pub mod state;
mod statusfile;
pub mod usage;
mod writer;

use statusfile::StatusFile;

pub use command::{Command, Outcome, Peer};
pub use reexec::ReexecKit;
pub use restore::answer_reexec;

use isinit_client::sleep_until;
use isinit_core::{Now, Supervisor, Timing};
use isinit_shared::config::Inittab;
use isinit_shared::protocol::{
    AUDIT_KEPT, AuditRecord, DaemonInfo, ErrorKind, ErrorReply, Event, NOTICES_KEPT, NoticeRecord, Snapshot, Update,
};
use std::collections::VecDeque;
use std::path::PathBuf;
use tokio::sync::{broadcast, mpsc, watch};

/// Where the daemon keeps its files and how patient it is, resolved once at
/// start-up (flag > environment > directive > default).
#[derive(Debug, Clone)]
pub struct Settings {
    /// The isinittab, re-read on every tell and reload.
    pub config: PathBuf,
    /// The control socket.
    pub socket: PathBuf,
    /// The status file.
    pub initstat: PathBuf,
    /// The state file: told levels, kept across daemon restarts.
    pub state: PathBuf,
    /// Where each tag's output file lives.
    pub logdir: PathBuf,
    /// A tag's output file is rotated past this size.
    pub log_max_bytes: u64,
    /// Respawn pause and stop escalation delays.
    pub timing: Timing,
    /// ROOT of the entry cgroups (SPEC §14); `None`: process groups only.
    pub cgroup: Option<crate::cgroup::Root>,
}

/// How many updates a subscriber may fall behind before it is resynchronised.
const UPDATE_BUFFER: usize = 4096;
/// Spawns carried out between two yields to the other tasks: four per
/// spawner thread.
const SPAWN_BATCH: usize = 4 * spawn::SPAWNERS;

/// The runtime task's state. See the module documentation.
pub struct Runtime {
    sup: Supervisor,
    settings: Settings,
    info: watch::Sender<DaemonInfo>,
    seq: u64,
    /// Shared, not copied: the ring holds [`UPDATE_BUFFER`] of them (a
    /// pointer each rather than a whole event: 1.3 MB less at rest), and
    /// each subscriber takes a reference rather than a deep copy.
    updates: broadcast::Sender<std::sync::Arc<Update>>,
    audit: VecDeque<AuditRecord>,
    notices: VecDeque<NoticeRecord>,
    status_file: Option<StatusFile>,
    /// Restarts and retries accepted but not yet answered (`actions.rs`).
    pending: Vec<actions::PendingStart>,
    state_writer: Option<state::StateWriter>,
    /// The copy of the file in force beside the state file (`in_force.rs`).
    in_force: Option<in_force::InForce>,
    reexec: Option<ReexecKit>,
    output: Option<output::OutputHub>,
    /// The children collected by pidfd (`reap.rs`).
    exits: reap::ChildExits,
    /// When the walk for children no pidfd covers is due (`reap.rs`).
    walk_due: Option<std::time::Instant>,
    /// When the free heap is to be handed back (`effects.rs`).
    trim_due: Option<std::time::Instant>,
    /// Pids of adopted processes that ended, from their pidfd watchers.
    adopted_exits: (mpsc::UnboundedSender<i32>, mpsc::UnboundedReceiver<i32>),
    /// Entry cgroups, when tracking by cgroup (`cgroups.rs`).
    cgroups: Option<crate::cgroup::Tracker>,
    /// One `()` per batch of `cgroup.events` changes.
    cgroup_events: Option<mpsc::UnboundedReceiver<()>>,
    /// The tags whose output is captured, for the output actor.
    output_tags: watch::Sender<output::TagSet>,
    /// Without cgroups: the limits last reported as not applied, so a
    /// reload that leaves them alone does not say so again (`limits.rs`).
    limits_said: Vec<String>,
    /// Liveness checks waiting and running (SPEC §17, `probes/`).
    probes: probes::Probes,
    /// Host limits met by starts, and when they were last said.
    exhausted: exhaustion::Said,
    /// Listening sockets held for entries (`:::listen:`, SPEC §17).
    listen: listen::HeldSockets,
}

impl Runtime {
    /// A runtime for an already validated isinittab.
    pub fn new(settings: Settings, config: Inittab) -> Runtime {
        let now = Now::real();
        let info = DaemonInfo {
            hostname: nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default(),
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            protocol: isinit_shared::protocol::PROTOCOL_VERSION,
            config_path: config.path.display().to_string(),
            config_sha256: config.sha256.clone(),
            started_at_ms: now.wall_ms,
            now_ms: now.wall_ms,
            halting: false,
            tells_total: 0,
            clients_connected: 0,
        };
        let sup = Supervisor::new(config, settings.timing, now);
        Runtime {
            output_tags: watch::Sender::new(std::sync::Arc::new(sup.known_tags())),
            sup,
            settings,
            info: watch::Sender::new(info),
            seq: 0,
            updates: broadcast::channel(UPDATE_BUFFER).0,
            audit: VecDeque::new(),
            notices: VecDeque::new(),
            status_file: None,
            pending: Vec::new(),
            state_writer: None,
            in_force: None,
            reexec: None,
            output: None,
            exits: reap::ChildExits::default(),
            walk_due: None,
            trim_due: None,
            adopted_exits: mpsc::unbounded_channel(),
            cgroups: None,
            cgroup_events: None,
            limits_said: Vec::new(),
            probes: probes::Probes::default(),
            exhausted: exhaustion::Said::default(),
            listen: listen::HeldSockets::default(),
        }
    }

    /// Lets the runtime re-execute the daemon (`isinit reexec`) and hand
    /// over the output positions of `output`.
    pub fn with_reexec(mut self, kit: ReexecKit, output: output::OutputHub) -> Runtime {
        self.reexec = Some(kit);
        self.output = Some(output);
        self
    }

    /// The daemon identity, kept current for the server's hello replies.
    pub fn info(&self) -> watch::Receiver<DaemonInfo> {
        self.info.subscribe()
    }

    /// The tags whose output is captured, kept current for the output
    /// actor: set at start and on every reload (defect 3d: nothing else is
    /// ever captured, and tags that leave are dropped).
    pub fn output_tags(&self) -> watch::Receiver<output::TagSet> {
        self.output_tags.subscribe()
    }

    /// Publishes the tag set after the file or the records changed.
    fn publish_output_tags(&self) {
        let tags = self.sup.known_tags();
        self.output_tags.send_if_modified(|current| {
            if **current == tags {
                return false;
            }
            *current = std::sync::Arc::new(tags);
            true
        });
    }

    /// Runs until shutdown has stopped every process; then removes the
    /// status file.
    pub async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        signals: signals::Signals,
    ) -> std::io::Result<()> {
        let signals::Signals { child: mut sigchld, hangup: mut sighup, terminate: mut sigterm, interrupt: mut sigint } =
            signals;
        self.status_file = Some(StatusFile::start(self.settings.initstat.clone()));
        if self.state_writer.is_none() {
            self.state_writer = Some(state::StateWriter::start(self.settings.state.clone())?);
        }
        match in_force::InForce::start(&self.settings.state) {
            Ok(mut copy) => {
                let config = self.sup.config();
                copy.keep(&config.sha256, config.text.clone());
                self.in_force = Some(copy);
            }
            Err(e) => tracing::warn!("no copy of the isinittab in force is kept: {e}"),
        }
        if self.cgroups.is_none() {
            self.enable_cgroups(); // the new image of a reexec
            self.resume_limits();
        }
        // Followed MAINPIDs too (the new image of a reexec): their parent
        // may reap them.
        for pid in self.sup.adopted_pids().into_iter().chain(self.sup.followed_pids()) {
            self.watch_adopted(pid);
        }
        self.exits.start();
        // The new image of a reexec: the old one's children, whose ends
        // are then learnt from pidfds too.
        self.exits.watch_children(reap::own_children());
        let mut readiness = readiness::Readiness::start(&self.settings.socket)?;
        // Children that exited before the handler was installed.
        self.reap();
        self.carry_out().await;
        readiness.track(&self.sup);
        loop {
            let timer = sleep_until(self.sup.next_deadline());
            let walk = sleep_until(self.walk_due);
            let trim = sleep_until(self.trim_due);
            tokio::select! {
                biased;
                senders = sigchld.recv() => self.child_signalled(&senders),
                () = self.exits.ended() => self.collect_exits(),
                () = walk => self.reap(),
                () = trim => self.trim_heap(),
                Some(pid) = self.adopted_exits.1.recv() => self.adopted_exited(pid),
                Some(()) = next_event(&mut self.cgroup_events) => self.cgroup_changed(),
                () = timer => {
                    let now = Now::real();
                    self.sup.fire_timers(now);
                    self.sweep(now);
                }
                Some(cmd) = commands.recv() => {
                    let told = matches!(cmd, Command::Tell { .. });
                    match cmd {
                        Command::Reexec { peer, conn, reply } => {
                            self.record_audit(peer, "reexec".to_string());
                            self.begin_reexec(conn, reply);
                        }
                        Command::ReexecChecked { conn, reply, checked } => {
                            self.finish_reexec(conn, reply, checked).await
                        }
                        cmd => self.handle(cmd),
                    }
                    // Let the connection task send its reply before the
                    // effects run: a tell returns once the switch started.
                    tokio::task::yield_now().await;
                    if told {
                        // The client just answered usually shares this CPU
                        // (the scheduler places a woken reader beside its
                        // writer): let it print and exit before the spawns
                        // start, rather than wait behind them.
                        std::thread::yield_now();
                    }
                }
                Some(n) = readiness.messages.recv() => {
                    if let Some((tag, pid)) = readiness.deliver(&mut self.sup, n) {
                        self.main_pid_reported(&tag, pid);
                    }
                }
                Some(answer) = self.probes.answers.recv() => self.probe_answered(answer),
                _ = sighup.recv() => {
                    if let Err(e) = self.reload() {
                        tracing::error!("reload on SIGHUP refused, nothing changed:\n{}", e.details.join("\n"));
                    }
                }
                _ = sigterm.recv() => self.shutdown("SIGTERM", true),
                _ = sigint.recv() => self.shutdown("SIGINT", true),
            }
            if self.carry_out().await {
                break;
            }
            self.release_sockets();
            readiness.track(&self.sup);
            self.answer_pending();
        }
        self.probes.kill_checks();
        self.listen.close_all();
        self.remove_cgroups();
        if let Some(status_file) = self.status_file.take() {
            status_file.remove().await;
        }
        // A clean shutdown stopped everything: nothing is left to restore.
        if let Some(state) = self.state_writer.take() {
            state.remove().await;
        }
        if let Some(copy) = self.in_force.take() {
            copy.remove().await;
        }
        Ok(())
    }

    /// Closes the held sockets of entries that left their level or the
    /// file (SPEC §17); the others stay open between two processes.
    fn release_sockets(&mut self) {
        if !self.listen.is_empty() {
            let sup = &self.sup;
            self.listen.release_unwanted(sup.config(), |tag| sup.wants(tag));
        }
    }

    /// Collects every child that ended: what the pidfds say, and the
    /// walk of every child for the rest (`reap.rs`).
    fn reap(&mut self) {
        self.walk_due = None;
        let mut reaped = self.exits.collect();
        reaped.extend(reap::reap_all());
        self.reaped(reaped);
    }

    /// After SIGCHLD: what the pidfds say ended, and the walk only if
    /// someone else sent it — else within [`reap::WALK_AFTER`].
    fn child_signalled(&mut self, senders: &signals::Senders) {
        let mut reaped = self.exits.collect();
        if self.exits.explains(senders) {
            self.walk_due.get_or_insert_with(|| std::time::Instant::now() + reap::WALK_AFTER);
        } else {
            self.walk_due = None;
            reaped.extend(reap::reap_all());
        }
        self.reaped(reaped);
    }

    /// Collects what the pidfds say ended, without the walk.
    fn collect_exits(&mut self) {
        let reaped = self.exits.collect();
        self.reaped(reaped);
    }

    fn reaped(&mut self, reaped: Vec<(i32, isinit_shared::protocol::ExitStatus)>) {
        if reaped.is_empty() {
            return;
        }
        let now = Now::real();
        for (pid, status) in reaped {
            if self.check_reaped(pid, status) || self.probes.reaped(pid, status) {
                continue;
            }
            let status = self.oom_kill_seen(pid, status);
            self.sup.child_exited(now, pid, status);
        }
        self.sweep(now);
        self.save_state();
    }

    /// Begins shutdown. A second SIGTERM or SIGINT while halting (Ctrl-C
    /// pressed again) kills what is left at once; a repeated `isinit
    /// shutdown` only waits, so a retrying script cannot SIGKILL services.
    fn shutdown(&mut self, why: &str, hurry_if_repeated: bool) {
        if !self.sup.is_halting() {
            crate::notify::stopping(); // sd_notify: STOPPING=1
            tracing::info!("{why}: shutting down, stopping every process");
            self.sup.shutdown(Now::real());
        } else if hurry_if_repeated {
            tracing::warn!("{why} again while shutting down: killing every process now");
            self.sup.hurry();
        }
    }

    fn handle(&mut self, cmd: Command) {
        let now = Now::real();
        self.sweep(now);
        match cmd {
            Command::Tell { group, level, asker, peer, reply } => {
                let owner = self.sup.owner(&group).cloned();
                let outcome = self.tell(&group, &level, &asker);
                if outcome.is_err() {
                    let _ = reply.send(outcome);
                    return;
                }
                self.info.send_modify(|i| i.tells_total = i.tells_total.saturating_add(1)); // metrics: isinit_tells_total
                self.record_audit(peer, owned::audit_text(&group, &level, &asker, owner.as_ref()));
                self.reply_once_saved(reply, outcome);
            }
            Command::Plan { group, level, reply } => {
                let plan = match self.reread() {
                    Ok(newer) => self.sup.plan(newer.as_ref().unwrap_or(self.sup.config()), &group, &level),
                    Err(e) => isinit_shared::protocol::Plan {
                        group,
                        level,
                        error: Some(format!("{}\n{}", e.message, e.details.join("\n"))),
                        ..Default::default()
                    },
                };
                let _ = reply.send(plan);
            }
            Command::Status { reply } => {
                let _ = reply.send(self.snapshot(true));
                self.trim_later();
            }
            Command::Groups { reply } => {
                let _ = reply.send(self.snapshot(false));
            }
            Command::Reload { peer, reply } => {
                let outcome = self.reload();
                if outcome.is_ok() {
                    self.record_audit(peer, "reload".to_string());
                }
                let _ = reply.send(outcome);
            }
            Command::Shutdown { peer, reply } => {
                self.record_audit(peer, "shutdown".to_string());
                self.shutdown("shutdown requested", false);
                let _ = reply.send(Ok("shutting down".to_string()));
            }
            Command::Subscribe { reply } => {
                let _ = reply.send((self.snapshot(true), self.updates.subscribe()));
                self.trim_later();
            }
            Command::KnowsTag { tag, reply } => {
                let _ = reply.send(self.sup.knows_tag(&tag));
            }
            Command::Restart { tag, peer, reply } => self.restart(tag, peer, reply),
            Command::Retry { tag, peer, reply } => self.retry(tag, peer, reply),
            Command::Signal { tag, signal, peer, reply } => {
                let _ = reply.send(self.signal(&tag, &signal, peer));
            }
            Command::LiveGroups { reply } => {
                let _ = reply.send(self.usage_sources());
            }
            Command::Reexec { reply, .. } | Command::ReexecChecked { reply, .. } => {
                let _ = reply.send(Err(ErrorReply::new(ErrorKind::Rejected, "reexec is handled by the run loop")));
            }
            Command::Notice { message } => {
                let notice = NoticeRecord { at_ms: now.wall_ms, message };
                push_capped(&mut self.notices, notice.clone(), NOTICES_KEPT);
                self.publish(Event::Notice { at_ms: notice.at_ms, message: notice.message });
            }
            Command::Timeline { group, reply } => {
                let _ = reply.send(self.sup.last_switch(&group));
            }
            Command::RunningConfig { reply } => {
                let config = self.sup.config();
                let _ = reply.send((self.settings.config.clone(), config.sha256.clone(), config.text.clone()));
            }
        }
    }

    fn record_audit(&mut self, peer: Peer, request: String) {
        let pid = peer.pid.map(|p| p.to_string()).unwrap_or_else(|| "?".into());
        tracing::info!("audit: uid {} pid {pid}: {request}", peer.uid);
        let record = AuditRecord { at_ms: Now::real().wall_ms, uid: peer.uid, pid: peer.pid, request };
        push_capped(&mut self.audit, record.clone(), AUDIT_KEPT);
        self.publish(Event::Audit(record));
    }

    fn publish(&mut self, event: Event) {
        self.seq += 1;
        // No subscriber is not an error.
        let _ = self.updates.send(std::sync::Arc::new(Update { seq: self.seq, event }));
    }

    /// The snapshot a client asks for; without process rows unless
    /// `processes`.
    fn snapshot(&self, processes: bool) -> Box<Snapshot> {
        let mut daemon = self.info.borrow().clone();
        daemon.now_ms = Now::real().wall_ms;
        daemon.halting = self.sup.is_halting();
        Box::new(Snapshot {
            seq: self.seq,
            daemon,
            groups: self.sup.groups(),
            processes: if processes { self.sup.processes() } else { Vec::new() },
            audit: self.audit.iter().cloned().collect(),
            notices: self.notices.iter().cloned().collect(),
        })
    }
}

/// Appends to a bounded history, dropping the oldest entry past `cap`.
fn push_capped<T>(history: &mut VecDeque<T>, item: T, cap: usize) {
    history.push_back(item);
    if history.len() > cap {
        history.pop_front();
    }
}

/// The next batch of cgroup changes; never, without cgroups.
async fn next_event(events: &mut Option<mpsc::UnboundedReceiver<()>>) -> Option<()> {
    match events {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}
