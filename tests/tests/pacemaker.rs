//! isinit under a real Pacemaker (issue 7): a one-node Corosync/Pacemaker
//! cluster started by the test drives `ocf:isinit:group` resources on a
//! test daemon — start, recovery after a tell behind its back, recovery
//! from a crash loop, target-role Stopped, and a Pacemaker group ordering
//! two isinit groups.
//!
//! One test function: there is one cluster stack per machine (and a
//! machine-wide lock in the fixture against other test binaries).

use isinit_e2e::fixtures::{find, summary};
use isinit_e2e::ocf::{install_agent, is_root, missing_tools};
use isinit_e2e::pacemaker::{CLUSTER_DEADLINE, Cluster, TOOLS};
use isinit_e2e::{TestDaemon, wait_for};
use isinit_shared::protocol::{AuditRecord, GroupState, ProcessState, Snapshot};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::time::Instant;

const TAB: &str = "\
web:prep:run:wait:sleep 0.3
web:srv:run:respawn:exec sleep 1000
web:shell:maint:respawn:exec sleep 1000
flaky:fl:run:respawn:[ -e {dir}/flaky.ok ] && exec sleep 1000; exit 1
db:dbinit:run:wait:sleep 1
db:dbsrv:run:respawn:exec sleep 1000
app:appsrv:run:respawn:exec sleep 1000
other:o1:run:respawn:exec sleep 1000
";

/// The crm shell lines of one resource on the test daemon.
fn primitive(d: &TestDaemon, id: &str) -> String {
    format!(
        "primitive {id} ocf:isinit:group \\\n  params group={id} socket=\"{}\" config=\"{}\" \\\n  \
         op start timeout=60s op stop timeout=60s op monitor interval=2s timeout=20s\n",
        d.socket().display(),
        d.tab_path().display()
    )
}

/// Waits (cluster deadline) until `cond` holds on a fresh snapshot.
#[track_caller]
fn wait_snapshot(d: &TestDaemon, what: &str, cond: impl Fn(&Snapshot) -> bool) -> Snapshot {
    wait_for(CLUSTER_DEADLINE, what, || {
        let snap = d.try_snapshot()?;
        if cond(&snap) { Ok(snap) } else { Err(summary(&snap)) }
    })
}

fn at(snap: &Snapshot, group: &str, level: &str, state: GroupState) -> bool {
    snap.group(group).is_some_and(|g| g.level.as_deref() == Some(level) && g.state == state)
}

fn running_pid(snap: &Snapshot, tag: &str) -> Option<u32> {
    find(snap, tag).filter(|p| p.state == ProcessState::Running).and_then(|p| p.pid)
}

/// The audit records of `tell GROUP LEVEL` (`… by pacemaker:R@NODE` and
/// the like included).
fn tells<'a>(snap: &'a Snapshot, group: &str, level: &str) -> Vec<&'a AuditRecord> {
    let request = format!("tell {group} {level}");
    snap.audit
        .iter()
        .filter(|a| a.request.strip_prefix(&request).is_some_and(|rest| rest.is_empty() || rest.starts_with(' ')))
        .collect()
}

