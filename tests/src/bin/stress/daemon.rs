//! The daemon under load: its private directory, the isinittab the load
//! switches through, and the ways the run starts, replaces and stops it.

use crate::Args;
use isinit_client::{Client, ClientError};
use isinit_shared::protocol::{Request, Response, Snapshot};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// Environment variable every process of this run carries (the daemon
/// passes its environment to its children): how `/proc` is searched for
/// them, and how the end of the run finds anything left behind.
pub const MARKER: &str = "ISINIT_STRESS_RUN";

/// How long the daemon may take to answer after a start or restart.
const START_DEADLINE: Duration = Duration::from_secs(30);

/// The level labels every group switches between; `0` has no entry.
pub const LEVELS: [&str; 4] = ["a", "b", "c", "0"];

/// The groups and their entries: group `gN` has `2 × entries` respawn
/// entries `gN-M`; level `a` holds the first `entries`, `c` the last
/// `entries`, `b` the middle half of each (so switches keep some processes
/// and stop and start others).
#[derive(Debug, Clone)]
pub struct Layout {
    /// How many groups.
    pub groups: usize,
    /// Entries per level.
    pub entries: usize,
    /// Entries `gN-0` … `gN-(chatty - 1)` of each group write a line when
    /// they start, for the `logs -f` followers; the others write nothing,
    /// so that the daemon's output backlog (500 lines a tag, in memory)
    /// does not grow with the load and hide a leak from the RSS check.
    pub chatty: usize,
}

impl Layout {
    /// The name of group `g`.
    pub fn group(&self, g: usize) -> String {
        format!("g{g}")
    }

    /// The levels entry `i` of a group has.
    fn levels_of(&self, i: usize) -> Vec<&'static str> {
        let n = self.entries;
        let mut levels = Vec::new();
        if i < n {
            levels.push("a");
        }
        if i >= n / 2 && i < n + n / 2 {
            levels.push("b");
        }
        if i >= n {
            levels.push("c");
        }
        levels
    }

    /// The tags of `group`'s respawn entries at `level`.
    pub fn tags_at(&self, g: usize, level: &str) -> Vec<String> {
        (0..2 * self.entries).filter(|&i| self.levels_of(i).contains(&level)).map(|i| format!("g{g}-{i}")).collect()
    }

    /// The tag the `f`-th `logs -f` follower follows: a chatty entry.
    pub fn followed(&self, f: usize) -> String {
        format!("g{}-{}", f % self.groups, (f / self.groups) % self.chatty.max(1))
    }

    /// The isinittab: every entry becomes a single `sleep` process, the
    /// chatty ones after printing one line.
    pub fn isinittab(&self) -> String {
        let mut text = String::new();
        for g in 0..self.groups {
            for i in 0..2 * self.entries {
                let levels = self.levels_of(i).join(",");
                let say = if i < self.chatty { "echo up at $ISINIT_LEVEL; " } else { "" };
                let _ = writeln!(text, "g{g}:g{g}-{i}:{levels}:respawn:{say}exec sleep 1000000");
            }
        }
        text
    }
}

/// One `isinit daemon` in a private directory.
pub struct StressDaemon {
    dir: TempDir,
    child: Option<Child>,
    /// `--state PATH` is passed only when the run exercises restarts: the
    /// flag is new (another branch adds it).
    with_state_flag: bool,
    marker: String,
}

impl StressDaemon {
    /// Creates the directory and the isinittab; starts nothing yet.
    pub fn prepare(layout: &Layout, args: &Args) -> std::io::Result<StressDaemon> {
        let dir = tempfile::Builder::new().prefix("isinit-stress-").tempdir()?;
        std::fs::create_dir_all(dir.path().join("log"))?;
        std::fs::write(dir.path().join("isinittab"), layout.isinittab())?;
        let marker = dir.path().display().to_string();
        Ok(StressDaemon { dir, child: None, with_state_flag: args.restarts, marker })
    }

