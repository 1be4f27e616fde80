//! The runtime's side of process tracking by cgroup (SPEC §14): placing
//! each spawn in its entry's cgroup, stop signals through it, sweeps when
//! a cgroup empties, and what a previous daemon left in them.

use super::leftovers::Leftover;
use super::usage::Source;
use super::{Runtime, spawn};
use crate::cgroup::{Tracker, Watch};
use isinit_core::{Now, SpawnRequest, StopSignal, Supervisor};
use isinit_shared::protocol::ExitStatus;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::collections::HashSet;
use std::os::fd::AsFd;
use std::path::PathBuf;

impl Runtime {
    /// Starts tracking by cgroup if the settings found a ROOT, and maps
    /// the process groups the supervisor already has (handed over by
    /// `reexec`) back to their entries' cgroups. Needs the tokio runtime.
    pub fn enable_cgroups(&mut self) {
        let Some(root) = self.settings.cgroup.clone() else { return };
        let (watch, events) = match Watch::start() {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!("cgroups: cannot watch cgroup.events ({e}); tracking by process group only");
                return;
            }
        };
        let mut tracker = Tracker::new(root, watch);
        for (group, tag, pgids) in self.sup.live_records() {
            let dir = tracker.dir_of(&group, &tag);
            if dir.is_dir() {
                for pgid in pgids {
                    tracker.track(pgid, dir.clone(), &group, &tag);
                }
            }
        }
        self.cgroups = Some(tracker);
        self.cgroup_events = Some(events);
    }

    /// Carries out a run of spawns, in the order given as far as the
    /// results go: each inside its entry's cgroup when tracking by cgroup,
    /// else as a plain process group. The cgroups are made first, here;
    /// the spawns themselves run on up to [`spawn::spawners`] threads
    /// ([`spawn::in_parallel`]), since each one waits for its child's
    /// `execve`, which a second core can overlap. Each child is collected
    /// through its pidfd while the descriptor budget allows
    /// ([`reap::ChildExits::room`](super::reap::ChildExits::room)), else
    /// by the SIGCHLD sweep.
    pub(super) fn spawn_batch(&mut self, reqs: &[SpawnRequest]) -> Vec<Result<i32, String>> {
        let cannot_open =
            |dir: &std::path::Path, e: std::io::Error| format!("cannot open cgroup {}: {e}", dir.display());
        let dirs: Vec<Result<Option<PathBuf>, String>> = reqs
            .iter()
            .map(|req| match self.cgroups.as_mut() {
                None => Ok(None),
                Some(tracker) => tracker
                    .prepare(&req.group, &req.tag)
                    .map(Some)
                    .map_err(|e| cannot_open(&tracker.dir_of(&req.group, &req.tag), e)),
            })
            .collect();
        // The held sockets (`:::listen:`) are bound before the spawns,
        // here; an entry whose socket cannot be bound does not start.
        let config = self.sup.config();
        let bound: Vec<Result<(), String>> = reqs.iter().map(|req| self.listen.ensure(config, &req.tag)).collect();
        let listen: Vec<Vec<std::os::fd::BorrowedFd<'_>>> =
            reqs.iter().map(|req| self.listen.of(config, &req.tag)).collect();
        let (logdir, socket) = (&self.settings.logdir, &self.settings.socket);
        let room = self.exits.room();
        let started = spawn::in_parallel(reqs.len(), |i| match (&dirs[i], &bound[i]) {
            (_, Err(e)) => Err(e.clone()),
            (Ok(None), Ok(())) => spawn::spawn(&reqs[i], logdir, socket, None, &listen[i], i < room),
            (Ok(Some(dir)), Ok(())) => {
                let fd = crate::cgroup::open_for_clone(dir).map_err(|e| cannot_open(dir, e))?;
                spawn::spawn(&reqs[i], logdir, socket, Some(fd.as_fd()), &listen[i], i < room)
            }
            (Err(e), Ok(())) => Err(e.clone()),
        });
        drop(listen);
        let results: Vec<Result<i32, String>> = started
            .into_iter()
            .map(|started| {
                let started = started?;
                self.exits.started(started.pid, started.pidfd);
                Ok(started.pid)
            })
            .collect();
        if let Some(tracker) = self.cgroups.as_mut() {
            for ((req, dir), result) in reqs.iter().zip(dirs).zip(&results) {
                if let (Ok(Some(dir)), Ok(pid)) = (dir, result) {
                    tracker.track(*pid, dir, &req.group, &req.tag);
                }
            }
        }
        self.report_new_group_limits();
        results
    }

    /// Sends a stop signal to what the process group `pgid` stands for:
    /// every process of its cgroup if it has one, else the process group.
    /// `sent` holds the (cgroup, signal) pairs of this batch of effects:
    /// the process groups of one entry share its cgroup, and its processes
    /// must get each signal once (a second SIGINT means "hurry" to many).
    pub(super) fn send_stop(&self, pgid: i32, signal: StopSignal, sent: &mut HashSet<(PathBuf, StopSignal)>) {
        let sig = match signal {
            StopSignal::Int => Signal::SIGINT,
            StopSignal::Term => Signal::SIGTERM,
            StopSignal::Kill => Signal::SIGKILL,
        };
        if let Some(dir) = self.cgroups.as_ref().and_then(|t| t.cgroup_of(pgid)) {
            if sent.insert((dir.to_owned(), signal)) {
                tracing::debug!("sending {sig} to cgroup {}", dir.display());
                crate::cgroup::signal(dir, sig);
            }
            return;
        }
        tracing::debug!("sending {sig} to process group {pgid}");
        if let Err(e) = killpg(Pid::from_raw(pgid), sig)
            && e != nix::errno::Errno::ESRCH
        {
            tracing::warn!("cannot send {sig} to process group {pgid}: {e}");
        }
    }

    /// A reaped leader's status as its exit history shows it: a SIGKILL
    /// that came with an `oom_kill` in its cgroup is the OOM killer's.
    pub(super) fn oom_kill_seen(&self, pid: i32, status: ExitStatus) -> ExitStatus {
        let by_oom = status == ExitStatus::Signal(Signal::SIGKILL as i32)
            && self.cgroups.as_ref().is_some_and(|t| t.oom_killed_since_start(pid));
        if by_oom {
            tracing::warn!("pid {pid} was killed by the OOM killer");
            return ExitStatus::OomKilled;
        }
        status
    }

    /// The supervisor's sweep with the cgroup-aware liveness probe.
    pub(super) fn sweep(&mut self, now: Now) {
        self.sup.sweep(now, crate::cgroup::probe(self.cgroups.as_ref()));
        // What the sweep dropped is forgotten now: without cgroups too,
        // so that it never piles up.
        self.tidy_cgroups();
    }

    /// A watched cgroup's `populated` changed: sweep (a stop may have
    /// finished, an exited `once` may have lost its last background job),
    /// then forget what is gone and remove empty cgroups nobody needs.
    pub(super) fn cgroup_changed(&mut self) {
        self.sweep(Now::real());
        self.tidy_cgroups();
        self.save_state();
    }

    /// Forgets process groups the supervisor dropped; removes the empty
    /// cgroups of entries the file no longer has (in that group) and that
    /// have no record left. The cgroup of an entry still in the file is
    /// kept while it is stopped: making and removing a cgroup costs the
    /// kernel far more than starting a process, and a group switched back
    /// and forth would pay it on every switch.
    pub(super) fn tidy_cgroups(&mut self) {
        let dropped = self.sup.take_dropped(self.cgroups.is_some());
        let Some(tracker) = self.cgroups.as_mut() else { return };
        let sup = &self.sup;
        let wanted =
            |group: &str, tag: &str| sup.has_record(tag) || sup.config().entry(tag).is_some_and(|e| e.group == group);
        if dropped.all {
            let tracked: HashSet<i32> = sup.live_records().into_iter().flat_map(|(_, _, pgids)| pgids).collect();
            tracker.tidy(&tracked, wanted);
        } else if !dropped.pgids.is_empty() || !dropped.forgotten.is_empty() {
            // A pgid dropped and already a new leader's (a pid reused at
            // once) stays.
            let pgids: Vec<i32> = dropped.pgids.into_iter().filter(|g| !sup.is_leader(*g)).collect();
            tracker.tidy_some(&pgids, &dropped.forgotten, wanted);
        }
    }

    /// At a clean shutdown: every entry cgroup, and ROOT if ours, removed.
    pub(super) fn remove_cgroups(&mut self) {
        if let Some(tracker) = self.cgroups.as_mut() {
            tracker.remove_all();
        }
    }

    /// What a previous daemon on this socket left running: processes
    /// marked with the socket in their environment, and every process in
    /// an entry cgroup under ROOT (empty entry cgroups are removed).
    pub fn leftovers(&self) -> Vec<Leftover> {
        let by_env = super::leftovers::find(&self.settings.socket);
        match &self.cgroups {
            Some(tracker) => super::leftovers::merge_cgroup_members(by_env, tracker.find_left()),
            None => by_env,
        }
    }

    /// After adoption: the process groups of leftovers in cgroups that were
    /// adopted are tracked by cgroup; a leftover in the cgroup of an entry
    /// that has a record at the restored level (the double-forked daemon
    /// of a settled `once`), and that still carries that entry's mark, is
    /// kept as that record's. Returns the rest.
    pub(super) fn keep_in_cgroups(
        &mut self,
        adopted_groups: &[i32],
        rest: Vec<Leftover>,
        all: &[Leftover],
    ) -> Vec<Leftover> {
        let Some(tracker) = self.cgroups.as_mut() else { return rest };
        for l in all.iter().filter(|l| adopted_groups.contains(&l.pgid)) {
            if let (Some(dir), Some(group)) = (&l.cgroup, self.sup.config().entry(&l.tag).map(|e| e.group.clone())) {
                tracker.track(l.pgid, dir.clone(), &group, &l.tag);
            }
        }
        let mut strays = Vec::new();
        for l in rest {
            // Only a process still carrying the mark of the entry as the
            // file now has it: one whose command changed is stopped.
            let entry =
                self.sup.config().entry(&l.tag).filter(|e| l.mark.as_deref() == Some(&Supervisor::entry_mark(e)));
            let group = entry.map(|e| e.group.clone());
            match (&l.cgroup, group) {
                (Some(dir), Some(group))
                    if *dir == tracker.dir_of(&group, &l.tag) && self.sup.keep_lingering(&l.tag, l.pgid) =>
                {
                    tracing::info!("{}: kept pid {} left running in {}", l.tag, l.pid, dir.display());
                    tracker.track(l.pgid, dir.clone(), &group, &l.tag);
                }
                _ => strays.push(l),
            }
        }
        strays
    }

    /// What the usage sampler reads for each entry with something running:
    /// its cgroup when it has one, else its process groups.
    pub(super) fn usage_sources(&self) -> Vec<(String, Vec<Source>)> {
        self.sup
            .live_records()
            .into_iter()
            .map(|(group, tag, pgids)| {
                let cgroup = self.cgroups.as_ref().and_then(|t| t.entry_cgroup(&group, &tag));
                let sources = match cgroup {
                    Some(dir) => vec![Source::Cgroup(dir)],
                    None => pgids.into_iter().map(Source::Group).collect(),
                };
                (tag, sources)
            })
            .collect()
    }
}
