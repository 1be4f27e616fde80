//! The OCF resource agent from the outside: `packaging/ocf/group` run the
//! way Pacemaker runs it (an action argument, parameters in `OCF_RESKEY_*`,
//! an otherwise bare environment), and its installation where Pacemaker
//! looks for `ocf:isinit:group`.

use crate::fixtures::{Cli, TestDaemon, run, target_dir};
use crate::wait::DEADLINE;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where Pacemaker finds the agents of provider `isinit`.
pub const INSTALL_DIR: &str = "/usr/lib/ocf/resource.d/isinit";

/// The agent in the source tree.
pub fn agent_source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/ocf/group")
}

/// Whether the tests run as root (installing the agent needs it).
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Which of `tools` are not found in `PATH` (or the sbin directories,
/// where the cluster tools live even when a user's `PATH` lacks them).
pub fn missing_tools<'a>(tools: &[&'a str]) -> Vec<&'a str> {
    let path = search_path();
    tools.iter().copied().filter(|t| !path.split(':').any(|d| Path::new(d).join(t).is_file())).collect()
}

/// The caller's `PATH` plus the sbin directories.
fn search_path() -> String {
    let inherited = std::env::var("PATH").unwrap_or_default();
    format!("{inherited}:/usr/local/sbin:/usr/sbin:/sbin:/usr/bin:/bin")
}

/// A `PATH` in which `isinit` is the binary under test: how an installed
/// agent, which defaults to `binary=isinit`, finds it.
pub fn path_with_isinit() -> String {
    format!("{}:{}", target_dir().display(), search_path())
}

/// Copies the agent to `INSTALL_DIR/group` (mode 0755) with a write and
/// a rename, so concurrent tests never run a half-written file. The
/// temporary name is unique per call: tests of one binary share a pid and
/// run in parallel.
pub fn install_agent() -> PathBuf {
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let dir = Path::new(INSTALL_DIR);
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("cannot create {INSTALL_DIR}: {e}"));
    let dest = dir.join("group");
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".group.{}.{call}", std::process::id()));
    std::fs::copy(agent_source(), &tmp).unwrap_or_else(|e| panic!("cannot copy the agent to {}: {e}", tmp.display()));
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).expect("chmod the agent");
    std::fs::rename(&tmp, &dest).unwrap_or_else(|e| panic!("cannot install {}: {e}", dest.display()));
    dest
}

/// One resource of type `ocf:isinit:group` aimed at a test daemon: the
/// agent and the parameters Pacemaker would pass it.
#[derive(Debug, Clone)]
pub struct Agent {
    path: PathBuf,
    params: Vec<(String, String)>,
    timeout_ms: u64,
}

impl Agent {
    /// The source tree's agent for `group` of `daemon`, with `socket`,
    /// `config` and `binary` pointing at the daemon and the binary under
    /// test.
    pub fn new(daemon: &TestDaemon, group: &str) -> Agent {
        Agent { path: agent_source(), params: Vec::new(), timeout_ms: 20_000 }
            .param("group", group)
            .param("socket", &daemon.socket().display().to_string())
            .param("config", &daemon.tab_path().display().to_string())
            .param("binary", &crate::fixtures::isinit().display().to_string())
    }

    /// Sets (or replaces) a parameter; an empty value is passed as empty.
    pub fn param(mut self, name: &str, value: &str) -> Agent {
        self.params.retain(|(n, _)| n != name);
        self.params.push((name.to_string(), value.to_string()));
        self
    }

    /// Removes a parameter.
    pub fn without(mut self, name: &str) -> Agent {
        self.params.retain(|(n, _)| n != name);
        self
    }

    /// Sets the operation timeout Pacemaker would pass.
    pub fn timeout_ms(mut self, ms: u64) -> Agent {
        self.timeout_ms = ms;
        self
    }

    /// `-o name=value` arguments for `ocf-tester`.
    pub fn tester_args(&self) -> Vec<String> {
        self.params.iter().flat_map(|(n, v)| ["-o".to_string(), format!("{n}={v}")]).collect()
    }

    /// The agent command for `action`, with a bare environment.
    pub fn command(&self, action: &str) -> Command {
        let mut cmd = Command::new(&self.path);
        cmd.arg(action)
            .env_clear()
            .env("PATH", path_with_isinit())
            .env("OCF_ROOT", "/usr/lib/ocf")
            .env("OCF_RESOURCE_INSTANCE", "test")
            .env("OCF_RESKEY_CRM_meta_timeout", self.timeout_ms.to_string());
        for (n, v) in &self.params {
            cmd.env(format!("OCF_RESKEY_{n}"), v);
        }
        cmd
    }

    /// Runs `action` to completion (within the operation timeout plus the
    /// test deadline).
    #[track_caller]
    pub fn run(&self, action: &str) -> Cli {
        run(self.command(action), DEADLINE + std::time::Duration::from_millis(self.timeout_ms))
    }

    /// Runs `action` and returns its exit code (panics on a signal).
    #[track_caller]
    pub fn code(&self, action: &str) -> i32 {
        let out = self.run(action);
        out.code().unwrap_or_else(|| panic!("agent {action} was killed:\n{out}"))
    }

    /// Runs `action` and asserts its exit code; returns its output.
    #[track_caller]
    pub fn expect(&self, action: &str, code: i32) -> Cli {
        let out = self.run(action);
        assert_eq!(out.code(), Some(code), "agent {action}: expected exit {code}\n{out}");
        out
    }
}

/// The meta-data the wrapper carries for when no isinit binary is found:
/// the text of its `META_DATA` here-document.
pub fn wrapper_meta_data() -> String {
    let text = std::fs::read_to_string(agent_source()).expect("read the agent");
    let start = text.find("<<'META_DATA'\n").expect("the wrapper carries a META_DATA here-document") + 14;
    let end = start + text[start..].find("\nMETA_DATA\n").expect("the here-document ends");
    format!("{}\n", &text[start..end])
}

/// A process that carries a test daemon's marks for `group` (as if the
/// daemon had started it for entry `tag`) but runs as another uid: what a
/// local user could plant. Killed when dropped.
pub struct Planted {
    child: std::process::Child,
}

impl Planted {
    /// Starts `sleep 1000` as `uid` with the marks of `daemon` for
    /// `group`/`tag` (and the test marker, so the daemon's teardown finds
    /// it too).
    pub fn start(daemon: &TestDaemon, group: &str, tag: &str, uid: u32) -> Planted {
        use std::os::unix::process::CommandExt;
        let mut cmd = Command::new("sleep");
        cmd.arg("1000")
            .env_clear()
            .env("ISINIT_SOCKET", daemon.socket())
            .env("ISINIT_GROUP", group)
            .env("ISINIT_TAG", tag)
            .env("ISINIT_E2E_MARK", daemon.dir())
            .uid(uid)
            .gid(uid)
            .process_group(0);
        Planted { child: cmd.spawn().expect("start the planted process") }
    }

    /// Its pid.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }
}

impl Drop for Planted {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
