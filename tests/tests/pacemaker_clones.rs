//! isinit groups as Pacemaker clones (SPEC §18), in the two-node cluster
//! of `pacemaker_failover.rs`: a clone (`clone web-clone web`) runs the
//! group on every node, each node's daemon showing its own instance as
//! the owner; a promotable clone (`promoted_level`) has exactly one
//! instance promoted — its group at the promoted level on one node, at
//! the plain level on the other — and when that node's daemon stops, the
//! other instance is promoted.

use isinit_e2e::fixtures::summary;
use isinit_e2e::ocf::install_agent;
use isinit_e2e::pacemaker::{CLUSTER_DEADLINE, Shell, TwoNodes, two_nodes_unavailable};
use isinit_e2e::{TestDaemon, wait_for};
use isinit_shared::protocol::{GroupState, Snapshot};
use std::time::Instant;

const TAB: &str = "\
web:srv:run:respawn:exec sleep 1000
db:dbsrv:run,primary:respawn:exec sleep 1000
db:writer:primary:respawn:exec sleep 1000
";

fn settled_at(snap: &Snapshot, group: &str, level: &str) -> bool {
    snap.group(group).is_some_and(|g| g.level.as_deref() == Some(level) && g.state == GroupState::Done)
}

/// The level of `db` on each node, once both have settled at one of `run`
/// and `primary`.
#[track_caller]
fn wait_db_levels(daemons: &[TestDaemon; 2], admin: &Shell, what: &str, ok: impl Fn(&[String]) -> bool) -> Vec<String> {
    wait_for(CLUSTER_DEADLINE, what, || {
        let mut levels = Vec::new();
        for d in daemons {
            let snap = d.try_snapshot()?;
            let g = snap.group("db").ok_or_else(|| summary(&snap))?;
            if g.state != GroupState::Done {
                return Err(summary(&snap));
            }
            levels.push(g.level.clone().unwrap_or_default());
        }
        if ok(&levels) { Ok(levels) } else { Err(format!("{levels:?}\n{}", admin.run("crm_mon", &["-1", "-A"]))) }
    })
}

#[test]
fn clones_run_on_every_node_and_one_instance_is_promoted() {
    if let Some(why) = two_nodes_unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    install_agent();
    let mut daemons = [TestDaemon::builder(TAB).prepare(), TestDaemon::builder(TAB).prepare()];
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
    let common = cluster.common_dir();
    let params = |group: &str| {
        format!("params group={group} socket=\"{}/init.s\" config=\"{}/isinittab\"", common.display(), common.display())
    };

    // A clone: the group at its level on every node.
    let t = Instant::now();
    admin.configure(&format!(
        "primitive web ocf:isinit:group {} \\\n  op start timeout=60s op stop timeout=60s op monitor interval=2s timeout=20s\n\
         clone web-clone web\n",
        params("web")
    ));
    for (d, name) in daemons.iter().zip(&names) {
        wait_for(CLUSTER_DEADLINE, &format!("web at run on {name}"), || {
            let snap = d.try_snapshot()?;
            if settled_at(&snap, "web", "run") { Ok(()) } else { Err(summary(&snap)) }
        });
    }
    let clone_started = t.elapsed();
    for (d, name) in daemons.iter().zip(&names) {
        let owner = d.snapshot().group("web").and_then(|g| g.owner.clone()).expect("owned");
        assert_eq!((owner.manager.as_str(), owner.node.as_str()), ("pacemaker", name.as_str()), "{owner:?}");
        assert!(owner.resource.starts_with("web"), "{owner:?}");
    }
    eprintln!("clone running on both nodes after {clone_started:?}");

    // A promotable clone: exactly one instance promoted.
    let t = Instant::now();
    admin.configure(&format!(
        "primitive db ocf:isinit:group {} promoted_level=primary \\\n  op start timeout=60s op stop timeout=60s \\\n  \
         op promote timeout=60s op demote timeout=60s \\\n  \
         op monitor interval=3s role=Promoted timeout=20s op monitor interval=4s role=Unpromoted timeout=20s\n\
         clone db-clone db meta promotable=true promoted-max=1\n",
        params("db")
    ));
    let levels = wait_db_levels(&daemons, admin, "db promoted on one node and started on the other", |l| {
        let mut sorted = l.to_vec();
        sorted.sort();
        sorted == ["primary", "run"]
    });
    let promoted_after = t.elapsed();
    let primary = levels.iter().position(|l| l == "primary").expect("one primary");
    let mon = wait_for(CLUSTER_DEADLINE, "crm_mon to show the promoted instance", || {
        let mon = admin.crm_mon();
        if mon.contains(&format!("Promoted: [ {} ]", names[primary])) { Ok(mon) } else { Err(mon) }
    });
    eprintln!("promotable clone: {} promoted after {promoted_after:?}\n--- crm_mon ---\n{mon}", names[primary]);

    // The promoted node's daemon stops: the other instance is promoted.
    let t = Instant::now();
    daemons[primary].ok(&["shutdown", "--wait"]);
    daemons[primary].wait_exit();
    let other = 1 - primary;
    wait_for(CLUSTER_DEADLINE, "the other instance promoted", || {
        let snap = daemons[other].try_snapshot()?;
        if settled_at(&snap, "db", "primary") { Ok(()) } else { Err(summary(&snap)) }
    });
    eprintln!("promoted on {} {:?} after the daemon of {} stopped", names[other], t.elapsed(), names[primary]);
    drop(cluster);
    eprintln!("clone test took {:?}", began.elapsed());
}
