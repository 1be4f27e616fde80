//! Fleets (SPEC §16) through real OpenSSH: host sets, `isinit hosts`,
//! folded output (`-b`), the summary and `--failed-to`, the connect
//! timeout, and the rolling switch (`tell --batch`) with its stop rule and
//! `--revert` — each daemon reachable only through its own sshd (see
//! `isinit_e2e::ssh`).

use isinit_e2e::fixtures::{Background, run};
use isinit_e2e::ssh::{Cluster, unavailable};
use isinit_e2e::{DEADLINE, TestDaemon};
use isinit_shared::protocol::GroupState;
use std::net::{Ipv4Addr, TcpListener};
use std::time::{Duration, Instant};

/// Level 1: one server. Level 2: another server and a check that fails
/// where the file `fail` exists in the daemon's directory.
const TAB: &str = "web:srv:1:respawn:echo up; exec sleep 1000\n\
                   web:srv2:2:respawn:exec sleep 1001\n\
                   web:check:2:test:test ! -e {dir}/fail\n";

fn can_run() -> bool {
    match unavailable() {
        Some(why) => {
            eprintln!("note: skipping the ssh test: {why}");
            false
        }
        None => true,
    }
}

#[test]
fn hosts_prints_sets_groups_and_exclusions() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("hosts");
    std::fs::write(&file, "gw1\n[web]\nweb[01-04]  # the web tier\n[db]\ndb[1-2]\n").expect("hosts file");
    let file = file.to_str().expect("utf-8 path");
    let hosts = |args: &[&str]| {
        let mut cmd = std::process::Command::new(isinit_e2e::fixtures::isinit());
        cmd.args(args).env_remove("ISINIT_HOSTS");
        run(cmd, DEADLINE)
    };
    assert_eq!(hosts(&["hosts", "--hosts", file]).ok(), "gw1\nweb01\nweb02\nweb03\nweb04\ndb1\ndb2\n");
    assert_eq!(hosts(&["--hosts", file, "hosts", "-H", "@web", "-x", "web0[2-3]", "--fold"]).ok(), "web[01,04]\n");
    assert_eq!(hosts(&["hosts", "-H", "r[1-2]n[1-2],db1", "-H", "db1,r1n1"]).ok(), "r1n1\nr1n2\nr2n1\nr2n2\ndb1\n");
    assert_eq!(hosts(&["hosts", "--hosts", file, "-x", "@all"]).ok(), "");
    for (args, says) in [
        (vec!["hosts", "-H", "web[1-"], "a [ without its ]"),
        (vec!["status", "-H", "web[3-1]"], "goes backwards"),
        (vec!["hosts", "-H", "@nope", "--hosts", file], "no such host group @nope"),
        (vec!["status", "-H", "a", "-x", "a"], "no hosts"),
    ] {
        let out = hosts(&args);
        assert_eq!(out.code(), Some(2), "{args:?}: {out}");
        assert!(out.stderr.contains(says), "{args:?}: {out}");
    }
}

#[test]
fn folded_output_summary_failed_to_and_connect_timeout() {
    if !can_run() {
        return;
    }
    let daemons: Vec<TestDaemon> = (0..4).map(|_| TestDaemon::start(TAB)).collect();
    let mut cluster = Cluster::start(&daemons.iter().collect::<Vec<_>>());
    // h5: accepts TCP and never says a word, as a wedged host does.
    let hung_addr = Ipv4Addr::new(127, 0, 0, 60);
    let hung = TcpListener::bind((hung_addr, 0)).expect("bind the hung host");
    let port = hung.local_addr().expect("address").port();
    cluster.add_alias("h5", hung_addr, port);
    cluster.stop_host(3);
    let failed_to = daemons[0].path("failed");
    let failed_arg = failed_to.to_str().expect("utf-8 path");

    // h1-h3 answer the same, h4 is down, h5 hangs: one block, two errors.
    let start = Instant::now();
    let mut cmd = cluster.command(&["-b", "-H", "h[1-5]", "--failed-to", failed_arg, "reload"]);
    // Generous for a loaded machine, yet far below --timeout.
    cmd.env("ISINIT_CONNECT_TIMEOUT", "8").env("ISINIT_TIMEOUT", "60");
    let out = run(cmd, DEADLINE);
    let took = start.elapsed();
    assert_eq!(out.code(), Some(1), "{out}");
    assert_eq!(out.stdout, "----------\nh[1-3] (3)\n----------\nreloaded (file unchanged)\n", "{out}");
    assert!(out.stderr.contains("------\nh4 (1)\n------\nerror: "), "{out}");
    assert!(out.stderr.contains("h5 (1)\n------\nerror: no answer within 8 s\n"), "{out}");
    assert!(out.stderr.ends_with("unreachable: h[4-5] (2)\n"), "{out}");
    assert!(took < Duration::from_secs(30), "the hung host cost its connect timeout, not --timeout: {took:?}");
    assert_eq!(std::fs::read_to_string(&failed_to).expect("--failed-to file"), "h4\nh5\n");

    // The retry file is a hosts file; a command that fails on the daemon is
    // "failed", not "unreachable"; prefixed output without -b.
    cluster.start_host(3);
    let out = cluster.cli(&["--hosts", failed_arg, "-H", "h1,@all", "-x", "h5", "restart", "srv2"]);
    assert_eq!(out.code(), Some(1), "{out}");
    assert_eq!(out.stdout, "", "{out}");
    assert!(out.stderr.starts_with("h1: error: ") && out.stderr.contains("h4: error: "), "{out}");
    assert!(out.stderr.ends_with("failed: h[1,4] (2)\n"), "{out}");

    // Identical output but not from every host: two blocks, in host order.
    daemons[1].tell("web", "1");
    daemons[1].wait_group("web", "1", GroupState::Done);
    let same = daemons[0].ok(&["status"]);
    assert!(daemons[2..].iter().all(|d| d.ok(&["status"]) == same));
    let out = cluster.cli(&["-H", "h[1-4]", "--fold", "status"]);
    assert_eq!(out.code(), Some(0), "{out}");
    let h2 = daemons[1].ok(&["status"]);
    let expected = format!("------------\nh[1,3-4] (3)\n------------\n{same}------\nh2 (1)\n------\n{h2}");
    assert_eq!(out.stdout, expected, "{out}");
    assert_eq!(out.stderr, "", "nothing went wrong: no summary");
    drop(hung);
}

