//! SPEC §2: the isinittab — `isinit check`, a daemon refusing a bad file,
//! and a bad file never being applied by a tell or a reload.

use isinit_e2e::TestDaemon;
use isinit_e2e::fixtures::run;
use isinit_e2e::wait::{DEADLINE, wait_until};
use isinit_shared::protocol::GroupState;

const GOOD: &str = "\
# resourcegroup:tag:runlevels:mode:command

mail:spool:run,runmore:wait:true
mail:cf:run,runmore:once:echo cf
mail:mta:run,runmore:respawn:exec sleep 1000
mail:extra:runmore:respawn:exec sleep 1000
web:probe:123:test:echo 'a:b:c' | grep -q b
web:old:1:off:false
:::initstat:{dir}/initstat
:::log:{dir}/daemon.log
";

/// The `PATH:LINE: message` lines of a failed command's stderr for `path`.
fn error_lines(stderr: &str, path: &str) -> Vec<(usize, String)> {
    stderr
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix(path)?.strip_prefix(':')?;
            let (line, message) = rest.split_once(": ")?;
            Some((line.parse().ok()?, message.to_string()))
        })
        .collect()
}

#[test]
fn check_accepts_a_good_file() {
    let d = TestDaemon::builder(GOOD).prepare();
    let tab = d.tab_path().display().to_string();
    let out = d.cli(&["check", &tab]);
    assert!(out.success(), "{out}");
    assert!(out.stdout.contains("OK"), "{out}");
    assert!(out.stderr.is_empty(), "{out}");
}

#[test]
fn check_without_a_path_checks_the_resolved_config() {
    let d = TestDaemon::builder("g:t:1:bogus:true\n").prepare();
    let stderr = d.fails(&["check"]);
    let tab = d.tab_path().display().to_string();
    assert_eq!(error_lines(&stderr, &tab).len(), 1, "{stderr}");
}

#[test]
fn check_reports_every_error_with_its_path_and_line() {
    let bad = "\
g:ok1:1:once:true
g:badmode:1:sometimes:true
:t2:1:once:true
g:t3::once:true
:::frobnicate:yes
g:short:1
g:ok2:2:respawn:sleep 1
g:t4:1:once:
";
    let d = TestDaemon::builder(bad).prepare();
    let tab = d.tab_path().display().to_string();
    let out = d.cli(&["check", &tab]);
    let stderr = out.clone().fails();
    assert!(out.stdout.is_empty(), "{out}");
    let errors = error_lines(&stderr, &tab);
    let lines: Vec<usize> = errors.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, vec![2, 3, 4, 5, 6, 8], "every error, in line order, as PATH:LINE: message:\n{stderr}");
    assert!(errors.iter().all(|(_, m)| !m.trim().is_empty()), "{stderr}");
    // One reason line, then only the errors.
    let first = stderr.lines().next().unwrap_or_default();
    assert!(first.contains("invalid"), "first line should give the reason: {stderr}");
    assert_eq!(stderr.lines().count(), 1 + errors.len(), "{stderr}");
}

#[test]
fn duplicate_tags_name_both_lines() {
    let d = TestDaemon::builder("g:same:1:once:true\ng:other:1:once:true\nh:same:2:wait:true\n").prepare();
    let tab = d.tab_path().display().to_string();
    let stderr = d.fails(&["check", &tab]);
    let errors = error_lines(&stderr, &tab);
    assert!(
        errors.iter().any(|(l, m)| (*l == 3 && m.contains('1')) || (*l == 1 && m.contains('3'))),
        "the duplicate should name lines 1 and 3:\n{stderr}"
    );
}

#[test]
fn check_of_a_missing_file_fails() {
    let d = TestDaemon::builder(GOOD).prepare();
    let missing = d.path("nope").display().to_string();
    let stderr = d.fails(&["check", &missing]);
    assert!(stderr.contains(&missing), "{stderr}");
}

#[test]
fn daemon_refuses_to_start_with_a_bad_file() {
    let d = TestDaemon::builder("g:a:1:once:true\ng:b:1:nonsense:true\ng:a:2:once:true\n").prepare();
    let out = run(d.daemon_command(), DEADLINE);
    let stderr = out.clone().fails();
    let tab = d.tab_path().display().to_string();
    let lines: Vec<usize> = error_lines(&stderr, &tab).iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, vec![2, 3], "every error printed:\n{out}");
    assert!(!d.socket().exists(), "no socket for a daemon that did not start");
    assert!(!d.initstat().exists(), "no status file for a daemon that did not start");
}

