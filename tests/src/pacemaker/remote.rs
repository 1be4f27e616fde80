//! [`RemoteCluster`]: one full Corosync/Pacemaker node and several
//! Pacemaker Remote nodes on one machine (SPEC §18). Every node is a
//! holder process in its own network, mount and UTS namespaces:
//!
//! - network: a veth pair joins the full node to each remote node
//!   (10.214.N.1 on the full node's side, 10.214.N.2 on remote node N's),
//!   so each `pacemaker-remoted` listens on its own port 3121 and each node
//!   has its own abstract IPC sockets; the full node's corosync talks to
//!   itself on 127.0.0.1;
//! - mount: private tmpfs on `/run`, `/var/lib/pacemaker`,
//!   `/var/lib/corosync`, `/var/log/pacemaker`, `/etc/pacemaker` (holding
//!   a copy of the cluster's one `authkey`) and `/dev/shm`, and the node's
//!   own isinit test daemon directory bind-mounted on [`DAEMON_DIR`] — so
//!   one resource definition (`socket=/run/is/init.s`) reaches each node's
//!   own daemon, whichever node Pacemaker runs it on;
//! - UTS: the host name is the node name (`full`, `remote-1`, ...), as
//!   `crm_node -n` and the agent's fallback see it.
//!
//! Debian's `pacemaker-remote` conflicts with `pacemaker`, so its
//! `pacemaker-remoted` is unpacked (`apt-get download` + `dpkg -x`, as
//! .ci/run does) and run from there: [`remoted`] finds it. Everything is
//! started in the foreground and stopped by pid.

use super::two_nodes::nsenter_prefix;
use super::{CLUSTER_DEADLINE, Node, Shell, corosync_conf, foreign_stack, lock_machine, seed_cib, stop_child};
use crate::fixtures::{TestDaemon, run};
use crate::ocf::path_with_isinit;
use crate::wait::{DEADLINE, wait_for};
use nix::fcntl::Flock;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// Names another `pacemaker-remoted` than [`REMOTED_DEFAULT`].
pub const REMOTED_VAR: &str = "ISINIT_E2E_PACEMAKER_REMOTED";
/// Where .ci/run unpacks Debian's `pacemaker-remote`.
pub const REMOTED_DEFAULT: &str = "/opt/pacemaker-remote/usr/sbin/pacemaker-remoted";
/// Where every node sees its own isinit daemon's directory (socket
/// `init.s`, isinittab `isinittab`).
pub const DAEMON_DIR: &str = "/run/is";
/// The name of the full node.
pub const FULL: &str = "full";

/// Prepares the namespaces of a node, then holds them open.
/// `$1` host name, `$2` the node's daemon directory, `$3` the cluster's
/// authkey, `$4` a file to create once ready.
const HOLDER: &str = r#"set -e
hostname "$1"
for d in /run /var/lib/pacemaker /var/lib/corosync /var/log/pacemaker /etc/pacemaker /dev/shm; do
    mkdir -p "$d"
    mount -t tmpfs -o mode=0755 tmpfs "$d"
done
mkdir -p /var/lib/pacemaker/cib /var/lib/pacemaker/pengine /var/lib/pacemaker/blackbox /var/lib/pacemaker/cores \
    /run/crm /run/lock /run/resource-agents /run/is
install -o hacluster -g haclient -m 0640 "$3" /etc/pacemaker/authkey
chown -R hacluster:haclient /var/lib/pacemaker /run/crm /var/log/pacemaker
chmod 750 /var/lib/pacemaker/cib /var/lib/pacemaker/pengine /run/crm
chmod 1777 /dev/shm /run/lock
mount --bind "$2" /run/is
ip link set lo up
touch "$4"
exec sleep 1000000
"#;

