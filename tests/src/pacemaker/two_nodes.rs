//! [`TwoNodes`]: a two-node cluster on one machine. Each [`Node`] is a
//! holder process in its own network, mount and UTS namespaces:
//!
//! - network: a veth pair joins the two (10.213.0.1 and 10.213.0.2), so
//!   each corosync has its own ports and each Pacemaker its own abstract
//!   IPC sockets;
//! - mount: private tmpfs on `/run`, `/var/lib/pacemaker`,
//!   `/var/lib/corosync` and `/dev/shm` (pid files, CIB, IPC buffers), and
//!   one directory bind-mounted from the node's own isinit test daemon
//!   onto a path common to both nodes — so one resource definition
//!   (`socket=COMMON/init.s`) reaches each node's own daemon;
//! - UTS: the host names `node-a` and `node-b`.
//!
//! Everything runs in a node through `nsenter` and is stopped by pid.

use super::{
    CLUSTER_DEADLINE, Shell, corosync_conf, foreign_stack, kill_subdaemons, lock_machine, seed_cib, stop_child,
};
use crate::fixtures::{TestDaemon, run};
use crate::ocf::path_with_isinit;
use crate::procfs;
use crate::wait::{DEADLINE, wait_for};
use nix::fcntl::Flock;
use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// The tools the namespaces need besides [`super::TOOLS`].
pub const NAMESPACE_TOOLS: &[&str] = &["unshare", "nsenter", "ip"];

/// Why this machine cannot run the two-node cluster (not root, or a tool
/// missing), as a test's skip message says it; `None`: it can.
pub fn two_nodes_unavailable() -> Option<String> {
    if !crate::ocf::is_root() {
        return Some("namespaces, corosync and pacemaker need root".to_string());
    }
    let missing = crate::ocf::missing_tools(&[super::TOOLS, NAMESPACE_TOOLS].concat());
    (!missing.is_empty()).then(|| {
        format!(
            "{missing:?} not installed (apt-get install pacemaker corosync pacemaker-cli-utils crmsh iproute2 util-linux)"
        )
    })
}

/// Prepares the namespaces of a node, then holds them open.
/// `$1` host name, `$2` common path, `$3` the node's daemon directory,
/// `$4` a file to create once ready.
const HOLDER: &str = r#"set -e
hostname "$1"
for d in /run /var/lib/pacemaker /var/lib/corosync /dev/shm; do mount -t tmpfs -o mode=0755 tmpfs "$d"; done
mount --bind "$3" "$2"
mkdir -p /var/lib/pacemaker/cib /var/lib/pacemaker/pengine /var/lib/pacemaker/blackbox /var/lib/pacemaker/cores \
    /run/crm /run/lock /run/resource-agents
chown -R hacluster:haclient /var/lib/pacemaker /run/crm
chmod 750 /var/lib/pacemaker/cib /var/lib/pacemaker/pengine /run/crm
chmod 1777 /dev/shm /run/lock
ip link set lo up
touch "$4"
exec sleep 1000000
"#;

const NAMES: [&str; 2] = ["node-a", "node-b"];
const ADDRS: [&str; 2] = ["10.213.0.1", "10.213.0.2"];
const LINKS: [&str; 2] = ["isinit-e2e-a", "isinit-e2e-b"];

/// One node: its namespaces, corosync and pacemakerd. Its tools through
/// [`std::ops::Deref`] to [`Shell`].
pub struct Node {
    pub(super) shell: Shell,
    pub(super) holder: Child,
    pub(super) corosync: Option<Child>,
    pub(super) pacemakerd: Option<Child>,
    pub(super) subdaemons: Vec<i32>,
}

impl std::ops::Deref for Node {
    type Target = Shell;
    fn deref(&self) -> &Shell {
        &self.shell
    }
}

pub(super) fn nsenter_prefix(pid: u32) -> Vec<OsString> {
    ["nsenter", "-t", &pid.to_string(), "-n", "-m", "-u", "--"].iter().map(OsString::from).collect()
}

