//! A cluster of test daemons reached through real OpenSSH: one
//! `sshd -D -e -f CONFIG` per host, each on its own loopback address and
//! port, each setting `ISINIT_SOCKET` for its sessions (`SetEnv`), so
//! `ssh HOST isinit bridge` reaches that host's daemon and no other. For
//! many hosts, [`Cluster::start_shared`] lets one sshd serve sixteen
//! addresses (`Match LocalAddress` + `SetEnv` per address).
//!
//! Keys (host and client) are generated into the cluster's temporary
//! directory; the client side is an `ssh_config` that the tests hand to
//! `isinit` through `ISINIT_SSH="ssh -F CONFIG -o BatchMode=yes"`. Every
//! sshd is stopped by its pid when the cluster is dropped.

use crate::fixtures::{Cli, TestDaemon, isinit, run};
use crate::wait::{DEADLINE, wait_for};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use tempfile::TempDir;

/// Where Debian's sshd insists on its privilege-separation directory.
const PRIVSEP_DIR: &str = "/run/sshd";
/// How many addresses one sshd listens on: OpenSSH's `MAX_LISTEN_SOCKS`
/// is 16.
pub const ADDRESSES_PER_SSHD: usize = 16;
/// The sshd binary.
pub const SSHD: &str = "/usr/sbin/sshd";

/// Why this machine cannot run the ssh tests, if it cannot.
pub fn unavailable() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("not running as root (sshd needs it)".into());
    }
    let tools = [
        (SSHD, "openssh-server"),
        ("ssh", "openssh-client"),
        ("ssh-keygen", "openssh-client"),
        ("unshare", "util-linux"),
    ];
    for (bin, package) in tools {
        if Command::new(bin).arg("-?").stdout(Stdio::null()).stderr(Stdio::null()).status().is_err() {
            return Some(format!("{bin} not found (install {package})"));
        }
    }
    None
}

/// The rc files bash reads for a command run through sshd (Debian builds
/// bash so that it reads `~/.bashrc` then). The hosts the tests play log in
/// as a stock root would, without this machine's: a `.bashrc` that runs
/// `pyenv init` costs about 100 ms of CPU per session, which on the one box
/// that plays every host outweighs the client being measured.
const HIDDEN_RC: &[&str] = &["/root/.bashrc"];

/// `sshd -D -e -f CONFIG` in a mount namespace of its own in which
/// [`HIDDEN_RC`] read as empty. `exec` keeps sshd's pid the child's, so
/// it is stopped by pid like any other.
fn sshd(config: &Path) -> Command {
    let script = format!(
        "for f in {}; do if [ -e \"$f\" ]; then mount --bind /dev/null \"$f\" || exit 1; fi; done; exec \"$0\" -D -e -f \"$1\"",
        HIDDEN_RC.join(" ")
    );
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "--", "sh", "-c", &script, SSHD]).arg(config);
    cmd
}

/// One host: its address, its sshd and the daemon its sessions reach.
pub struct SshHost {
    /// The ssh alias (`h1`, `h2`, …), what tests pass to `-H`.
    pub name: String,
    /// Its own loopback address.
    pub addr: Ipv4Addr,
    /// The port its sshd listens on.
    pub port: u16,
    config: PathBuf,
    log: PathBuf,
    sshd: Option<Child>,
}

/// Several [`SshHost`]s sharing one client key and one `ssh_config`.
pub struct Cluster {
    dir: TempDir,
    /// The hosts, in the order they were given.
    pub hosts: Vec<SshHost>,
    /// The sshds of [`Cluster::start_shared`].
    shared: Vec<Child>,
}

fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .expect("cannot run ssh-keygen");
    assert!(status.success(), "ssh-keygen failed");
}

impl Cluster {
    /// Starts one sshd per daemon, host `i` (from 1) named `h{i}` on
    /// `127.0.0.{i+1}`, and waits until each accepts connections.
    pub fn start(daemons: &[&TestDaemon]) -> Cluster {
        std::fs::create_dir_all(PRIVSEP_DIR).expect("cannot create /run/sshd");
        let dir = tempfile::Builder::new().prefix("isinit-ssh-").tempdir().expect("temporary directory");
        // Readable by an unprivileged login, whose authorized keys are here.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
        keygen(&dir.path().join("host_key"));
        keygen(&dir.path().join("id"));
        std::fs::create_dir(dir.path().join("keys")).expect("keys dir");
        let mut cluster = Cluster { dir, hosts: Vec::new(), shared: Vec::new() };
        cluster.authorize("root");
        let mut client = String::new();
        for (i, d) in daemons.iter().enumerate() {
            let n = u8::try_from(i + 2).expect("a few hosts");
            let addr = Ipv4Addr::new(127, 0, 0, n);
            let port = crate::services::free_port_on(addr);
            let name = format!("h{}", i + 1);
            let config = cluster.path(&format!("sshd_{name}.conf"));
            let dirp = cluster.dir.path().display().to_string();
            std::fs::write(
                &config,
                format!(
                    "Port {port}\nListenAddress {addr}\nHostKey {dirp}/host_key\nPidFile none\n\
                     AuthorizedKeysFile {dirp}/keys/%u\nStrictModes no\nPasswordAuthentication no\n\
                     KbdInteractiveAuthentication no\nUsePAM no\nPermitRootLogin prohibit-password\n\
                     SetEnv ISINIT_SOCKET={}\n",
                    d.socket().display()
                ),
            )
            .expect("sshd config");
            client.push_str(&format!(
                "Host {name}\n  HostName {addr}\n  Port {port}\n  User root\n  IdentityFile {dirp}/id\n  \
                 IdentitiesOnly yes\n  UserKnownHostsFile /dev/null\n  GlobalKnownHostsFile /dev/null\n  \
                 StrictHostKeyChecking no\n  LogLevel ERROR\n  ConnectTimeout 5\n"
            ));
            let log = cluster.path(&format!("sshd_{name}.log"));
            cluster.hosts.push(SshHost { name, addr, port, config, log, sshd: None });
        }
        std::fs::write(cluster.path("ssh_config"), client).expect("ssh config");
        for i in 0..cluster.hosts.len() {
            cluster.start_host(i);
        }
        cluster
    }

