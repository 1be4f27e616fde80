//! SPEC §7: reading is for anyone who can open the socket; changing state
//! only for root and the daemon's own user (peer credentials).

use isinit_e2e::TestDaemon;
use isinit_e2e::fixtures::run;
use isinit_e2e::wait::DEADLINE;
use isinit_shared::protocol::GroupState;
use std::os::unix::fs::PermissionsExt;

const NOBODY: &[&str] = &["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"];

/// Whether this test can switch users; prints why not.
fn can_switch_users() -> bool {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("note: not running as root; skipping the permission test");
        return false;
    }
    if std::process::Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("note: setpriv (util-linux) not found; skipping the permission test");
        return false;
    }
    true
}

#[test]
fn others_may_read_but_not_change_state() {
    if !can_switch_users() {
        return;
    }
    let d = TestDaemon::start("g:r:1:respawn:exec sleep 1000\n");
    d.tell("g", "1");
    d.wait_group("g", "1", GroupState::Done);
    let r = d.wait_running("r");
    std::fs::set_permissions(d.dir(), std::fs::Permissions::from_mode(0o755)).expect("chmod dir");
    let as_nobody = |args: &[&str]| run(d.command_via(NOBODY, args), DEADLINE);

    // Mode 0660: nobody cannot even connect.
    let stderr = as_nobody(&["status"]).fails();
    assert!(stderr.contains("permission denied: cannot connect"), "the socket is 0660:\n{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");

    // Widened by the administrator: nobody reads, but cannot change state.
    std::fs::set_permissions(d.socket(), std::fs::Permissions::from_mode(0o666)).expect("chmod socket");
    let status = as_nobody(&["status"]).ok();
    assert_eq!(status, "g 1 DONE\n");
    assert!(as_nobody(&["status", "--json"]).ok().contains("\"tag\": \"r\""));
    as_nobody(&["logs", "r"]).ok();
    as_nobody(&["tell", "g", "0", "--dry-run"]).ok();
    for args in [&["tell", "g", "0"][..], &["reload"], &["reexec"], &["shutdown"]] {
        let stderr = as_nobody(args).fails();
        assert!(stderr.contains("permission denied"), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
    }
    assert_eq!(d.ok(&["status"]), "g 1 DONE\n", "nothing changed");
    assert_eq!(d.wait_running("r"), r);
    let snap = d.snapshot();
    assert_eq!(snap.daemon.pid as i32, d.pid());
    assert!(snap.audit.iter().all(|a| a.uid != 65534), "refused requests are not in the audit trail: {:?}", snap.audit);
    // Root still can.
    d.tell("g", "0");
    d.wait_group("g", "0", GroupState::Done);
}