/// The `pacemaker-remoted` to run, or why the test cannot: missing, not
/// running against this machine's libraries, or another version than the
/// installed `pacemakerd` (the remote protocol must match).
pub fn remoted() -> Result<PathBuf, String> {
    let path = std::env::var_os(REMOTED_VAR).map_or_else(|| PathBuf::from(REMOTED_DEFAULT), PathBuf::from);
    if !path.is_file() {
        return Err(format!(
            "{} not found (.ci/run unpacks it: apt-get download pacemaker-remote && dpkg -x; or set {REMOTED_VAR})",
            path.display()
        ));
    }
    let version = |program: &Path| {
        let mut cmd = Command::new(program);
        cmd.arg("--version");
        let out = run(cmd, DEADLINE);
        if out.success() { Ok(out.stdout.lines().next().unwrap_or("").to_string()) } else { Err(out.to_string()) }
    };
    let remote = version(&path).map_err(|e| format!("{} does not run here: {e}", path.display()))?;
    let full = version(Path::new("pacemakerd")).map_err(|e| format!("pacemakerd --version: {e}"))?;
    if remote != full {
        return Err(format!("{} is {remote:?} but pacemakerd is {full:?}", path.display()));
    }
    Ok(path)
}

/// Why this machine cannot make the namespaces of a node, if it cannot
/// (a container without the privilege, a kernel without network
/// namespaces).
pub fn namespaces_missing() -> Option<String> {
    let mut cmd = Command::new("unshare");
    cmd.args(["--net", "--mount", "--uts", "--propagation", "private", "--", "true"]);
    let out = run(cmd, DEADLINE);
    (!out.success()).then(|| format!("cannot make network, mount and UTS namespaces: {out}"))
}

/// One Pacemaker Remote node: its namespaces (a [`Node`] without corosync
/// or pacemakerd) and its `pacemaker-remoted`.
pub struct RemoteNode {
    node: Node,
    remoted: Option<Child>,
    /// The address the full node reaches its `pacemaker-remoted` on.
    pub address: String,
}

impl std::ops::Deref for RemoteNode {
    type Target = Node;
    fn deref(&self) -> &Node {
        &self.node
    }
}

/// A full node and its remote nodes; see the module documentation.
pub struct RemoteCluster {
    dir: TempDir,
    /// The full node, running corosync and pacemakerd (and the DC).
    pub full: Node,
    /// `remote-1`, `remote-2`, ...
    pub remotes: Vec<RemoteNode>,
    _lock: Flock<File>,
    /// How long the full node took to come Online.
    pub online_after: Duration,
    /// How long the remote nodes took to be RemoteOnline once their
    /// connection resources were configured.
    pub remotes_online_after: Duration,
}

impl RemoteCluster {
    /// Starts the full node with the daemon directory `full_daemon` on
    /// [`DAEMON_DIR`], one remote node per entry of `remote_daemons`
    /// (likewise), runs `remoted` on each, configures their connection
    /// resources (`ocf:pacemaker:remote`, `server=` the node's address)
    /// and waits until every node is online, stonith disabled. `Err` is a
    /// reason to skip.
    pub fn start(remoted: &Path, full_daemon: &Path, remote_daemons: &[&Path]) -> Result<RemoteCluster, String> {
        let lock = lock_machine();
        if let Some(why) = foreign_stack() {
            return Err(why);
        }
        let dir = tempfile::Builder::new().prefix("isinit-remote-").tempdir().expect("temporary directory");
        let authkey = dir.path().join("authkey");
        std::fs::write(&authkey, random_key()).expect("write authkey");
        let began = Instant::now();
        let full = spawn_holder(dir.path(), FULL, full_daemon, &authkey);
        let mut cluster = RemoteCluster {
            dir,
            full,
            remotes: Vec::new(),
            _lock: lock,
            online_after: Duration::ZERO,
            remotes_online_after: Duration::ZERO,
        };
        for (i, d) in remote_daemons.iter().enumerate() {
            let node = spawn_holder(cluster.dir.path(), &format!("remote-{}", i + 1), d, &authkey);
            cluster.remotes.push(RemoteNode { node, remoted: None, address: format!("10.214.{}.2", i + 1) });
        }
        cluster.link();
        cluster.start_full();
        cluster.online_after = began.elapsed();
        for i in 0..cluster.remotes.len() {
            let name = cluster.remotes[i].node().to_string();
            let mut cmd = cluster.remotes[i].enter(remoted);
            cmd.env("PATH", path_with_isinit())
                .env("PCMK_logfile", cluster.path(&format!("pacemaker-{name}.log")))
                .env("PCMK_logfacility", "none");
            let child = cluster.spawn(cmd, &format!("remoted-{name}.out"));
            cluster.remotes[i].remoted = Some(child);
        }
        for r in &cluster.remotes {
            wait_for(DEADLINE, &format!("pacemaker-remoted of {} to listen", r.node()), || {
                let ss = r.run("ss", &["-Htln", "sport", "=", ":3121"]);
                if ss.stdout.contains("3121") { Ok(()) } else { Err(ss.to_string()) }
            });
        }
        let t = Instant::now();
        let mut config = String::new();
        for r in &cluster.remotes {
            config.push_str(&format!(
                "primitive {} ocf:pacemaker:remote params server={} op monitor interval=5s timeout=30s\n",
                r.node(),
                r.address
            ));
        }
        cluster.full.configure(&config);
        let online = format!("RemoteOnline: [ {} ]", cluster.remote_names().join(" "));
        wait_for(CLUSTER_DEADLINE, "every remote node to be RemoteOnline", || {
            let mon = cluster.full.crm_mon();
            if mon.contains(&online) { Ok(()) } else { Err(mon) }
        });
        cluster.remotes_online_after = t.elapsed();
        Ok(cluster)
    }