impl Node {
    /// The pid of the process holding the node's namespaces.
    pub(super) fn pid(&self) -> u32 {
        self.holder.id()
    }

    /// `program` inside the node's namespaces (`nsenter` execs it, so the
    /// child's pid is the program's).
    pub(super) fn enter(&self, program: impl Into<OsString>) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.args(nsenter_prefix(self.pid()).iter().skip(1)).arg(program.into());
        cmd
    }

    /// Starts `d`'s daemon inside this node (after [`TestDaemon::builder`]
    /// `.prepare()`, or again after it exited).
    #[track_caller]
    pub fn start_daemon(&self, d: &mut TestDaemon) {
        let inner = d.daemon_command();
        let mut cmd = self.enter(inner.get_program());
        cmd.args(inner.get_args());
        for (name, value) in inner.get_envs() {
            match value {
                Some(v) => cmd.env(name, v),
                None => cmd.env_remove(name),
            };
        }
        if let Some(dir) = inner.get_current_dir() {
            cmd.current_dir(dir);
        }
        d.restart_with(cmd);
    }

    /// Stops this node's pacemakerd (it first stops or hands over what it
    /// runs, and the node leaves the cluster), then its corosync.
    pub fn leave(&mut self) {
        self.record_subdaemons();
        if let Some(child) = self.pacemakerd.take() {
            stop_child(child, "pacemakerd");
        }
        kill_subdaemons(&std::mem::take(&mut self.subdaemons));
        if let Some(child) = self.corosync.take() {
            stop_child(child, "corosync");
        }
    }

    pub(super) fn record_subdaemons(&mut self) {
        if let Some(p) = &self.pacemakerd {
            for s in procfs::children_of(p.id() as i32) {
                if !self.subdaemons.contains(&s.pid) {
                    self.subdaemons.push(s.pid);
                }
            }
        }
    }
}

/// Two nodes; see the module documentation.
pub struct TwoNodes {
    dir: TempDir,
    /// node-a and node-b.
    pub nodes: Vec<Node>,
    _lock: Flock<File>,
    /// How long both nodes took to come Online.
    pub online_after: Duration,
}

impl TwoNodes {
    /// Starts both nodes, binding `daemon_dirs[i]` (the directories of two
    /// prepared test daemons) onto [`TwoNodes::common_dir`] in node `i`,
    /// and waits until both are Online with stonith disabled. `Err` is a
    /// reason to skip.
    pub fn start(daemon_dirs: [&Path; 2]) -> Result<TwoNodes, String> {
        let lock = lock_machine();
        if let Some(why) = foreign_stack() {
            return Err(why);
        }
        let dir = tempfile::Builder::new().prefix("isinit-2node-").tempdir().expect("temporary directory");
        std::fs::create_dir(dir.path().join("common")).expect("common dir");
        let began = Instant::now();
        let nodes = daemon_dirs.iter().enumerate().map(|(i, d)| spawn_holder(dir.path(), i, d)).collect();
        let mut cluster = TwoNodes { dir, nodes, _lock: lock, online_after: Duration::ZERO };
        cluster.link();
        let conf_nodes: Vec<(&str, &str)> = NAMES.iter().copied().zip(ADDRS.iter().copied()).collect();
        for (i, name) in NAMES.iter().enumerate() {
            let pid = cluster.nodes[i].pid();
            seed_cib(Path::new(&format!("/proc/{pid}/root/var/lib/pacemaker/cib")));
            let conf = cluster.path(&format!("corosync-{}.conf", name));
            let log = cluster.path(&format!("corosync-{}.log", name));
            std::fs::write(&conf, corosync_conf(&conf_nodes, &log)).expect("write corosync.conf");
            let mut cmd = cluster.nodes[i].enter("corosync");
            cmd.arg("-f").arg("-c").arg(&conf);
            let child = cluster.spawn(cmd, &format!("corosync-{}.out", name));
            cluster.nodes[i].corosync = Some(child);
        }
        for node in &cluster.nodes {
            wait_for(CLUSTER_DEADLINE, &format!("corosync on {} to be quorate", node.node()), || {
                let q = node.run("corosync-quorumtool", &["-s"]);
                if q.success() { Ok(()) } else { Err(q.to_string()) }
            });
        }
        for (i, name) in NAMES.iter().enumerate() {
            let mut cmd = cluster.nodes[i].enter("pacemakerd");
            cmd.arg("-f")
                .env("PATH", path_with_isinit())
                .env("PCMK_logfile", cluster.path(&format!("pacemaker-{}.log", name)))
                .env("PCMK_logfacility", "none");
            let child = cluster.spawn(cmd, &format!("pacemakerd-{}.out", name));
            cluster.nodes[i].pacemakerd = Some(child);
        }
        let online = format!("Online: [ {} {} ]", NAMES[0], NAMES[1]);
        wait_for(CLUSTER_DEADLINE, "both nodes to be Online", || {
            cluster.nodes.iter_mut().for_each(Node::record_subdaemons);
            let mon = cluster.nodes[0].crm_mon();
            if mon.contains(&online) && mon.contains("partition with quorum") { Ok(()) } else { Err(mon) }
        });
        cluster.online_after = began.elapsed();
        cluster.nodes[0].disable_stonith();
        cluster.nodes.iter_mut().for_each(Node::record_subdaemons);
        Ok(cluster)
    }

