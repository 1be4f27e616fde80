//! A one-node Corosync/Pacemaker cluster started by a test, without
//! systemd: `corosync -f` with a one-node nodelist on 127.0.0.1, then
//! `pacemakerd -f`, each stopped by pid when the [`Cluster`] is dropped.
//!
//! Corosync and Pacemaker are one per machine (fixed ports, IPC names and
//! `/var/lib/pacemaker`), so a machine-wide lock serialises every test
//! that starts one, and the CIB state is cleared before and after so runs
//! are independent.

use crate::fixtures::{Cli, run};
use crate::ocf::path_with_isinit;
use crate::procfs;
use crate::wait::{POLL, wait_for};
use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// The tools a cluster test needs (Debian packages pacemaker, corosync,
/// pacemaker-cli-utils, crmsh).
pub const TOOLS: &[&str] = &[
    "corosync",
    "corosync-quorumtool",
    "pacemakerd",
    "crm_mon",
    "crm_resource",
    "crm_attribute",
    "crm_failcount",
    "cibadmin",
    "crm",
];

/// How long cluster operations may take on a loaded two-core box.
pub const CLUSTER_DEADLINE: Duration = Duration::from_secs(90);

const LOCK: &str = "/run/lock/isinit-e2e-pacemaker.lock";
const CIB_DIR: &str = "/var/lib/pacemaker/cib";
const PENGINE_DIR: &str = "/var/lib/pacemaker/pengine";

/// A running one-node cluster. See the module documentation.
pub struct Cluster {
    dir: TempDir,
    node: String,
    corosync: Option<Child>,
    pacemakerd: Option<Child>,
    /// Pacemaker's daemons, recorded while pacemakerd runs, so a
    /// pacemakerd that has to be killed leaves none of them behind.
    subdaemons: Vec<i32>,
    _lock: Flock<File>,
    /// How long the node took to come Online.
    pub online_after: Duration,
}

impl Cluster {
    /// Starts the cluster and waits until the node is Online with
    /// stonith disabled. `Err` is a reason to skip (another cluster stack
    /// already runs on this machine).
    pub fn start() -> Result<Cluster, String> {
        let lock = lock_machine();
        if let Some(p) = procfs::all().into_iter().find(|s| s.comm == "corosync" || s.comm == "pacemakerd") {
            return Err(format!("a cluster stack already runs on this machine ({p}); not touching it"));
        }
        let dir = tempfile::Builder::new().prefix("isinit-pcmk-").tempdir().expect("temporary directory");
        let node = nix::unistd::gethostname().expect("gethostname").to_string_lossy().into_owned();
        clear_state();
        seed_cib();
        std::fs::write(dir.path().join("corosync.conf"), corosync_conf(&node, &dir.path().join("corosync.log")))
            .expect("write corosync.conf");
        let mut cluster = Cluster {
            dir,
            node,
            corosync: None,
            pacemakerd: None,
            subdaemons: Vec::new(),
            _lock: lock,
            online_after: Duration::ZERO,
        };
        let began = Instant::now();
        let conf = cluster.path("corosync.conf");
        let mut corosync = Command::new("corosync");
        corosync.arg("-f").arg("-c").arg(&conf);
        cluster.corosync = Some(cluster.spawn(corosync, "corosync.out"));
        wait_for(CLUSTER_DEADLINE, "corosync to be quorate", || {
            let q = cluster.run("corosync-quorumtool", &["-s"]);
            if q.success() { Ok(()) } else { Err(format!("{q}\n{}", cluster.log("corosync.log"))) }
        });
        let mut pacemakerd = Command::new("pacemakerd");
        pacemakerd
            .arg("-f")
            .env("PATH", path_with_isinit())
            .env("PCMK_logfile", cluster.path("pacemaker.log"))
            .env("PCMK_logfacility", "none");
        cluster.pacemakerd = Some(cluster.spawn(pacemakerd, "pacemakerd.out"));
        let online = format!("Online: [ {} ]", cluster.node);
        wait_for(CLUSTER_DEADLINE, "the node to be Online", || {
            cluster.record_subdaemons();
            let mon = cluster.crm_mon();
            if mon.contains(&online) && mon.contains("partition with quorum") { Ok(()) } else { Err(mon) }
        });
        cluster.online_after = began.elapsed();
        cluster.ok("crm_attribute", &["--type", "crm_config", "--name", "stonith-enabled", "--update", "false"]);
        cluster.record_subdaemons();
        Ok(cluster)
    }

    /// The node's name (`uname -n`, as in the nodelist).
    pub fn node(&self) -> &str {
        &self.node
    }

    /// A file of the cluster's private directory (configs and logs).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn log(&self, name: &str) -> String {
        let text = std::fs::read_to_string(self.path(name)).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(30).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    fn spawn(&self, mut cmd: Command, out: &str) -> Child {
        let file = File::create(self.path(out)).expect("cluster output file");
        let err = file.try_clone().expect("dup output file");
        cmd.stdin(Stdio::null()).stdout(file).stderr(err);
        cmd.spawn().unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"))
    }

    fn record_subdaemons(&mut self) {
        if let Some(p) = &self.pacemakerd {
            for s in procfs::children_of(p.id() as i32) {
                if !self.subdaemons.contains(&s.pid) {
                    self.subdaemons.push(s.pid);
                }
            }
        }
    }

    /// Runs a cluster tool (with `isinit` in its `PATH`, for the agent's
    /// meta-data) and returns what it did.
    pub fn run(&self, program: &str, args: &[&str]) -> Cli {
        let mut cmd = Command::new(program);
        cmd.args(args).env("PATH", path_with_isinit());
        run(cmd, CLUSTER_DEADLINE)
    }

