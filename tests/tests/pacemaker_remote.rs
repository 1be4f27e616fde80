//! isinit groups on Pacemaker Remote nodes (issue 18, SPEC §18): one full
//! Corosync/Pacemaker node and three `pacemaker-remoted` nodes, each in
//! its own network, mount and UTS namespaces with its own authkey copy,
//! Pacemaker state and isinit daemon. An `ocf:isinit:group` resource is
//! placed on a remote node, moved to another by a location constraint,
//! and recovered on a third when the isinit daemon under it is killed —
//! never running on two nodes at once; each node's audit trail names
//! `pacemaker:svc@remote-N` as the teller. A clone runs the group on every
//! node, full and remote. The times of each step are printed (the book's
//! Pacemaker chapter quotes them).

use isinit_e2e::fixtures::summary;
use isinit_e2e::ocf::{install_agent, is_root, missing_tools};
use isinit_e2e::pacemaker::{
    CLUSTER_DEADLINE, DAEMON_DIR, FULL, NAMESPACE_TOOLS, RemoteCluster, RunSampler, TOOLS, namespaces_missing, remoted,
    running_on,
};
use isinit_e2e::{TestDaemon, wait_for};
use isinit_shared::protocol::{GroupState, ProcessState, Snapshot};
use std::path::Path;
use std::time::Instant;

/// How many remote nodes the test starts.
const REMOTES: usize = 3;

/// The same isinittab on every node.
const TAB: &str = "\
svc:svcd:run:respawn:exec sleep 1000
web:webd:run:respawn:exec sleep 1000
";

/// Whether `group` runs at `run` with its respawn entry up.
fn up(snap: &Snapshot, group: &str) -> bool {
    snap.group(group).is_some_and(|g| g.level.as_deref() == Some("run") && g.state == GroupState::Done)
        && snap.processes.iter().any(|p| p.group == group && p.state == ProcessState::Running)
}

/// Waits (cluster deadline) until `group` is up on daemon `d` of `node`.
#[track_caller]
fn wait_up(d: &TestDaemon, node: &str, group: &str) {
    wait_for(CLUSTER_DEADLINE, &format!("{group} at run on {node}"), || {
        let snap = d.try_snapshot()?;
        if up(&snap, group) { Ok(()) } else { Err(summary(&snap)) }
    });
}

/// Whether the audit trail of `d` holds `request` exactly.
fn audited(d: &TestDaemon, request: &str) -> bool {
    d.snapshot().audit.iter().any(|a| a.request == request)
}

/// The crm shell lines of resource `id` for group `id`: one definition for
/// every node, each node's daemon at [`DAEMON_DIR`].
fn primitive(id: &str) -> String {
    format!(
        "primitive {id} ocf:isinit:group \\\n  params group={id} socket={DAEMON_DIR}/init.s config={DAEMON_DIR}/isinittab \\\n  \
         op start timeout=60s op stop timeout=60s op monitor interval=2s timeout=20s\n"
    )
}

/// The `crm_mon` line of a primitive reads `Started NODE`.
fn started_on(mon: &str, id: &str, node: &str) -> bool {
    mon.lines().any(|l| {
        let l = l.trim_start_matches([' ', '*']);
        l.starts_with(&format!("{id}\t"))
            && l.contains("(ocf:isinit:group)")
            && l.trim_end().ends_with(&format!("Started {node}"))
    })
}

/// The path to `pacemaker-remoted`, or `None` (reason printed) where the
/// test cannot run.
fn prerequisites() -> Option<std::path::PathBuf> {
    if !is_root() {
        eprintln!("skipped: namespaces, corosync and pacemaker need root");
        return None;
    }
    let missing = missing_tools(&[TOOLS, NAMESPACE_TOOLS, &["ss"]].concat());
    if !missing.is_empty() {
        eprintln!(
            "skipped: {missing:?} not installed (apt-get install pacemaker corosync pacemaker-cli-utils crmsh iproute2 util-linux)"
        );
        return None;
    }
    if let Some(why) = namespaces_missing() {
        eprintln!("skipped: {why}");
        return None;
    }
    match remoted() {
        Ok(path) => Some(path),
        Err(why) => {
            eprintln!("skipped: {why}");
            None
        }
    }
}