    /// The names of the remote nodes.
    pub fn remote_names(&self) -> Vec<String> {
        self.remotes.iter().map(|r| r.node().to_string()).collect()
    }

    /// The tools of the full node (the DC: `crm`, `crm_mon`, ...).
    pub fn admin(&self) -> &Shell {
        &self.full
    }

    /// Starts `d`'s daemon inside node `name` (the full node or a remote).
    #[track_caller]
    pub fn start_daemon(&self, name: &str, d: &mut TestDaemon) {
        match self.remotes.iter().find(|r| r.node() == name) {
            Some(r) => r.start_daemon(d),
            None if name == FULL => self.full.start_daemon(d),
            None => panic!("no node {name}"),
        }
    }

    /// The full node's Pacemaker log (the DC's: every operation's result
    /// on every node, with the agent's `ocf-exit-reason`).
    pub fn dc_log(&self) -> String {
        std::fs::read_to_string(self.path("pacemaker-full.log")).unwrap_or_default()
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

    /// corosync (a one-node nodelist on 127.0.0.1) and pacemakerd on the
    /// full node, until it is Online with stonith disabled.
    fn start_full(&mut self) {
        let pid = self.full.pid();
        seed_cib(Path::new(&format!("/proc/{pid}/root/var/lib/pacemaker/cib")));
        let conf = self.path("corosync.conf");
        std::fs::write(&conf, corosync_conf(&[(FULL, "127.0.0.1")], &self.path("corosync.log")))
            .expect("write corosync.conf");
        let mut cmd = self.full.enter("corosync");
        cmd.arg("-f").arg("-c").arg(&conf);
        self.full.corosync = Some(self.spawn(cmd, "corosync.out"));
        wait_for(CLUSTER_DEADLINE, "corosync to be quorate", || {
            let q = self.full.run("corosync-quorumtool", &["-s"]);
            if q.success() { Ok(()) } else { Err(q.to_string()) }
        });
        let mut cmd = self.full.enter("pacemakerd");
        cmd.arg("-f")
            .env("PATH", path_with_isinit())
            .env("PCMK_logfile", self.path("pacemaker-full.log"))
            .env("PCMK_logfacility", "none");
        self.full.pacemakerd = Some(self.spawn(cmd, "pacemakerd.out"));
        let online = format!("Online: [ {FULL} ]");
        wait_for(CLUSTER_DEADLINE, "the full node to be Online", || {
            self.full.record_subdaemons();
            let mon = self.full.crm_mon();
            if mon.contains(&online) && mon.contains("partition with quorum") { Ok(()) } else { Err(mon) }
        });
        self.full.disable_stonith();
        self.full.record_subdaemons();
    }

    /// A veth pair from the full node to each remote node.
    fn link(&self) {
        let ip = |args: &[&str]| {
            let mut c = Command::new("ip");
            c.args(args);
            run(c, DEADLINE)
        };
        let inside = |node: &Node, args: &[&str]| {
            let mut c = node.enter("ip");
            c.args(args);
            run(c, DEADLINE).ok();
        };
        for (i, r) in self.remotes.iter().enumerate() {
            let (near, far) = (format!("isinit-rf{}", i + 1), format!("isinit-rr{}", i + 1));
            let _ = ip(&["link", "del", &near]); // a leftover of a killed run
            ip(&["link", "add", &near, "type", "veth", "peer", "name", &far]).ok();
            ip(&["link", "set", &near, "netns", &self.full.pid().to_string()]).ok();
            ip(&["link", "set", &far, "netns", &r.pid().to_string()]).ok();
            inside(&self.full, &["addr", "add", &format!("10.214.{}.1/24", i + 1), "dev", &near]);
            inside(&self.full, &["link", "set", &near, "up"]);
            inside(&r.node, &["addr", "add", &format!("{}/24", r.address), "dev", &far]);
            inside(&r.node, &["link", "set", &far, "up"]);
        }
    }
}

impl Drop for RemoteCluster {
    /// pacemakerd first (it stops every resource, those on the remote
    /// nodes included, then the connections), then the remote daemons,
    /// corosync, and the namespaces (their veths and mounts go with them).
    fn drop(&mut self) {
        self.full.leave();
        for r in &mut self.remotes {
            if let Some(child) = r.remoted.take() {
                stop_child(child, "pacemaker-remoted");
            }
        }
        let holders = std::iter::once(&mut self.full).chain(self.remotes.iter_mut().map(|r| &mut r.node));
        for node in holders {
            let _ = node.holder.kill();
            let _ = node.holder.wait();
        }
    }
}

/// The cluster's Pacemaker Remote key: 4096 random bytes, as
/// `dd if=/dev/urandom of=/etc/pacemaker/authkey bs=4096 count=1` makes.
fn random_key() -> Vec<u8> {
    let mut key = vec![0u8; 4096];
    File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut key)).expect("read /dev/urandom");
    key
}

