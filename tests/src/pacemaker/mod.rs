//! Corosync/Pacemaker clusters started by a test, without systemd:
//! [`Cluster`], one node on the machine itself, [`TwoNodes`], two
//! nodes each in its own network, mount and UTS namespaces joined by a
//! veth pair, and [`RemoteCluster`], a full node with Pacemaker Remote
//! nodes, each in namespaces of its own. Every daemon is started in the
//! foreground and stopped by pid.
//!
//! Corosync and Pacemaker are one per machine (fixed ports, IPC names and
//! `/var/lib/pacemaker`), so a machine-wide lock serialises every test
//! that starts a cluster, and the CIB state is cleared before and after so
//! runs are independent.

mod remote;
mod sampler;
mod shell;
mod single;
mod two_nodes;

pub use remote::{
    DAEMON_DIR, FULL, REMOTED_DEFAULT, REMOTED_VAR, RemoteCluster, RemoteNode, namespaces_missing, remoted,
};
pub use sampler::{RunSampler, SAMPLE_EVERY, Sample, running_on};
pub use shell::Shell;
pub use single::Cluster;
pub use two_nodes::{NAMESPACE_TOOLS, Node, TwoNodes, two_nodes_unavailable};

use crate::wait::{POLL, wait_for};
use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

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

/// A reason to skip if a cluster stack (not ours) already runs here.
fn foreign_stack() -> Option<String> {
    crate::procfs::all()
        .into_iter()
        .find(|s| s.comm == "corosync" || s.comm == "pacemakerd")
        .map(|p| format!("a cluster stack already runs on this machine ({p}); not touching it"))
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

/// SIGKILLs the Pacemaker daemons among `pids` still alive (after their
/// pacemakerd was stopped, they normally are not).
fn kill_subdaemons(pids: &[i32]) {
    for &pid in pids {
        if crate::procfs::stat(pid).is_some_and(|s| s.comm.starts_with("pacemaker")) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

/// Writes an empty CIB with `dc-deadtime=2s` into `cib_dir`: a fresh
/// cluster otherwise waits the default 20 s for a designated controller
/// before electing one.
fn seed_cib(cib_dir: &Path) {
    let cib = cib_dir.join("cib.xml");
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

/// A corosync.conf for `nodes` (name, address), logging to `log`; two
/// nodes get `two_node: 1` so the survivor keeps quorum.
fn corosync_conf(nodes: &[(&str, &str)], log: &Path) -> String {
    let mut list = String::new();
    for (i, (name, addr)) in nodes.iter().enumerate() {
        list.push_str(&format!(
            "    node {{\n        name: {name}\n        nodeid: {}\n        ring0_addr: {addr}\n    }}\n",
            i + 1
        ));
    }
    let two_node = if nodes.len() == 2 { "    two_node: 1\n" } else { "" };
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
{two_node}}}
nodelist {{
{list}}}
",
        log.display()
    )
}