    /// The control socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("sock")
    }

    /// `NAME=value` of the run's marker.
    pub fn marker(&self) -> String {
        format!("{MARKER}={}", self.marker)
    }

    /// The daemon's pid, while one runs.
    pub fn pid(&self) -> Option<i32> {
        self.child.as_ref().map(|c| c.id() as i32)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The `isinit` binary beside this program (same build profile).
    pub fn isinit() -> PathBuf {
        let exe = std::env::current_exe().unwrap_or_default();
        exe.with_file_name("isinit")
    }

    /// `isinit ARGS` against this daemon; stdout on success, else why not.
    pub fn cli(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new(Self::isinit())
            .args(args)
            .env("ISINIT_SOCKET", self.socket())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run isinit {args:?}: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!("isinit {args:?}: {}: {}", out.status, String::from_utf8_lossy(&out.stderr).trim()))
        }
    }

    /// Starts the daemon (again) and waits until it answers.
    pub async fn start(&mut self) -> Result<(), String> {
        let isinit = Self::isinit();
        if !isinit.is_file() {
            return Err(format!("{} is missing: build the workspace first", isinit.display()));
        }
        let append = |name: &str| {
            std::fs::OpenOptions::new().create(true).append(true).open(self.path(name)).map_err(|e| e.to_string())
        };
        let mut cmd = Command::new(&isinit);
        cmd.arg("daemon").args(["--respawn-pause", "1", "--term-after", "2", "--kill-after", "2"]);
        if self.with_state_flag {
            cmd.arg("--state").arg(self.path("state"));
        }
        for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("ISINIT_")) {
            cmd.env_remove(name);
        }
        cmd.env("ISINIT_SOCKET", self.socket())
            .env("ISINIT_CONFIG", self.path("isinittab"))
            .env("ISINIT_INITSTAT", self.path("initstat"))
            .env("ISINIT_LOGDIR", self.path("log"))
            // Never the default /var/run/is/state, whether or not this
            // daemon knows the setting yet.
            .env("ISINIT_STATE", self.path("state"))
            .env("NO_COLOR", "1")
            .env(MARKER, &self.marker)
            .stdin(Stdio::null())
            .stdout(append("daemon.out")?)
            .stderr(append("daemon.err")?);
        let child = cmd.spawn().map_err(|e| format!("cannot start the daemon: {e}"))?;
        let pid = child.id();
        self.child = Some(child);
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if let Ok(c) = Client::connect(&self.socket()).await
                && c.daemon.pid == pid
            {
                return Ok(());
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                return Err(format!("the daemon exited at start ({status}): {}", self.stderr_tail()));
            }
            if Instant::now() > deadline {
                return Err(format!("the daemon did not answer within {START_DEADLINE:?}"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The end of the daemon's stderr, for error messages.
    pub fn stderr_tail(&self) -> String {
        let text = std::fs::read_to_string(self.path("daemon.err")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(10)..].join("\n")
    }

    /// `kill -9` of the daemon, reaped; its children are left running.
    pub fn kill9(&mut self) -> Result<(), String> {
        let Some(mut child) = self.child.take() else { return Err("no daemon to kill".into()) };
        child.kill().map_err(|e| format!("cannot kill the daemon: {e}"))?;
        child.wait().map_err(|e| format!("cannot reap the daemon: {e}"))?;
        Ok(())
    }

    /// `isinit reexec`: the same pid afterwards, answering again.
    pub async fn reexec(&mut self) -> Result<(), String> {
        let before = self.pid();
        self.cli(&["reexec"])?;
        let c = Client::connect(&self.socket()).await.map_err(|e| format!("after reexec: {e}"))?;
        if Some(c.daemon.pid as i32) != before {
            return Err(format!("reexec changed the daemon's pid: {before:?} → {}", c.daemon.pid));
        }
        Ok(())
    }

    /// One status snapshot through the client library.
    pub async fn snapshot(&self) -> Result<Snapshot, ClientError> {
        match Client::connect_and_request(&self.socket(), &Request::Status, std::time::Duration::from_secs(60)).await? {
            (_, Response::Snapshot(s)) => Ok(*s),
            (_, other) => Err(ClientError::Unexpected(format!("{other:?}"))),
        }
    }

    /// `status --json`, parsed: the command line's view, to hold the
    /// subscribers' against.
    pub fn status_json(&self) -> Result<Snapshot, String> {
        let text = self.cli(&["status", "--json"])?;
        serde_json::from_str(&text).map_err(|e| format!("status --json is not a snapshot: {e}"))
    }

    /// Resident memory of the daemon in KiB (`VmRSS`).
    pub fn rss_kib(&self) -> Option<u64> {
        let pid = self.pid()?;
        let field = isinit_e2e::procfs::status_field(pid, "VmRSS")?;
        field.split_whitespace().next()?.parse().ok()
    }

    /// Shuts the daemon down (waiting for it), then kills anything of the
    /// run still alive. Returns how many such leftovers there were.
    pub async fn finish(&mut self) -> usize {
        if let Some(mut child) = self.child.take() {
            if let Ok(mut c) = Client::connect(&self.socket()).await {
                let _ = c.request(&Request::Shutdown).await;
            }
            let deadline = Instant::now() + Duration::from_secs(60);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let left = isinit_e2e::procfs::with_env(&self.marker());
        for p in &left {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(p.pid), nix::sys::signal::Signal::SIGKILL);
        }
        left.len()
    }

    /// The run's directory, kept for a look after a failure.
    pub fn keep(self) -> PathBuf {
        self.dir.keep()
    }
}
