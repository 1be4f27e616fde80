//! Node health from isinit (SPEC §18): each node's daemon sets the node
//! attribute `#health-isinit` through `attrd_updater`; with
//! `node-health-strategy=migrate-on-red`, a node whose isinit turns red (a
//! group FAILED) loses its resource to the other node, and turns green
//! again once the group is repaired. Two Corosync/Pacemaker nodes in
//! namespaces on this machine, as in `pacemaker_failover.rs`.

use isinit_e2e::fixtures::summary;
use isinit_e2e::ocf::install_agent;
use isinit_e2e::pacemaker::{CLUSTER_DEADLINE, Shell, TwoNodes, two_nodes_unavailable};
use isinit_e2e::{TestDaemon, wait_for};
use isinit_shared::protocol::{GroupState, ProcessState};
use std::time::Instant;

const TAB: &str = "\
svc:prep:run:wait:sleep 0.2
svc:srv:run:respawn:exec sleep 1000
chk:disk:run:test:[ -e {dir}/disk.ok ]
";

/// `#health-isinit` of `node` as the cluster has it (`None`: unset).
fn health(shell: &Shell, node: &str) -> Option<String> {
    let out = shell.run("attrd_updater", &["-Q", "-n", "#health-isinit", "-N", node]);
    let line = out.stdout.lines().find(|l| l.contains("value="))?.to_string();
    let value = line.split("value=\"").nth(1)?.split('"').next()?.to_string();
    (!value.is_empty()).then_some(value)
}

#[track_caller]
fn wait_health(shell: &Shell, node: &str, color: &str) {
    wait_for(CLUSTER_DEADLINE, &format!("#health-isinit={color} on {node}"), || match health(shell, node) {
        Some(c) if c == color => Ok(()),
        other => Err(format!("{other:?}")),
    });
}

#[track_caller]
fn wait_svc_up(d: &TestDaemon, node: &str) {
    wait_for(CLUSTER_DEADLINE, &format!("svc at run on {node}"), || {
        let snap = d.try_snapshot()?;
        let up = snap.group("svc").is_some_and(|g| g.level.as_deref() == Some("run") && g.state == GroupState::Done)
            && snap.processes.iter().any(|p| p.tag == "srv" && p.state == ProcessState::Running);
        if up { Ok(()) } else { Err(summary(&snap)) }
    });
}

#[test]
fn a_node_whose_isinit_turns_red_loses_its_resource() {
    if let Some(why) = two_nodes_unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    install_agent();
    let mut daemons = [TestDaemon::builder(TAB).prepare(), TestDaemon::builder(TAB).prepare()];
    for d in &daemons {
        std::fs::write(d.path("disk.ok"), "").expect("disk.ok");
    }
    let began = Instant::now();
    let cluster = match TwoNodes::start([daemons[0].dir(), daemons[1].dir()]) {
        Ok(c) => c,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    for (node, d) in cluster.nodes.iter().zip(daemons.iter_mut()) {
        node.start_daemon(d);
    }
    let names: Vec<String> = cluster.nodes.iter().map(|n| n.node().to_string()).collect();
    let admin = &cluster.nodes[0];
    // Each daemon reports green as soon as it runs.
    for name in &names {
        wait_health(admin, name, "green");
    }
    let common = cluster.common_dir();
    admin.configure(&format!(
        "property node-health-strategy=migrate-on-red\n\
         primitive svc ocf:isinit:group \\\n  params group=svc socket=\"{}/init.s\" config=\"{}/isinittab\" \\\n  \
         op start timeout=60s op stop timeout=60s op monitor interval=2s timeout=20s\n\
         rsc_defaults resource-stickiness=100\n",
        common.display(),
        common.display()
    ));
    let first = wait_for(CLUSTER_DEADLINE, "svc to start somewhere", || {
        admin.settle();
        let at = admin.location("svc").ok_or_else(|| admin.crm_mon())?;
        names.iter().position(|n| *n == at).ok_or(at)
    });
    let second = 1 - first;
    wait_svc_up(&daemons[first], &names[first]);

    // A test of the node's isinit fails: its group is FAILED, the node
    // red, and Pacemaker moves svc to the healthy node.
    std::fs::remove_file(daemons[first].path("disk.ok")).expect("rm disk.ok");
    let t = Instant::now();
    daemons[first].tell("chk", "run");
    wait_health(admin, &names[first], "red");
    let red_after = t.elapsed();
    wait_svc_up(&daemons[second], &names[second]);
    admin.wait_location("svc", Some(&names[second]));
    let moved_after = t.elapsed();
    let snap = daemons[first].snapshot();
    assert!(
        snap.group("svc").is_some_and(|g| g.level.as_deref() == Some("0"))
            && snap.processes_of("svc").all(|p| p.pid.is_none()),
        "the red node stopped svc: {}",
        summary(&snap)
    );
    assert!(
        snap.notices.iter().any(|n| n.message.contains("#health-isinit = red (group chk is FAILED)")),
        "{:?}",
        snap.notices
    );
    eprintln!(
        "{} red after {red_after:?}, svc moved to {} after {moved_after:?}\n--- crm_mon ---\n{}",
        names[first],
        names[second],
        admin.crm_mon()
    );

    // Repaired: green again (svc stays where it is, by stickiness).
    std::fs::write(daemons[first].path("disk.ok"), "").expect("disk.ok");
    daemons[first].tell("chk", "0");
    wait_health(admin, &names[first], "green");
    assert_eq!(admin.location("svc").as_deref(), Some(names[second].as_str()));

    // isinit shut down on that node: what it said of the node no longer
    // holds, and the attribute goes rather than stay green (or red) forever.
    daemons[first].ok(&["shutdown", "--wait"]);
    wait_for(CLUSTER_DEADLINE, "#health-isinit removed", || match health(admin, &names[first]) {
        None => Ok(()),
        Some(c) => Err(c),
    });
    drop(cluster);
    eprintln!("health test took {:?}", began.elapsed());
}