#[test]
fn a_rolling_switch_stops_at_the_failing_wave_and_reverts_it() {
    if !can_run() {
        return;
    }
    let daemons: Vec<TestDaemon> = (0..4).map(|_| TestDaemon::start(TAB)).collect();
    for d in &daemons {
        d.tell("web", "1");
        d.wait_group("web", "1", GroupState::Done);
    }
    std::fs::write(daemons[1].path("fail"), "").expect("mark h2 failing");
    let cluster = Cluster::start(&daemons.iter().collect::<Vec<_>>());

    let dry = cluster.cli(&["tell", "web", "2", "-H", "h[1-4]", "--batch", "50%", "--dry-run"]).ok();
    assert_eq!(dry, "wave 1/2 h[1-2] (2)\nwave 2/2 h[3-4] (2)\n");

    // Waves of one: h1 rolls, h2's check fails, the rollout stops there.
    let out = cluster.cli(&["tell", "web", "2", "-H", "h[1-4]", "--batch", "1", "--healthy-for", "1", "--revert"]);
    assert_eq!(out.code(), Some(1), "{out}");
    assert_eq!(
        out.stdout,
        "wave 1/4 h1: ok\nwave 2/4 h2: failed h2 (FAILED)\nrevert h2: ok\n\
         rolled h1 (1); failed h2 (1); reverted h2 (1); not told h[3-4] (2)\n",
        "{out}"
    );
    daemons[0].wait_group("web", "2", GroupState::Done);
    daemons[1].wait_group("web", "1", GroupState::Done);
    for d in &daemons[2..] {
        assert_eq!(d.ok(&["status", "web"]).lines().next(), Some("web 1 DONE"), "not told, unchanged");
        let status = d.ok(&["status", "web"]);
        let srv2 = status.lines().find(|l| l.contains("srv2")).unwrap_or_default();
        assert!(srv2.contains("not_started"), "never switched:\n{status}");
    }

    // Without --revert the failed host stays where it failed; with
    // --max-fail 1 the rollout goes on past it.
    let out =
        cluster.cli(&["tell", "web", "2", "-H", "h[2-4]", "--batch", "2", "--healthy-for", "0.5", "--max-fail", "1"]);
    assert_eq!(out.code(), Some(1), "{out}");
    assert_eq!(
        out.stdout, "wave 1/2 h[2-3]: failed h2 (FAILED)\nwave 2/2 h4: ok\nrolled h[3-4] (2); failed h2 (1)\n",
        "{out}"
    );
    daemons[1].wait_group("web", "2", GroupState::Failed);
    daemons[3].wait_group("web", "2", GroupState::Done);

    // All healthy: exit 0.
    let out = cluster.cli(&["tell", "web", "1", "-H", "h[3-4]", "--batch", "1", "--healthy-for", "0.5"]);
    assert_eq!(
        (out.code(), out.stdout.as_str()),
        (Some(0), "wave 1/2 h3: ok\nwave 2/2 h4: ok\nrolled h[3-4] (2)\n"),
        "{out}"
    );

    // Ctrl-C during a wave: the wave finishes, nothing more is told.
    let stderr = std::fs::File::create(daemons[0].path("rollout.err")).expect("stderr file");
    let args = ["tell", "web", "2", "-H", "h3,h4,h1", "--batch", "1", "--healthy-for", "3"];
    let mut rolling = Background::spawn(cluster.command(&args), stderr);
    daemons[2].wait_group("web", "2", GroupState::Done);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(rolling.pid()), nix::sys::signal::Signal::SIGINT)
        .expect("SIGINT");
    rolling.wait_line("rolled h3 (1); not told h[1,4] (2)");
    assert_eq!(rolling.seen, ["wave 1/3 h3: ok", "rolled h3 (1); not told h[1,4] (2)"]);
    assert_eq!(rolling.wait_exit().code(), Some(1));
    assert_eq!(daemons[3].ok(&["status", "web"]).lines().next(), Some("web 1 DONE"), "h4 not told");
    let said = daemons[0].read("rollout.err");
    assert!(said.contains("interrupted"), "{said}");
}