/// Starts node `name`'s namespace holder and waits until it is ready.
fn spawn_holder(dir: &Path, name: &str, daemon_dir: &Path, authkey: &Path) -> Node {
    let ready = dir.join(format!("ready-{name}"));
    let log_path = dir.join(format!("holder-{name}.log"));
    let log = File::create(&log_path).expect("holder log");
    let mut cmd = Command::new("unshare");
    cmd.args(["--net", "--mount", "--uts", "--propagation", "private", "--", "/bin/sh", "-c", HOLDER, "holder"])
        .arg(name)
        .arg(daemon_dir)
        .arg(authkey)
        .arg(&ready)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("dup"))
        .stderr(log);
    // Killed if the wait below panics: nothing owns the holder until then.
    let mut guard = Holder(Some(cmd.spawn().expect("cannot run unshare")));
    wait_for(DEADLINE, &format!("the namespaces of {name}"), || {
        if let Some(Ok(Some(status))) = guard.0.as_mut().map(Child::try_wait) {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            panic!("the namespace holder of {name} exited ({status}):\n{log}");
        }
        if ready.exists() { Ok(()) } else { Err("not ready".to_string()) }
    });
    let holder = guard.0.take().expect("the holder");
    let pid = holder.id();
    Node {
        shell: Shell::new(nsenter_prefix(pid), name, dir),
        holder,
        corosync: None,
        pacemakerd: None,
        subdaemons: Vec::new(),
    }
}

/// A namespace holder not yet handed to its [`Node`]: killed when dropped.
struct Holder(Option<Child>);

impl Drop for Holder {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
