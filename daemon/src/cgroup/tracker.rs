//! The runtime's map from the process groups the supervisor knows to the
//! cgroups their processes were started in.

use super::{Root, Watch, encode, fs, limits};
use isinit_shared::config::Limit;
use nix::sys::signal::Signal;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Entry cgroups in use and which process group lives in which.
pub struct Tracker {
    root: Root,
    watch: Watch,
    /// Process group (as the supervisor names it) → its entry's cgroup,
    /// the path shared with `dirs` (issue 22: not a copy per process).
    by_pgid: HashMap<i32, Arc<Path>>,
    /// Process group → its cgroup's `oom_kill` count when it started, so
    /// that its leader's SIGKILL can be told to be the OOM killer's.
    oom_kills_at_start: HashMap<i32, u64>,
    /// Entry cgroups made or adopted → (group, tag), for tidying up.
    dirs: BTreeMap<Arc<Path>, (String, String)>,
    /// The `:::limit:` lines in force, written into each group cgroup made.
    limits: Vec<Limit>,
    /// The controllers the last [`Tracker::apply_limits`] found enabled.
    enabled: BTreeSet<&'static str>,
    /// Limits a group cgroup made since could not take, for the runtime to
    /// report ([`Tracker::take_reports`]).
    reports: Vec<String>,
    /// Entry cgroups no longer wanted that were not empty yet when last
    /// tried: tried again by every tidy.
    busy: BTreeSet<PathBuf>,
    /// Group cgroups made (or found) with their controllers delegated and
    /// limits written: an entry's start in one makes only its own cgroup.
    groups_ready: BTreeSet<PathBuf>,
}

/// A process a previous daemon left in an entry cgroup under ROOT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The process.
    pub pid: i32,
    /// The entry cgroup it is in.
    pub dir: PathBuf,
    /// The tag the cgroup is named after.
    pub tag: String,
}

impl Tracker {
    /// A tracker placing entries under `root`, hearing of emptied cgroups
    /// through `watch`.
    pub fn new(root: Root, watch: Watch) -> Tracker {
        Tracker {
            root,
            watch,
            by_pgid: HashMap::new(),
            oom_kills_at_start: HashMap::new(),
            dirs: BTreeMap::new(),
            limits: Vec::new(),
            enabled: BTreeSet::new(),
            reports: Vec::new(),
            busy: BTreeSet::new(),
            groups_ready: BTreeSet::new(),
        }
    }

    /// Puts the file's `:::limit:` lines in force (at start and on every
    /// reload): written now into their group cgroups, and into each group
    /// cgroup made later. Returns a report per limit the host cannot apply.
    pub fn apply_limits(&mut self, limits: &[Limit]) -> Vec<String> {
        let (enabled, reports) = limits::apply(&self.root.path, limits);
        // Controllers may have changed: each group's are delegated again
        // at its next new entry.
        self.groups_ready.clear();
        self.limits = limits.to_vec();
        self.enabled = enabled;
        reports
    }

    /// Reports of limits a group cgroup made since the last call could not
    /// take (its controller was enabled, the write was refused).
    pub fn take_reports(&mut self) -> Vec<String> {
        std::mem::take(&mut self.reports)
    }

    /// ROOT.
    pub fn root(&self) -> &Root {
        &self.root
    }

    /// `ROOT/GROUP/TAG`.
    pub fn dir_of(&self, group: &str, tag: &str) -> PathBuf {
        self.root.path.join(encode(group)).join(encode(tag))
    }