    /// The path at which each node sees its own daemon's directory.
    pub fn common_dir(&self) -> PathBuf {
        self.path("common")
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

    /// Joins the two network namespaces with a veth pair.
    fn link(&self) {
        let ip = |args: &[&str]| {
            run(
                {
                    let mut c = Command::new("ip");
                    c.args(args);
                    c
                },
                DEADLINE,
            )
        };
        let _ = ip(&["link", "del", LINKS[0]]); // a leftover of a killed run
        ip(&["link", "add", LINKS[0], "type", "veth", "peer", "name", LINKS[1]]).ok();
        for (i, node) in self.nodes.iter().enumerate() {
            let pid = node.pid().to_string();
            ip(&["link", "set", LINKS[i], "netns", &pid]).ok();
            let inside = |args: &[&str]| {
                let mut c = node.enter("ip");
                c.args(args);
                run(c, DEADLINE).ok()
            };
            inside(&["addr", "add", &format!("{}/24", ADDRS[i]), "dev", LINKS[i]]);
            inside(&["link", "set", LINKS[i], "up"]);
        }
    }
}

/// Starts node `i`'s namespace holder and waits until it is ready.
fn spawn_holder(dir: &Path, i: usize, daemon_dir: &Path) -> Node {
    let ready = dir.join(format!("ready-{}", NAMES[i]));
    let log = File::create(dir.join(format!("holder-{}.log", NAMES[i]))).expect("holder log");
    let mut cmd = Command::new("unshare");
    cmd.args(["--net", "--mount", "--uts", "--propagation", "private", "--", "/bin/sh", "-c", HOLDER, "holder"])
        .arg(NAMES[i])
        .arg(dir.join("common"))
        .arg(daemon_dir)
        .arg(&ready)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("dup"))
        .stderr(log);
    let mut holder = cmd.spawn().expect("cannot run unshare");
    wait_for(DEADLINE, &format!("the namespaces of {}", NAMES[i]), || {
        if let Ok(Some(status)) = holder.try_wait() {
            let log = std::fs::read_to_string(dir.join(format!("holder-{}.log", NAMES[i]))).unwrap_or_default();
            panic!("the namespace holder of {} exited ({status}):\n{log}", NAMES[i]);
        }
        if ready.exists() { Ok(()) } else { Err("not ready".to_string()) }
    });
    let pid = holder.id();
    Node {
        shell: Shell::new(nsenter_prefix(pid), NAMES[i], dir),
        holder,
        corosync: None,
        pacemakerd: None,
        subdaemons: Vec::new(),
    }
}

impl Drop for TwoNodes {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            node.leave();
        }
        for node in &mut self.nodes {
            let _ = node.holder.kill();
            let _ = node.holder.wait();
        }
    }
}