#[test]
fn pacemaker_runs_isinit_groups_end_to_end() {
    if !is_root() {
        eprintln!("skipped: corosync and pacemaker need root");
        return;
    }
    let missing = missing_tools(TOOLS);
    if !missing.is_empty() {
        eprintln!("skipped: {missing:?} not installed (apt-get install pacemaker corosync pacemaker-cli-utils crmsh)");
        return;
    }
    let began = Instant::now();
    let d = TestDaemon::builder(TAB).respawn_pause(60.0).start();
    std::fs::write(d.path("flaky.ok"), "").expect("flaky.ok");
    d.tell("other", "run");
    let other_pid = d.wait_running("o1");
    install_agent();
    let mut cluster = match Cluster::start() {
        Ok(c) => c,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    eprintln!("node {} online after {:?}", cluster.node(), cluster.online_after);

    // 1. Pacemaker starts the group: isinit has it at its level, crm_mon
    // shows it Started.
    cluster.configure(&(primitive(&d, "web") + &primitive(&d, "flaky")));
    cluster.wait_running("web", true);
    cluster.wait_running("flaky", true);
    let snap = d.snapshot();
    assert!(at(&snap, "web", "run", GroupState::Done), "{}", summary(&snap));
    assert!(running_pid(&snap, "srv").is_some(), "{}", summary(&snap));
    let mon = cluster.crm_mon();
    assert!(mon.contains(&format!("web\t(ocf:isinit:group):\t Started {}", cluster.node())), "{mon}");
    eprintln!("--- crm_mon after start ---\n{mon}");

    // The group is Pacemaker's (SPEC §18): status, the audit trail.
    let owner = format!("pacemaker:web@{}", cluster.node());
    assert!(d.ok(&["status"]).contains(&format!("web run DONE owner={owner}")), "{}", d.ok(&["status"]));
    assert!(snap.audit.iter().any(|a| a.request == format!("tell web run by {owner}")), "{:?}", snap.audit);

    // 2. Told another level behind Pacemaker's back — refused without
    // --force; forced: monitor notices, Pacemaker recovers it (stop +
    // start) and records a failure.
    let old_srv = running_pid(&snap, "srv");
    let refused = d.fails(&["tell", "web", "maint"]);
    assert!(refused.contains(&format!("owned by {owner}")), "{refused}");
    d.ok(&["tell", "web", "maint", "--force"]);
    let snap = wait_snapshot(&d, "Pacemaker to bring web back to run", |s| {
        tells(s, "web", "run").len() >= 2 && at(s, "web", "run", GroupState::Done) && running_pid(s, "srv").is_some()
    });
    assert!(!tells(&snap, "web", "0").is_empty(), "recovery stops first: {:?}", snap.audit);
    assert_ne!(running_pid(&snap, "srv"), old_srv, "srv was restarted by the recovery");
    assert!(cluster.failcount("web") >= 1, "{}", cluster.crm_mon());
    cluster.settle();
    let mon = cluster.crm_mon();
    assert!(mon.contains("group web is at level maint"), "the exit reason is shown: {mon}");
    eprintln!("--- crm_mon after the recovery ---\n{mon}");

    // 3. An entry that crash-loops into backoff: monitor fails, Pacemaker
    // recovers the group (the cause repaired in the meantime).
    let fl = running_pid(&d.snapshot(), "fl").expect("fl runs");
    std::fs::remove_file(d.path("flaky.ok")).expect("rm flaky.ok");
    kill(Pid::from_raw(fl as i32), Signal::SIGKILL).expect("kill fl");
    wait_snapshot(&d, "fl to crash-loop into backoff", |s| {
        find(s, "fl").is_some_and(|p| p.state == ProcessState::Backoff)
    });
    std::fs::write(d.path("flaky.ok"), "").expect("flaky.ok");
    let snap = wait_snapshot(&d, "Pacemaker to recover flaky", |s| {
        tells(s, "flaky", "0").len() == 1
            && at(s, "flaky", "run", GroupState::Done)
            && find(s, "fl").is_some_and(|p| p.state == ProcessState::Running && p.respawns == 0)
    });
    assert!(snap.notices.iter().any(|n| n.message.contains("fl respawning too rapidly")), "{:?}", snap.notices);
    wait_for(CLUSTER_DEADLINE, "a fail count for flaky", || {
        if cluster.failcount("flaky") >= 1 { Ok(()) } else { Err(cluster.crm_mon()) }
    });
    assert!(cluster.crm_mon().contains("fl is in respawn backoff"), "{}", cluster.crm_mon());

    // 4. target-role Stopped: the group at its stop level with no process
    // left; the other groups untouched.
    let srv = running_pid(&d.snapshot(), "srv").expect("srv runs") as i32;
    cluster.ok("crm", &["resource", "stop", "web"]);
    cluster.wait_running("web", false);
    let snap = d.snapshot();
    assert!(at(&snap, "web", "0", GroupState::Done), "{}", summary(&snap));
    assert!(snap.processes_of("web").all(|p| p.pid.is_none()), "{}", summary(&snap));
    assert!(!isinit_e2e::asserts::pid_alive(srv), "srv {srv} survived the stop");
    assert_eq!(snap.group("web").and_then(|g| g.owner.clone()), None, "Pacemaker's stop ends the ownership");
    d.ok(&["tell", "web", "0"]);
    assert!(at(&snap, "flaky", "run", GroupState::Done), "{}", summary(&snap));
    assert_eq!(running_pid(&snap, "o1"), Some(other_pid as u32), "a group Pacemaker does not manage is untouched");

    // 5. Two isinit groups in a Pacemaker group start in order and stop in
    // reverse: app is told only once db has settled.
    let chain = primitive(&d, "db") + &primitive(&d, "app") + "group chain db app\n";
    cluster.configure(&chain);
    cluster.wait_running("app", true);
    let snap = d.snapshot();
    let (db_run, app_run) = (tells(&snap, "db", "run"), tells(&snap, "app", "run"));
    assert_eq!((db_run.len(), app_run.len()), (1, 1), "{:?}", snap.audit);
    assert!(
        app_run[0].at_ms >= db_run[0].at_ms + 1_000,
        "app was told before db settled (its wait entry takes 1 s): {:?}",
        snap.audit
    );
    cluster.ok("crm", &["resource", "stop", "chain"]);
    cluster.wait_running("db", false);
    let snap = wait_snapshot(&d, "db and app stopped", |s| {
        at(s, "db", "0", GroupState::Done) && at(s, "app", "0", GroupState::Done)
    });
    let (db_stop, app_stop) = (tells(&snap, "db", "0"), tells(&snap, "app", "0"));
    assert_eq!((db_stop.len(), app_stop.len()), (1, 1), "{:?}", snap.audit);
    let pos = |r: &AuditRecord| snap.audit.iter().position(|a| a == r);
    assert!(pos(app_stop[0]) < pos(db_stop[0]), "stopped in reverse order: {:?}", snap.audit);
    eprintln!("--- crm_mon at the end ---\n{}", cluster.crm_mon());

    // Pacemaker stops what it still runs when it shuts down.
    cluster.stop();
    let snap = d.snapshot();
    assert!(at(&snap, "flaky", "0", GroupState::Done), "{}", summary(&snap));
    assert_eq!(running_pid(&snap, "o1"), Some(other_pid as u32));
    eprintln!("whole cluster test took {:?}", began.elapsed());
}