    /// Makes (or finds) the cgroup of an entry about to start and watches
    /// it; [`open_for_clone`] opens it for the spawn itself.
    pub fn prepare(&mut self, group: &str, tag: &str) -> std::io::Result<PathBuf> {
        let dir = self.dir_of(group, tag);
        if !self.dirs.contains_key(dir.as_path()) {
            let parent = dir.parent().unwrap_or(&self.root.path).to_owned();
            if !self.groups_ready.contains(&parent) {
                self.prepare_group(group, &parent)?;
            }
            match fs::make(&dir) {
                // The group's cgroup went behind our back: made again.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    self.prepare_group(group, &parent)?;
                    fs::make(&dir)?;
                }
                other => other?,
            }
            self.watch.add(&dir)?;
            self.dirs.insert(dir.as_path().into(), (group.to_string(), tag.to_string()));
        }
        Ok(dir)
    }

    /// Makes (or finds) a group's cgroup, delegates its controllers and,
    /// if it is new, writes the group's limits into it: once per group, not
    /// per entry (issue 22: 950 first starts each read the controllers
    /// and wrote them again).
    fn prepare_group(&mut self, group: &str, parent: &Path) -> std::io::Result<()> {
        let fresh = !parent.is_dir();
        fs::make(parent)?;
        fs::delegate_controllers(parent);
        if fresh {
            let of_group: Vec<Limit> = self.limits.iter().filter(|l| l.group == group).cloned().collect();
            self.reports.extend(limits::write_group(parent, &of_group, &self.enabled));
        }
        self.groups_ready.insert(parent.to_owned());
        Ok(())
    }

    /// Records that the process group `pgid` started in `dir` (or was
    /// found there after a restart).
    pub fn track(&mut self, pgid: i32, dir: PathBuf, group: &str, tag: &str) {
        let dir = match self.dirs.get_key_value(dir.as_path()) {
            Some((known, _)) => Arc::clone(known),
            None => {
                if let Err(e) = self.watch.add(&dir) {
                    tracing::warn!("cannot watch {}: {e}", dir.display());
                }
                let dir: Arc<Path> = dir.into();
                self.dirs.insert(Arc::clone(&dir), (group.to_string(), tag.to_string()));
                dir
            }
        };
        if let Some(count) = fs::oom_kills(&dir) {
            self.oom_kills_at_start.insert(pgid, count);
        }
        self.by_pgid.insert(pgid, dir);
    }

    /// Whether the OOM killer killed a process of `pgid`'s cgroup since
    /// it started: asked when its leader died of SIGKILL. False where the
    /// memory controller is not enabled (nothing is counted there).
    pub fn oom_killed_since_start(&self, pgid: i32) -> bool {
        let Some(dir) = self.cgroup_of(pgid) else { return false };
        match (self.oom_kills_at_start.get(&pgid), fs::oom_kills(dir)) {
            (Some(&then), Some(now)) => now > then,
            _ => false,
        }
    }

    /// The cgroup of a process group the supervisor knows, if it has one.
    pub fn cgroup_of(&self, pgid: i32) -> Option<&Path> {
        self.by_pgid.get(&pgid).map(|dir| &**dir)
    }

    /// Sends `sig` to every process of the cgroup of `pgid`; false if
    /// `pgid` has no cgroup (then the caller signals the process group).
    pub fn signal(&self, pgid: i32, sig: Signal) -> bool {
        match self.cgroup_of(pgid) {
            Some(dir) => {
                fs::signal(dir, sig);
                true
            }
            None => false,
        }
    }

    /// The cgroup of an entry with a live record, for usage.
    pub fn entry_cgroup(&self, group: &str, tag: &str) -> Option<PathBuf> {
        let dir = self.dir_of(group, tag);
        self.dirs.contains_key(dir.as_path()).then_some(dir)
    }

    /// Forgets process groups the supervisor no longer tracks and removes
    /// the empty cgroups that are no longer `wanted(group, tag)`.
    pub fn tidy(&mut self, tracked: &std::collections::HashSet<i32>, wanted: impl Fn(&str, &str) -> bool) {
        self.by_pgid.retain(|pgid, _| tracked.contains(pgid));
        self.oom_kills_at_start.retain(|pgid, _| tracked.contains(pgid));
        let all: Vec<PathBuf> = self.dirs.keys().map(|dir| dir.to_path_buf()).collect();
        self.remove_idle(all, wanted);
    }

    /// [`Tracker::tidy`] after the supervisor dropped only these process
    /// groups and records (`(group, tag)`): what a change touched, not
    /// every cgroup (issue 22: a respawn among 10,000 entries tidied all).
    pub fn tidy_some(&mut self, dropped: &[i32], forgotten: &[(String, String)], wanted: impl Fn(&str, &str) -> bool) {
        for pgid in dropped {
            self.by_pgid.remove(pgid);
            self.oom_kills_at_start.remove(pgid);
        }
        let dirs: Vec<PathBuf> = forgotten.iter().map(|(group, tag)| self.dir_of(group, tag)).collect();
        self.remove_idle(dirs, wanted);
    }

    /// Removes the cgroups among `dirs` (and those busy before) that are
    /// no longer `wanted`; one still in use is tried again next time.
    fn remove_idle(&mut self, dirs: Vec<PathBuf>, wanted: impl Fn(&str, &str) -> bool) {
        let mut candidates = std::mem::take(&mut self.busy);
        candidates.extend(dirs);
        for dir in candidates {
            let Some((group, tag)) = self.dirs.get(dir.as_path()) else { continue };
            if wanted(group, tag) {
                continue;
            }
            // Fails (EBUSY) while anything is left in it: tried again later.
            if std::fs::remove_dir(&dir).is_ok() || !dir.exists() {
                self.dirs.remove(dir.as_path());
                // The group's, once its last entry's is gone.
                if let Some(parent) = dir.parent()
                    && std::fs::remove_dir(parent).is_ok()
                {
                    self.groups_ready.remove(parent);
                }
            } else {
                self.busy.insert(dir);
            }
        }
    }

    /// Every process in an entry cgroup under ROOT, and removes the
    /// entry and group cgroups that are empty: what a killed predecessor
    /// left behind (its processes cannot have left their cgroups).
    pub fn find_left(&self) -> Vec<Found> {
        let mut found = Vec::new();
        for group_dir in subdirs(&self.root.path) {
            for dir in subdirs(&group_dir) {
                let Some(tag) = dir.file_name().and_then(|n| n.to_str()).and_then(super::decode) else { continue };
                let pids = fs::procs(&dir);
                if pids.is_empty() && !fs::populated(&dir) {
                    let _ = std::fs::remove_dir(&dir);
                }
                found.extend(pids.into_iter().map(|pid| Found { pid, dir: dir.clone(), tag: tag.clone() }));
            }
            let _ = std::fs::remove_dir(&group_dir);
        }
        found
    }

    /// At a clean shutdown everything has stopped: removes every entry
    /// and group cgroup, and ROOT if the daemon named it itself.
    pub fn remove_all(&mut self) {
        self.groups_ready.clear();
        for dir in std::mem::take(&mut self.dirs).into_keys() {
            let _ = std::fs::remove_dir(&dir);
            if let Some(parent) = dir.parent() {
                let _ = std::fs::remove_dir(parent);
            }
        }
        self.find_left(); // and those of stopped leftovers, now empty
        if self.root.own {
            let _ = std::fs::remove_dir(&self.root.path);
        }
    }
}