    /// Like [`Cluster::start`], but for many hosts: each sshd listens on
    /// up to [`ADDRESSES_PER_SSHD`] hosts' loopback addresses
    /// (`127.0.0.{i+1}`, one port), each address reaching its own daemon
    /// through `Match LocalAddress` and `SetEnv ISINIT_SOCKET=…`, with
    /// `MaxStartups` raised so that a wide fan-out is not refused by
    /// sshd's own throttle. Hosts are `h1`…; `stop_host` does not apply.
    pub fn start_shared(daemons: &[&TestDaemon]) -> Cluster {
        std::fs::create_dir_all(PRIVSEP_DIR).expect("cannot create /run/sshd");
        let dir = tempfile::Builder::new().prefix("isinit-ssh-").tempdir().expect("temporary directory");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
        keygen(&dir.path().join("host_key"));
        keygen(&dir.path().join("id"));
        std::fs::create_dir(dir.path().join("keys")).expect("keys dir");
        let mut cluster = Cluster { dir, hosts: Vec::new(), shared: Vec::new() };
        cluster.authorize("root");
        let dirp = cluster.dir.path().display().to_string();
        let mut client = String::new();
        for (chunk, group) in daemons.chunks(ADDRESSES_PER_SSHD).enumerate() {
            let first = chunk * ADDRESSES_PER_SSHD;
            let port = crate::services::free_port_on(Ipv4Addr::new(
                127,
                0,
                0,
                u8::try_from(first + 2).expect("at most 250 hosts"),
            ));
            let config = cluster.path(&format!("sshd_shared{chunk}.conf"));
            let log = cluster.path(&format!("sshd_shared{chunk}.log"));
            let mut server = format!(
                "Port {port}\nHostKey {dirp}/host_key\nPidFile none\nAuthorizedKeysFile {dirp}/keys/%u\n\
                 StrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
                 PermitRootLogin prohibit-password\nMaxStartups 512\nUseDNS no\n"
            );
            let mut matches = String::new();
            for (j, d) in group.iter().enumerate() {
                let i = first + j;
                let addr = Ipv4Addr::new(127, 0, 0, u8::try_from(i + 2).expect("at most 250 hosts"));
                let name = format!("h{}", i + 1);
                server.push_str(&format!("ListenAddress {addr}\n"));
                matches
                    .push_str(&format!("Match LocalAddress {addr}\n  SetEnv ISINIT_SOCKET={}\n", d.socket().display()));
                client.push_str(&format!(
                    "Host {name}\n  HostName {addr}\n  Port {port}\n  User root\n  IdentityFile {dirp}/id\n  \
                     IdentitiesOnly yes\n  UserKnownHostsFile /dev/null\n  GlobalKnownHostsFile /dev/null\n  \
                     StrictHostKeyChecking no\n  LogLevel ERROR\n  ConnectTimeout 5\n"
                ));
                cluster.hosts.push(SshHost { name, addr, port, config: config.clone(), log: log.clone(), sshd: None });
            }
            std::fs::write(&config, server + &matches).expect("sshd config");
            let stderr = std::fs::OpenOptions::new().create(true).append(true).open(&log).expect("sshd log");
            let child = sshd(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(stderr)
                .spawn()
                .expect("cannot start sshd");
            cluster.shared.push(child);
        }
        std::fs::write(cluster.path("ssh_config"), client).expect("ssh config");
        for i in 0..cluster.hosts.len() {
            let h = &cluster.hosts[i];
            let addr = SocketAddr::from((h.addr, h.port));
            let log = h.log.clone();
            let sshd = &mut cluster.shared[i / ADDRESSES_PER_SSHD];
            wait_for(DEADLINE, "the shared sshd to listen", || {
                if let Ok(Some(status)) = sshd.try_wait() {
                    panic!("sshd exited ({status}):\n{}", std::fs::read_to_string(&log).unwrap_or_default());
                }
                TcpStream::connect(addr).map(drop).map_err(|e| e.to_string())
            });
        }
        cluster
    }

    /// The `ssh_config` the cluster's clients use (for `clush -o -F …`).
    pub fn ssh_config(&self) -> PathBuf {
        self.path("ssh_config")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Lets `user` log in with the cluster's client key.
    pub fn authorize(&self, user: &str) {
        let key = std::fs::read_to_string(self.path("id.pub")).expect("public key");
        let file = self.path("keys").join(user);
        std::fs::write(&file, key).expect("authorized keys");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    }

    /// `ISINIT_SSH` for this cluster.
    pub fn ssh_command(&self) -> String {
        format!("ssh -F {} -o BatchMode=yes", self.path("ssh_config").display())
    }

    /// The environment a client needs to reach the cluster: `ISINIT_SSH`
    /// and `ISINIT_REMOTE_BIN` (the binary under test).
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("ISINIT_SSH".to_string(), self.ssh_command()),
            ("ISINIT_REMOTE_BIN".to_string(), isinit().display().to_string()),
        ]
    }

