//! Two nodes, failover (issue 7, point 5): two Corosync/Pacemaker nodes
//! on this one machine, each in its own network, mount and UTS namespaces
//! with its own isinit daemon. One `ocf:isinit:group` resource; when the
//! isinit daemon of the node running it stops, or that node leaves the
//! cluster, the group comes up at its level on the other node; when that
//! daemon is killed (`kill -9`) and restarted as systemd would, the group
//! never runs on both nodes at once.

use isinit_e2e::fixtures::summary;
use isinit_e2e::ocf::install_agent;
use isinit_e2e::pacemaker::{CLUSTER_DEADLINE, RunSampler, TwoNodes, two_nodes_unavailable};
use isinit_e2e::{TestDaemon, wait_for};
use isinit_shared::protocol::{GroupState, ProcessState};
use std::time::{Duration, Instant};

const TAB: &str = "\
svc:prep:run:wait:sleep 0.2
svc:srv:run:respawn:exec sleep 1000
";

/// Waits (cluster deadline) until `svc` runs at `run` on daemon `d`.
#[track_caller]
fn wait_svc_up(d: &TestDaemon, node: &str) {
    wait_for(CLUSTER_DEADLINE, &format!("svc at run on {node}"), || {
        let snap = d.try_snapshot()?;
        let up = snap.group("svc").is_some_and(|g| g.level.as_deref() == Some("run") && g.state == GroupState::Done)
            && snap.processes.iter().any(|p| p.tag == "srv" && p.state == ProcessState::Running);
        if up { Ok(()) } else { Err(summary(&snap)) }
    });
}

/// Two nodes with a daemon each and the resource `svc` started on one of
/// them: the cluster, the node names, and the index of the node running
/// `svc`; `None` (reason printed) where the test cannot run.
fn cluster_running_svc(daemons: &mut [TestDaemon; 2]) -> Option<(TwoNodes, Vec<String>, usize)> {
    if let Some(why) = two_nodes_unavailable() {
        eprintln!("skipped: {why}");
        return None;
    }
    install_agent();
    let cluster = match TwoNodes::start([daemons[0].dir(), daemons[1].dir()]) {
        Ok(c) => c,
        Err(why) => {
            eprintln!("skipped: {why}");
            return None;
        }
    };
    eprintln!("both nodes online after {:?}", cluster.online_after);
    for (node, d) in cluster.nodes.iter().zip(daemons.iter_mut()) {
        node.start_daemon(d);
    }
    let common = cluster.common_dir();
    cluster.nodes[0].configure(&format!(
        "primitive svc ocf:isinit:group \\\n  params group=svc socket=\"{}/init.s\" config=\"{}/isinittab\" \\\n  \
         op start timeout=60s op stop timeout=60s op monitor interval=2s timeout=20s\n\
         rsc_defaults resource-stickiness=100\n",
        common.display(),
        common.display()
    ));
    let names: Vec<String> = cluster.nodes.iter().map(|n| n.node().to_string()).collect();
    wait_for(CLUSTER_DEADLINE, "svc to start somewhere", || {
        cluster.nodes[0].settle();
        cluster.nodes[0].location("svc").ok_or_else(|| cluster.nodes[0].crm_mon())
    });
    let first = names.iter().position(|n| cluster.nodes[0].location("svc").as_deref() == Some(n)).expect("a node");
    wait_svc_up(&daemons[first], &names[first]);
    Some((cluster, names, first))
}

