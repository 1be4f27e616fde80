//! [`Cluster`]: a one-node cluster on the machine itself — `corosync -f`
//! with a one-node nodelist on 127.0.0.1, then `pacemakerd -f`.

use super::{
    CLUSTER_DEADLINE, Shell, corosync_conf, foreign_stack, kill_subdaemons, lock_machine, seed_cib, stop_child,
};
use crate::ocf::path_with_isinit;
use crate::procfs;
use crate::wait::wait_for;
use nix::fcntl::Flock;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

const CIB_DIR: &str = "/var/lib/pacemaker/cib";
const PENGINE_DIR: &str = "/var/lib/pacemaker/pengine";

/// A running one-node cluster; its tools through [`std::ops::Deref`] to
/// [`Shell`]. Dropping it stops pacemakerd (which stops every resource
/// first) and corosync, by pid.
pub struct Cluster {
    shell: Shell,
    dir: TempDir,
    corosync: Option<Child>,
    pacemakerd: Option<Child>,
    /// Pacemaker's daemons, recorded while pacemakerd runs, so a
    /// pacemakerd that has to be killed leaves none of them behind.
    subdaemons: Vec<i32>,
    _lock: Flock<File>,
    /// How long the node took to come Online.
    pub online_after: Duration,
}

impl std::ops::Deref for Cluster {
    type Target = Shell;
    fn deref(&self) -> &Shell {
        &self.shell
    }
}

impl Cluster {
    /// Starts the cluster and waits until the node is Online with stonith
    /// disabled. `Err` is a reason to skip (another cluster stack already
    /// runs on this machine).
    pub fn start() -> Result<Cluster, String> {
        let lock = lock_machine();
        if let Some(why) = foreign_stack() {
            return Err(why);
        }
        let dir = tempfile::Builder::new().prefix("isinit-pcmk-").tempdir().expect("temporary directory");
        let node = nix::unistd::gethostname().expect("gethostname").to_string_lossy().into_owned();
        clear_state();
        seed_cib(Path::new(CIB_DIR));
        let conf = dir.path().join("corosync.conf");
        std::fs::write(&conf, corosync_conf(&[(&node, "127.0.0.1")], &dir.path().join("corosync.log")))
            .expect("write corosync.conf");
        let mut cluster = Cluster {
            shell: Shell::new(Vec::new(), &node, dir.path()),
            dir,
            corosync: None,
            pacemakerd: None,
            subdaemons: Vec::new(),
            _lock: lock,
            online_after: Duration::ZERO,
        };
        let began = Instant::now();
        let mut corosync = Command::new("corosync");
        corosync.arg("-f").arg("-c").arg(&conf);
        cluster.corosync = Some(cluster.spawn(corosync, "corosync.out"));
        wait_for(CLUSTER_DEADLINE, "corosync to be quorate", || {
            let q = cluster.run("corosync-quorumtool", &["-s"]);
            if q.success() { Ok(()) } else { Err(q.to_string()) }
        });
        let mut pacemakerd = Command::new("pacemakerd");
        pacemakerd
            .arg("-f")
            .env("PATH", path_with_isinit())
            .env("PCMK_logfile", cluster.path("pacemaker.log"))
            .env("PCMK_logfacility", "none");
        cluster.pacemakerd = Some(cluster.spawn(pacemakerd, "pacemakerd.out"));
        let online = format!("Online: [ {node} ]");
        wait_for(CLUSTER_DEADLINE, "the node to be Online", || {
            cluster.record_subdaemons();
            let mon = cluster.crm_mon();
            if mon.contains(&online) && mon.contains("partition with quorum") { Ok(()) } else { Err(mon) }
        });
        cluster.online_after = began.elapsed();
        cluster.disable_stonith();
        cluster.record_subdaemons();
        Ok(cluster)
    }

    /// A file of the cluster's private directory (configs and logs).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
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

    /// The fail count of `resource` on this node.
    pub fn failcount(&self, resource: &str) -> u64 {
        self.shell.failcount(resource, self.shell.node())
    }

    /// Stops pacemakerd (which stops every resource first) and corosync,
    /// by pid, escalating to SIGKILL after [`CLUSTER_DEADLINE`]; clears
    /// the CIB.
    pub fn stop(&mut self) {
        self.record_subdaemons();
        if let Some(child) = self.pacemakerd.take() {
            stop_child(child, "pacemakerd");
        }
        kill_subdaemons(&std::mem::take(&mut self.subdaemons));
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