    /// The host names, in order.
    pub fn names(&self) -> Vec<String> {
        self.hosts.iter().map(|h| h.name.clone()).collect()
    }

    /// Adds ssh alias `name` for `addr:port` with the cluster's settings,
    /// for a host the test plays itself (one that never answers).
    pub fn add_alias(&self, name: &str, addr: Ipv4Addr, port: u16) {
        let dirp = self.dir.path().display();
        let entry = format!(
            "Host {name}\n  HostName {addr}\n  Port {port}\n  User root\n  IdentityFile {dirp}/id\n  \
             IdentitiesOnly yes\n  UserKnownHostsFile /dev/null\n  GlobalKnownHostsFile /dev/null\n  \
             StrictHostKeyChecking no\n  LogLevel ERROR\n"
        );
        let path = self.path("ssh_config");
        let mut config = std::fs::read_to_string(&path).expect("ssh config");
        config.push_str(&entry);
        std::fs::write(&path, config).expect("ssh config");
    }

    /// Starts (again) the sshd of host `i` and waits until it accepts.
    pub fn start_host(&mut self, i: usize) {
        let h = &mut self.hosts[i];
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&h.log).expect("sshd log");
        let child =
            sshd(&h.config).stdin(Stdio::null()).stdout(Stdio::null()).stderr(log).spawn().expect("cannot start sshd");
        h.sshd = Some(child);
        let addr = SocketAddr::from((h.addr, h.port));
        let log = h.log.clone();
        let sshd = h.sshd.as_mut().expect("just started");
        wait_for(DEADLINE, "sshd to listen", || {
            if let Ok(Some(status)) = sshd.try_wait() {
                panic!("sshd exited ({status}):\n{}", std::fs::read_to_string(&log).unwrap_or_default());
            }
            TcpStream::connect(addr).map(drop).map_err(|e| e.to_string())
        });
    }

    /// Stops the sshd of host `i` (by its pid): the host becomes unreachable.
    pub fn stop_host(&mut self, i: usize) {
        if let Some(mut child) = self.hosts[i].sshd.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `isinit ARGS` as an operator's workstation runs it: no local daemon,
    /// `ISINIT_SSH` pointing at this cluster, the remote binary being the
    /// one under test.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(isinit());
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("ISINIT_") {
                cmd.env_remove(name);
            }
        }
        cmd.args(args)
            .env("ISINIT_SSH", self.ssh_command())
            .env("ISINIT_REMOTE_BIN", isinit())
            // Generous per-host deadline: ssh plus two process start-ups on
            // a loaded two-core CI box can exceed the default 10 s.
            .env("ISINIT_TIMEOUT", "30")
            .env("ISINIT_CONNECT_TIMEOUT", "30")
            .env("ISINIT_SOCKET", self.path("no-local-daemon.s"))
            .env("NO_COLOR", "1")
            .current_dir(self.dir.path());
        cmd
    }

    /// Runs `isinit ARGS` to completion.
    #[track_caller]
    pub fn cli(&self, args: &[&str]) -> Cli {
        run(self.command(args), DEADLINE)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.hosts.len() {
            self.stop_host(i);
        }
        for mut sshd in self.shared.drain(..) {
            let _ = sshd.kill();
            let _ = sshd.wait();
        }
    }
}

/// Creates the system user `name` (if missing) with no password but an
/// unlocked account, so sshd lets it in with a key.
pub fn ensure_user(name: &str) {
    let exists = Command::new("id").arg(name).stdout(Stdio::null()).stderr(Stdio::null()).status();
    if !exists.is_ok_and(|s| s.success()) {
        let status = Command::new("useradd")
            .args(["--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/bin/sh", name])
            .status()
            .expect("cannot run useradd");
        assert!(status.success(), "useradd {name} failed");
    }
    // `*`: no password can match, but the account is not locked (`!`),
    // which sshd without PAM would refuse.
    let status = Command::new("usermod").args(["-p", "*", name]).status().expect("cannot run usermod");
    assert!(status.success(), "usermod {name} failed");
}