#[test]
fn groups_run_on_pacemaker_remote_nodes_and_as_clones_on_every_node() {
    let Some(remoted) = prerequisites() else { return };
    install_agent();
    // daemons[0] is the full node's, daemons[i] remote-i's; declared before
    // the cluster so that Pacemaker stops every resource while they run.
    let mut daemons: Vec<TestDaemon> = (0..=REMOTES).map(|_| TestDaemon::builder(TAB).prepare()).collect();
    let began = Instant::now();
    let remote_dirs: Vec<&Path> = daemons[1..].iter().map(TestDaemon::dir).collect();
    let cluster = match RemoteCluster::start(&remoted, daemons[0].dir(), &remote_dirs) {
        Ok(c) => c,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let names: Vec<String> = std::iter::once(FULL.to_string()).chain(cluster.remote_names()).collect();
    for (name, d) in names.iter().zip(daemons.iter_mut()) {
        cluster.start_daemon(name, d);
    }
    let admin = cluster.admin();
    eprintln!(
        "full node online after {:?}; {REMOTES} remote nodes online {:?} after their connections were configured",
        cluster.online_after, cluster.remotes_online_after
    );

    // Placement: on remote nodes only, remote-1 preferred.
    let t = Instant::now();
    admin.configure(&format!(
        "{}location svc-on-remotes svc rule -inf: #kind ne remote\nlocation svc-prefers svc 100: remote-1\n",
        primitive("svc")
    ));
    wait_up(&daemons[1], "remote-1", "svc");
    admin.wait_location("svc", Some("remote-1"));
    let placement = t.elapsed();
    let mon = admin.crm_mon();
    assert!(started_on(&mon, "svc", "remote-1"), "{mon}");
    assert!(audited(&daemons[1], "tell svc run by pacemaker:svc@remote-1"), "{:?}", daemons[1].snapshot().audit);
    // On the node, the defaults reach its own daemon, as on a real node.
    let status = cluster.remotes[0].ok("isinit", &["status"]);
    assert!(status.contains("owner=pacemaker:svc@remote-1"), "{status}");

    // A move by a location constraint.
    let t = Instant::now();
    admin.configure("location svc-moved svc 200: remote-2\n");
    wait_up(&daemons[2], "remote-2", "svc");
    admin.wait_location("svc", Some("remote-2"));
    let moved = t.elapsed();
    let snap = daemons[1].snapshot();
    assert!(
        snap.group("svc").is_some_and(|g| g.level.as_deref() == Some("0") && g.owner.is_none())
            && snap.processes.iter().all(|p| p.pid.is_none()),
        "remote-1 stopped svc and released it: {}",
        summary(&snap)
    );
    assert!(audited(&daemons[1], "tell svc 0 by pacemaker:svc@remote-1, releasing the group"), "{:?}", snap.audit);
    assert!(audited(&daemons[2], "tell svc run by pacemaker:svc@remote-2"), "{:?}", daemons[2].snapshot().audit);

    // Recovery: remote-2's isinit daemon dies (kill -9, its group runs on
    // unsupervised); the agent's monitor reports it, its stop ends the
    // group there, and Pacemaker starts svc on the next best remote node.
    let sampler = RunSampler::start("svc", daemons[1..].iter().map(TestDaemon::socket).collect());
    let t = Instant::now();
    daemons[2].kill_daemon();
    wait_up(&daemons[1], "remote-1", "svc");
    admin.wait_location("svc", Some("remote-1"));
    let recovered = t.elapsed();
    let samples = sampler.finish();
    let twice: Vec<_> = samples.iter().filter(|s| s.nodes > 1).collect();
    assert!(twice.is_empty(), "svc ran on two remote nodes at once: {twice:?}\n{}", admin.crm_mon());
    assert_eq!(running_on("ISINIT_GROUP=svc", &[daemons[2].socket()]), 0, "svc left running on remote-2");
    let mon = admin.crm_mon();
    assert!(started_on(&mon, "svc", "remote-1"), "{mon}");
    // What the monitor on remote-2 said, as the DC recorded it (the
    // failed start that followed replaced it in crm_mon's failed actions).
    let reported = wait_for(CLUSTER_DEADLINE, "the DC to log the failed monitor on remote-2", || {
        let log = cluster.dc_log();
        let prefix = "Result of monitor operation for svc on remote-2: error (isinit daemon not running";
        let line = log.lines().find(|l| l.contains(prefix) && l.contains("but group svc still runs unsupervised"));
        line.map(|l| l.split_once("Result of").map_or(l, |(_, r)| r).to_string()).ok_or("no such line".to_string())
    });
    let recovery_mon = mon;
    let runs =
        daemons[1].snapshot().audit.iter().filter(|a| a.request == "tell svc run by pacemaker:svc@remote-1").count();
    assert_eq!(runs, 2, "remote-1's audit trail: placed there, then recovered there");
    // The daemon comes back; the group the agent stopped stays stopped.
    cluster.start_daemon("remote-2", &mut daemons[2]);
    let snap = daemons[2].snapshot();
    assert!(!up(&snap, "svc") && snap.processes.iter().all(|p| p.pid.is_none()), "{}", summary(&snap));

    // A clone: the group on every node, full and remote.
    let t = Instant::now();
    admin.configure(&format!("{}clone web-clone web\n", primitive("web")));
    for (d, name) in daemons.iter().zip(&names) {
        wait_up(d, name, "web");
    }
    let clone_started = t.elapsed();
    for (d, name) in daemons.iter().zip(&names) {
        let owner = d.snapshot().group("web").and_then(|g| g.owner.clone()).expect("owned");
        assert_eq!((owner.manager.as_str(), owner.node.as_str()), ("pacemaker", name.as_str()), "{owner:?}");
        assert!(owner.resource.starts_with("web"), "{owner:?}");
    }
    let every = format!("Started: [ {} ]", names.join(" "));
    let mon = wait_for(CLUSTER_DEADLINE, "crm_mon to show the clone on every node", || {
        let mon = admin.crm_mon();
        if mon.contains(&every) { Ok(mon) } else { Err(mon) }
    });

    let audit: Vec<String> =
        daemons[1].daemon_stderr().lines().filter(|l| l.contains("audit:")).map(String::from).collect();
    eprintln!("--- remote-1's audit trail ---\n{}", audit.join("\n"));
    eprintln!("--- the DC's log: Result of{reported}\n--- crm_mon after the recovery ---\n{recovery_mon}");
    eprintln!("--- crm_mon with the clone ---\n{mon}");
    eprintln!(
        "times: placement on a remote node {placement:?}; move {moved:?}; recovery after the daemon was killed \
         {recovered:?}; clone on all {} nodes {clone_started:?}",
        names.len()
    );
    drop(cluster);
    eprintln!("remote-node test took {:?}", began.elapsed());
}