/// The entry cgroup `dir` opened for `CLONE_INTO_CGROUP`: a descriptor
/// per spawn in flight, closed once it is done, so that a batch of starts
/// holds no more descriptors than the spawns running at once.
pub fn open_for_clone(dir: &Path) -> std::io::Result<OwnedFd> {
    let fd = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC).open(dir)?;
    Ok(fd.into())
}

/// Child cgroups of `dir` (a name with a dot is an interface file or the
/// daemon's own leaf, never an entry's).
fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(read) = std::fs::read_dir(dir) else { return Vec::new() };
    read.filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter(|e| !e.file_name().to_string_lossy().contains('.'))
        .map(|e| e.path())
        .collect()
}

/// The liveness probe the supervisor's sweep gets: a process group with a
/// cgroup lasts as long as its cgroup is populated (whatever its members
/// did with their process groups); any other as long as it has a member.
pub fn probe(tracker: Option<&Tracker>) -> impl Fn(i32) -> bool + '_ {
    move |pgid| match tracker.and_then(|t| t.cgroup_of(pgid)) {
        Some(dir) => fs::populated(dir),
        None => crate::liveness::group_alive(pgid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cgroup's interface files are plain files to read: a directory
    /// standing in for an entry cgroup shows how `oom_kill` is judged.
    #[tokio::test]
    async fn a_sigkill_is_the_oom_killers_only_if_oom_kill_rose_since_start() {
        let root = tempfile::tempdir().expect("tempdir");
        let (watch, _events) = Watch::start().expect("inotify");
        let mut tracker = Tracker::new(Root { path: root.path().to_owned(), own: false }, watch);
        let dir = tracker.dir_of("mail", "mta");
        std::fs::create_dir_all(&dir).expect("entry dir");
        let events = |kills: u64| format!("low 0\nhigh 0\nmax 0\noom 0\noom_kill {kills}\noom_group_kill 0\n");
        std::fs::write(dir.join("memory.events"), events(3)).expect("write");

        tracker.track(100, dir.clone(), "mail", "mta");
        assert!(!tracker.oom_killed_since_start(100), "kills before the start are not this run's");
        std::fs::write(dir.join("memory.events"), events(4)).expect("write");
        assert!(tracker.oom_killed_since_start(100));
        assert!(!tracker.oom_killed_since_start(200), "a process group without a cgroup");

        // Without the memory controller there is no count to compare.
        std::fs::remove_file(dir.join("memory.events")).expect("rm");
        tracker.track(300, dir, "mail", "mta");
        assert!(!tracker.oom_killed_since_start(300));
    }
}