#[test]
fn a_group_fails_over_when_its_daemon_stops_or_its_node_leaves() {
    let mut daemons = [TestDaemon::builder(TAB).prepare(), TestDaemon::builder(TAB).prepare()];
    let began = Instant::now();
    let Some((mut cluster, names, first)) = cluster_running_svc(&mut daemons) else { return };
    let second = 1 - first;
    let snap = daemons[second].snapshot();
    assert_eq!(snap.group("svc").map(|g| g.state), Some(GroupState::Configured), "{}", summary(&snap));

    // The isinit daemon of the running node stops: monitor says not
    // running, the start there fails, Pacemaker moves the group.
    let t = Instant::now();
    daemons[first].ok(&["shutdown", "--wait"]);
    daemons[first].wait_exit();
    wait_svc_up(&daemons[second], &names[second]);
    let failover = t.elapsed();
    cluster.nodes[second].wait_location("svc", Some(&names[second]));
    let mon = cluster.nodes[second].crm_mon();
    assert!(mon.contains("isinit daemon not running"), "{mon}");
    eprintln!("failover after the daemon stopped: {failover:?}\n--- crm_mon ---\n{mon}");

    // The daemon comes back and its failure is cleaned up; the group stays
    // put (stickiness) until the node running it leaves the cluster.
    cluster.nodes[first].start_daemon(&mut daemons[first]);
    cluster.nodes[second].ok("crm", &["resource", "cleanup", "svc"]);
    cluster.nodes[second].wait_location("svc", Some(&names[second]));
    let t = Instant::now();
    cluster.nodes[second].leave();
    wait_svc_up(&daemons[first], &names[first]);
    let handover = t.elapsed();
    let snap = daemons[second].snapshot();
    assert!(
        snap.group("svc").is_some_and(|g| g.level.as_deref() == Some("0") && g.state == GroupState::Done),
        "the leaving node stopped its group: {}",
        summary(&snap)
    );
    assert!(snap.processes.iter().all(|p| p.pid.is_none()), "{}", summary(&snap));
    cluster.nodes[first].wait_location("svc", Some(&names[first]));
    eprintln!(
        "handover when {} left: {handover:?}\n--- crm_mon ---\n{}",
        names[second],
        cluster.nodes[first].crm_mon()
    );
    drop(cluster);
    eprintln!("two-node test took {:?}", began.elapsed());
}

/// systemd's `RestartSec=` in packaging/systemd/isinit.service: how long a
/// crashed daemon stays down before it is started again.
const RESTART_SEC: Duration = Duration::from_secs(1);

#[test]
fn a_kill_9_of_the_active_daemon_never_runs_the_group_twice() {
    let mut daemons = [TestDaemon::builder(TAB).prepare(), TestDaemon::builder(TAB).prepare()];
    let Some((cluster, names, first)) = cluster_running_svc(&mut daemons) else { return };
    let sockets = daemons.iter().map(TestDaemon::socket).collect();
    let sampler = RunSampler::start("svc", sockets);
    // The daemon crashes; its services live on (KillMode=process) and
    // systemd starts it again after RestartSec. The pause is the scenario
    // (what systemd does), not a wait for some state.
    daemons[first].kill_daemon();
    std::thread::sleep(RESTART_SEC);
    cluster.nodes[first].start_daemon(&mut daemons[first]);
    // Recovery ends with svc at run on exactly one node, where Pacemaker
    // says it is, and Pacemaker idle.
    let at = wait_for(CLUSTER_DEADLINE, "svc running exactly once where Pacemaker has it", || {
        cluster.nodes[0].settle();
        let location = cluster.nodes[0].location("svc").ok_or_else(|| cluster.nodes[0].crm_mon())?;
        let i = names.iter().position(|n| *n == location).ok_or_else(|| format!("svc on {location}?"))?;
        let samples = sampler.samples();
        if let Some(s) = samples.iter().find(|s| s.nodes > 1) {
            panic!("svc ran on both nodes at once {:?} after the kill:\n{}", s.at, cluster.nodes[0].crm_mon());
        }
        let last = samples.last().map_or(0, |s| s.nodes);
        let snap = daemons[i].try_snapshot()?;
        let up = snap.group("svc").is_some_and(|g| g.level.as_deref() == Some("run") && g.state == GroupState::Done)
            && snap.processes.iter().any(|p| p.tag == "srv" && p.state == ProcessState::Running);
        if up && last == 1 { Ok(i) } else { Err(format!("on {location}, {last} node(s): {}", summary(&snap))) }
    });
    // A few more samples after the cluster settled.
    let settled = sampler.samples().len();
    wait_for(CLUSTER_DEADLINE, "more samples", || {
        if sampler.samples().len() >= settled + 10 { Ok(()) } else { Err("sampling".to_string()) }
    });
    let samples = sampler.finish();
    let twice: Vec<_> = samples.iter().filter(|s| s.nodes > 1).collect();
    assert!(twice.is_empty(), "svc ran on both nodes at once: {twice:?}\n{}", cluster.nodes[0].crm_mon());
    assert_eq!(samples.last().map(|s| s.nodes), Some(1), "svc does not end running exactly once");
    eprintln!(
        "recovered on {} after {} samples (every 100 ms); --- crm_mon ---\n{}",
        names[at],
        samples.len(),
        cluster.nodes[0].crm_mon()
    );
}