    /// Runs a cluster tool that must succeed; returns its stdout.
    #[track_caller]
    pub fn ok(&self, program: &str, args: &[&str]) -> String {
        self.run(program, args).ok()
    }

    /// `crm_mon -1` with fail counts (whatever it printed, even on error).
    pub fn crm_mon(&self) -> String {
        let out = self.run("crm_mon", &["-1", "--include=failcounts"]);
        format!("{}{}", out.stdout, out.stderr)
    }

    /// `crm configure load update FILE` with `text` (crm shell syntax):
    /// several objects committed at once.
    #[track_caller]
    pub fn configure(&self, text: &str) {
        let file = self.path("configure.crm");
        std::fs::write(&file, text).expect("write crm configuration");
        self.ok("crm", &["configure", "load", "update", &file.display().to_string()]);
    }

    /// Whether Pacemaker reports `resource` running on this node.
    pub fn is_running(&self, resource: &str) -> bool {
        let out = self.run("crm_resource", &["--locate", "--resource", resource]);
        out.stdout.contains(&format!("is running on: {}", self.node))
    }

    /// Waits until the cluster has no transition in flight (every start,
    /// stop and recovery it planned has finished).
    #[track_caller]
    pub fn settle(&self) {
        let timeout = format!("--timeout={}s", CLUSTER_DEADLINE.as_secs());
        self.ok("crm_resource", &["--wait", &timeout]);
    }

    /// Waits until Pacemaker has settled with `resource` running (or not).
    #[track_caller]
    pub fn wait_running(&self, resource: &str, running: bool) {
        let what = format!("Pacemaker to report {resource} {}", if running { "running" } else { "stopped" });
        wait_for(CLUSTER_DEADLINE, &what, || {
            self.settle();
            if self.is_running(resource) == running { Ok(()) } else { Err(self.crm_mon()) }
        });
    }

    /// The fail count of `resource` on this node.
    pub fn failcount(&self, resource: &str) -> u64 {
        let out = self.run("crm_failcount", &["--query", "--quiet", "--resource", resource, "--node", &self.node]);
        out.stdout.trim().parse().unwrap_or(0)
    }

    /// Stops pacemakerd (which stops every resource first) and corosync,
    /// by pid, escalating to SIGKILL after [`CLUSTER_DEADLINE`].
    pub fn stop(&mut self) {
        self.record_subdaemons();
        if let Some(child) = self.pacemakerd.take() {
            stop_child(child, "pacemakerd");
        }
        for pid in std::mem::take(&mut self.subdaemons) {
            if procfs::stat(pid).is_some_and(|s| s.comm.starts_with("pacemaker")) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
        if let Some(child) = self.corosync.take() {
            stop_child(child, "corosync");
        }
        clear_state();
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// SIGTERM, wait, SIGKILL: the way an init stops a cluster daemon.
fn stop_child(mut child: Child, what: &str) {
    let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
    let deadline = Instant::now() + CLUSTER_DEADLINE;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(POLL);
    }
    eprintln!("{what} did not stop within {CLUSTER_DEADLINE:?} of SIGTERM: killing it");
    let _ = child.kill();
    let _ = child.wait();
}

/// Takes the machine-wide lock, waiting for another test's cluster to end.
fn lock_machine() -> Flock<File> {
    let mut file = Some(File::create(LOCK).unwrap_or_else(|e| panic!("cannot create {LOCK}: {e}")));
    wait_for(Duration::from_secs(600), "the machine-wide cluster test lock", || {
        let f = file.take().ok_or("lock file lost")?;
        match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => Ok(lock),
            Err((f, e)) => {
                file = Some(f);
                Err(format!("{LOCK}: {e}"))
            }
        }
    })
}

/// Removes the CIB and the scheduler's saved inputs, so that no resource
/// of an earlier run comes back.
fn clear_state() {
    for dir in [CIB_DIR, PENGINE_DIR] {
        let Ok(entries) = std::fs::read_dir(dir) else { continue };
        for e in entries.flatten() {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// An empty CIB with `dc-deadtime=2s`: a lone node otherwise waits the
/// default 20 s for a designated controller that will never answer.
fn seed_cib() {
    let cib = Path::new(CIB_DIR).join("cib.xml");
    std::fs::write(
        &cib,
        r#"<cib validate-with="pacemaker-3.0" epoch="1" num_updates="0" admin_epoch="0">
  <configuration>
    <crm_config>
      <cluster_property_set id="cib-bootstrap-options">
        <nvpair id="cib-bootstrap-options-dc-deadtime" name="dc-deadtime" value="2s"/>
      </cluster_property_set>
    </crm_config>
    <nodes/>
    <resources/>
    <constraints/>
  </configuration>
  <status/>
</cib>
"#,
    )
    .expect("write cib.xml");
    let user = nix::unistd::User::from_name("hacluster").ok().flatten().map(|u| u.uid);
    let group = nix::unistd::Group::from_name("haclient").ok().flatten().map(|g| g.gid);
    nix::unistd::chown(&cib, user, group).expect("chown cib.xml");
    std::fs::set_permissions(&cib, std::fs::Permissions::from_mode(0o600)).expect("chmod cib.xml");
}

fn corosync_conf(node: &str, log: &Path) -> String {
    format!(
        "totem {{
    version: 2
    cluster_name: isinit-e2e
    transport: knet
    crypto_cipher: none
    crypto_hash: none
}}
logging {{
    to_stderr: no
    to_syslog: no
    to_logfile: yes
    logfile: {}
}}
quorum {{
    provider: corosync_votequorum
}}
nodelist {{
    node {{
        name: {node}
        nodeid: 1
        ring0_addr: 127.0.0.1
    }}
}}
",
        log.display()
    )
}