#[test]
fn a_tell_or_reload_with_an_invalid_file_changes_nothing() {
    let tab = "g:w:1,2:respawn:exec sleep 1000\ng:o:1:once:exec sleep 1000\ng:new:2:once:true\n";
    let d = TestDaemon::start(tab);
    d.tell("g", "1");
    d.wait_group("g", "1", GroupState::Done);
    let (w, o) = (d.wait_running("w"), d.wait_running("o"));

    // Break the file in a way that would also change what runs.
    d.write_tab("g:w:2:respawn:exec sleep 2000\ng:o:1:bogus:exec sleep 1000\nbroken line\n");
    let tabp = d.tab_path().display().to_string();
    for args in [&["tell", "g", "2"][..], &["reload"][..]] {
        let stderr = d.fails(args);
        assert!(stderr.lines().next().unwrap_or_default().contains("invalid"), "{args:?}: {stderr}");
        let lines: Vec<usize> = error_lines(&stderr, &tabp).iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, vec![2, 3], "{args:?} should print every error:\n{stderr}");
    }
    let snap = d.snapshot();
    let g = snap.group("g").expect("group g");
    assert_eq!((g.level.as_deref(), g.state), (Some("1"), GroupState::Done), "the group did not move");
    assert_eq!(d.wait_running("w"), w, "w kept running untouched");
    assert_eq!(d.wait_running("o"), o, "o kept running untouched");
    let w_row = d.process("w");
    assert_eq!(w_row.command, "exec sleep 1000", "the old file is still in force");
    assert!(w_row.recent_exits.is_empty(), "w never exited: {w_row:?}");

    // Fixed, the file is adopted by the next tell.
    d.write_tab(tab);
    d.tell("g", "2");
    d.wait_group("g", "2", GroupState::Done);
    assert_eq!(d.wait_running("w"), w, "w is in both levels");
}

#[test]
fn clients_honour_the_socket_directive_and_the_flag_beats_the_environment() {
    let d = TestDaemon::start(":::socket:{dir}/init.s\ng:t:1:once:true\n");
    let socket = d.socket().display().to_string();

    // No ISINIT_SOCKET: the client reads `:::socket:` from ISINIT_CONFIG.
    let mut cmd = d.command(&["status"]);
    cmd.env_remove("ISINIT_SOCKET");
    let out = run(cmd, DEADLINE).ok();
    assert!(out.contains("g - CONFIGURED"), "{out}");

    // --socket beats a wrong ISINIT_SOCKET.
    let mut cmd = d.command(&["--socket", &socket, "status"]);
    cmd.env("ISINIT_SOCKET", d.path("wrong.s"));
    let out = run(cmd, DEADLINE).ok();
    assert!(out.contains("g - CONFIGURED"), "{out}");

    // And the wrong ISINIT_SOCKET alone is used (and fails).
    let mut cmd = d.command(&["status"]);
    cmd.env("ISINIT_SOCKET", d.path("wrong.s"));
    let stderr = run(cmd, DEADLINE).fails();
    assert!(stderr.contains("not running"), "{stderr}");
}

#[test]
fn the_daemon_honours_directives_below_environment_and_flags() {
    // No ISINIT_SOCKET / ISINIT_INITSTAT: the directives are used
    // (`clstat` is a synonym of `initstat`).
    let tab = ":::socket:{dir}/init.s\n:::clstat:{dir}/from-directive\ng:t:1:once:true\n";
    let mut d = TestDaemon::builder(tab).prepare();
    let mut cmd = d.daemon_command();
    cmd.env_remove("ISINIT_SOCKET").env_remove("ISINIT_INITSTAT");
    d.restart_with(cmd);
    wait_until(DEADLINE, "the status file at the directive's path", || d.read("from-directive") == "g - CONFIGURED\n");
    assert!(!d.initstat().exists());
    d.ok(&["shutdown", "--wait"]);
    assert!(d.wait_exit().success());

    // The environment beats the directive...
    d.restart();
    d.wait_initstat("g - CONFIGURED\n");
    assert!(!d.path("from-directive").exists(), "removed at the last shutdown, not written again");
    d.ok(&["shutdown", "--wait"]);
    assert!(d.wait_exit().success());

    // ...and --initstat beats both.
    let mut cmd = d.daemon_command();
    cmd.arg("--initstat").arg(d.path("from-flag"));
    d.restart_with(cmd);
    wait_until(DEADLINE, "the status file at the flag's path", || d.read("from-flag") == "g - CONFIGURED\n");
    assert!(!d.initstat().exists(), "not at ISINIT_INITSTAT");
    assert!(!d.path("from-directive").exists(), "removed at the last shutdown, not written again");
}

#[test]
fn runlevel_fields_and_verbatim_commands_work_end_to_end() {
    let d = TestDaemon::start(
        "\
g:digits:123:wait:echo digits >> {dir}/ran
g:list:long3,:wait:echo list >> {dir}/ran
g:word:run:wait:echo word >> {dir}/ran
 g : spaced : 2 : wait :echo a:b:c >> {dir}/colons
",
    );
    let ran = |level: &str| {
        let _ = std::fs::remove_file(d.path("ran"));
        d.tell("g", level);
        d.wait_group("g", level, GroupState::Done);
        d.tell("g", "0"); // forget the records, so the next level runs anew
        d.wait_group("g", "0", GroupState::Done);
        let mut lines = d.lines("ran");
        lines.sort();
        lines
    };
    assert_eq!(ran("2"), ["digits"], "`123` is levels 1, 2 and 3");
    assert_eq!(ran("123"), ["digits"], "and the whole field");
    assert_eq!(ran("long3"), ["list"], "`long3,` is the single level long3");
    assert!(ran("l").is_empty(), "not its letters");
    assert_eq!(ran("r"), ["word"], "`run` is levels r, u, n");
    assert_eq!(ran("run"), ["word"], "and run");
    assert_eq!(d.read("colons"), "a:b:c\n", "the command is the rest of the line, colons included");
    let p = d.process("spaced");
    assert_eq!((p.group.as_str(), p.mode.as_str()), ("g", "wait"), "group, tag and mode are trimmed");
}
