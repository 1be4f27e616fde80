//! Running the cluster tools (`crm`, `crm_mon`, `crm_resource`, ...) on a
//! node: directly for the machine's own node, through `nsenter` for a
//! node in namespaces.

use super::CLUSTER_DEADLINE;
use crate::fixtures::{Cli, run};
use crate::ocf::path_with_isinit;
use crate::wait::wait_for;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where and how a node's cluster tools run.
#[derive(Debug, Clone)]
pub struct Shell {
    /// Prepended to every command (e.g. `nsenter -t PID -n -m -u --`).
    prefix: Vec<OsString>,
    /// The node's name.
    node: String,
    /// Where `configure` writes its files.
    scratch: PathBuf,
}

impl Shell {
    /// Tools of node `node`, run behind `prefix`, writing scratch files
    /// into `scratch`.
    pub fn new(prefix: Vec<OsString>, node: &str, scratch: &Path) -> Shell {
        Shell { prefix, node: node.to_string(), scratch: scratch.to_owned() }
    }

    /// The node's name.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// `program ARGS` on this node, with `isinit` in its `PATH` (for the
    /// agent's meta-data).
    pub fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut cmd = match self.prefix.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(program);
                c
            }
            None => Command::new(program),
        };
        cmd.args(args).env("PATH", path_with_isinit());
        cmd
    }

    /// Runs a tool and returns what it did.
    pub fn run(&self, program: &str, args: &[&str]) -> Cli {
        run(self.command(program, args), CLUSTER_DEADLINE)
    }

    /// Runs a tool that must succeed; returns its stdout.
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
        let file = self.scratch.join("configure.crm");
        std::fs::write(&file, text).expect("write crm configuration");
        self.ok("crm", &["configure", "load", "update", &file.display().to_string()]);
    }

    /// Disables fencing: these test clusters have no fence device.
    #[track_caller]
    pub fn disable_stonith(&self) {
        self.ok("crm_attribute", &["--type", "crm_config", "--name", "stonith-enabled", "--update", "false"]);
    }

    /// Waits until the cluster has no transition in flight (every start,
    /// stop and recovery it planned has finished).
    #[track_caller]
    pub fn settle(&self) {
        let timeout = format!("--timeout={}s", CLUSTER_DEADLINE.as_secs());
        self.ok("crm_resource", &["--wait", &timeout]);
    }

    /// The node Pacemaker reports `resource` running on, if any.
    pub fn location(&self, resource: &str) -> Option<String> {
        let out = self.run("crm_resource", &["--locate", "--resource", resource]);
        out.stdout.split("is running on: ").nth(1).map(|rest| rest.trim().to_string())
    }

    /// Waits until Pacemaker has settled with `resource` on `node` (`None`:
    /// stopped everywhere).
    #[track_caller]
    pub fn wait_location(&self, resource: &str, node: Option<&str>) {
        let what = format!("Pacemaker to settle with {resource} on {node:?}");
        wait_for(CLUSTER_DEADLINE, &what, || {
            self.settle();
            if self.location(resource).as_deref() == node { Ok(()) } else { Err(self.crm_mon()) }
        });
    }

    /// Waits until Pacemaker has settled with `resource` running on this
    /// node (or not running at all).
    #[track_caller]
    pub fn wait_running(&self, resource: &str, running: bool) {
        let node = self.node.clone();
        self.wait_location(resource, running.then_some(node.as_str()));
    }

    /// The fail count of `resource` on `node`.
    pub fn failcount(&self, resource: &str, node: &str) -> u64 {
        let out = self.run("crm_failcount", &["--query", "--quiet", "--resource", resource, "--node", node]);
        match out.stdout.trim() {
            "INFINITY" => u64::MAX,
            n => n.parse().unwrap_or(0),
        }
    }
}
