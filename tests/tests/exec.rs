//! SPEC §2: how a command is run. Without shell metacharacters it is split
//! into words and executed directly (the pid the daemon shows is the
//! service's own, no shell in between); otherwise `/bin/sh -c` runs it, with
//! `exec` in front when it is one simple command. Either way the command
//! sees the same things: its argv, the daemon's environment plus `ISINIT_*`,
//! its own process group, default signals, stdin `/dev/null`, output into
//! its file, and no other descriptor.

use isinit_e2e::procfs::{self, Stat};
use isinit_e2e::{DEADLINE, TestDaemon, wait_until};
use isinit_shared::protocol::ProcessState;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

/// The descriptors `pid` has open.
fn open_fds(pid: i32) -> Vec<i32> {
    let mut fds: Vec<i32> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("the process's fd directory")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    fds.sort();
    fds
}

/// Waits until `pid` has exactly stdin, stdout and stderr open: a program
/// starting up opens files for a moment (the dynamic loader, locales), but a
/// leaked descriptor stays.
#[track_caller]
fn wait_only_stdio(pid: i32, what: &str) {
    isinit_e2e::wait_for(DEADLINE, &format!("{what} to have only 0, 1 and 2 open"), || {
        let fds = open_fds(pid);
        if fds == [0, 1, 2] { Ok(()) } else { Err(format!("{fds:?}")) }
    })
}

/// The words of `pid`'s command line, once it has one: for a moment
/// during `execve` the kernel already shows the new name but no arguments.
fn cmdline(pid: i32) -> Vec<String> {
    isinit_e2e::wait_for(DEADLINE, &format!("pid {pid} to show its command line"), || {
        let bytes = std::fs::read(format!("/proc/{pid}/cmdline")).map_err(|e| e.to_string())?;
        let words: Vec<String> = bytes
            .split(|b| *b == 0)
            .filter(|w| !w.is_empty())
            .map(|w| String::from_utf8_lossy(w).into_owned())
            .collect();
        if words.is_empty() { Err("an empty command line".to_string()) } else { Ok(words) }
    })
}

/// `PWD` names the working directory, as a shell sets it for a command it
/// runs (the daemon's own `PWD` is stale: the fixture only changes its
/// directory).
#[track_caller]
fn assert_pwd(d: &TestDaemon, pid: i32) {
    let want = format!("PWD={}", d.dir().display());
    cmdline(pid); // past its execve
    let env = procfs::environ(pid);
    assert!(env.contains(&want), "{want} missing from {env:?}");
}

/// Everything a service sees that does not depend on how it was started.
#[track_caller]
fn assert_service_setting(d: &TestDaemon, pid: i32, tag: &str) {
    cmdline(pid); // past its execve
    let env = procfs::environ(pid);
    for want in [
        "ISINIT_GROUP=g".to_string(),
        format!("ISINIT_TAG={tag}"),
        "ISINIT_LEVEL=1".to_string(),
        format!("ISINIT_SOCKET={}", d.socket().display()),
    ] {
        assert!(env.contains(&want), "{tag}: {want} missing from {env:?}");
    }
    assert_eq!(procfs::signal_set(pid, "SigIgn"), Some(0), "{tag}: no signal ignored");
    assert_eq!(procfs::signal_set(pid, "SigBlk"), Some(0), "{tag}: no signal blocked");
    assert_eq!(procfs::fd_target(pid, 0), Some(PathBuf::from("/dev/null")), "{tag}: stdin");
    let out = d.logdir().join(format!("{tag}.log"));
    assert_eq!(procfs::fd_target(pid, 1), Some(out.clone()), "{tag}: stdout");
    assert_eq!(procfs::fd_target(pid, 2), Some(out), "{tag}: stderr");
    wait_only_stdio(pid, tag);
    assert_eq!(procfs::cwd(pid), Some(d.dir().to_owned()), "{tag}: the daemon's directory");
}

#[test]
fn a_plain_command_is_executed_directly() {
    let d = TestDaemon::start("g:plain:1:respawn:sleep  1000\n");
    d.tell("g", "1");
    let pid = d.wait_running("plain");
    cmdline(pid); // past its execve
    let stat = procfs::stat(pid).expect("the service");
    assert_eq!(stat.comm, "sleep", "the pid shown is the service's own: {stat}");
    assert_eq!(cmdline(pid), ["sleep", "1000"], "argv as the words of the command");
    assert_eq!((stat.ppid, stat.pgid), (d.pid(), pid), "the daemon's child, leading its own group");
    assert!(procfs::children_of(pid).is_empty(), "nothing runs under it");
    assert_service_setting(&d, pid, "plain");
    assert_pwd(&d, pid);
}

#[test]
fn one_simple_shell_command_replaces_its_shell() {
    let d = TestDaemon::start("g:simple:1:respawn:sleep 1000 $NOTHING >>{dir}/simple.out 2>&1\n");
    d.tell("g", "1");
    let pid = d.wait_running("simple");
    // The shell starts first and then replaces itself.
    let stat = isinit_e2e::wait_for(DEADLINE, "the shell to exec sleep (`exec` put in front)", || {
        let stat = procfs::stat(pid).ok_or("gone")?;
        if stat.comm == "sleep" { Ok(stat) } else { Err(stat.to_string()) }
    });
    assert_eq!(cmdline(pid), ["sleep", "1000"], "the shell expanded the arguments");
    assert_eq!((stat.ppid, stat.pgid), (d.pid(), pid), "no shell left in between");
    let out = d.path("simple.out");
    assert_eq!(procfs::fd_target(pid, 1), Some(out.clone()), "the command's own redirection");
    assert_eq!(procfs::fd_target(pid, 2), Some(out));
}

#[test]
fn a_shell_command_runs_under_sh_in_one_group() {
    let d = TestDaemon::start("g:list:1:respawn:cd {dir} && sleep 1000\n");
    d.tell("g", "1");
    let pid = d.wait_running("list");
    let shell = procfs::stat(pid).expect("the shell");
    assert_eq!(shell.comm, "sh", "{shell}");
    assert_eq!(cmdline(pid), ["/bin/sh", "-c", &d.expand("cd {dir} && sleep 1000")]);
    let sleep: Stat = isinit_e2e::wait_for(DEADLINE, "the shell to start sleep", || {
        procfs::children_of(pid).into_iter().find(|c| c.comm == "sleep").ok_or_else(|| format!("{shell}"))
    });
    assert_eq!(sleep.pgid, pid, "the shell's children share its group");
    // The shell itself blocks signals for a moment whenever it forks, so
    // what the service sees is checked on the service.
    assert!(procfs::environ(pid).contains(&"ISINIT_TAG=list".to_string()), "the shell's environment");
    assert_service_setting(&d, sleep.pid, "list");
    assert_pwd(&d, sleep.pid);
}

#[test]
fn argv_and_path_lookup_are_the_shells() {
    let mut d = TestDaemon::builder(
        "g:direct:1:once:show a  b\n\
         g:shell:1:once:show 'a  b'\n\
         g:noshebang:1:once:{dir}/bin/plain x\n",
    )
    .prepare();
    let bin = d.path("bin");
    std::fs::create_dir(&bin).expect("bin dir");
    let script = |name: &str, text: &str| {
        let path = bin.join(name);
        std::fs::write(&path, d.expand(text)).expect("script");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    };
    script("show", "#!/bin/sh\nprintf '%s|%s|%s\\n' \"$0\" \"$#\" \"$*\" > {dir}/$ISINIT_TAG.argv\n");
    // No `#!`: the kernel refuses it (ENOEXEC); execvp and the shell run it
    // as a shell script, and so does isinit.
    script("plain", "echo \"$0 $1\" > {dir}/noshebang.argv\n");
    let mut cmd = d.daemon_command();
    cmd.env("PATH", format!("{}:/usr/bin:/bin", bin.display()));
    d.restart_with(cmd);
    d.tell("g", "1");
    for tag in ["direct", "shell", "noshebang"] {
        // The shell creates the file before the line is written into it.
        wait_until(DEADLINE, &format!("{tag} to write its arguments"), || {
            d.read(&format!("{tag}.argv")).ends_with('\n')
        });
    }
    let show = bin.join("show").display().to_string();
    assert_eq!(d.read("direct.argv"), format!("{show}|2|a b\n"), "found in the daemon's PATH; words split");
    assert_eq!(d.read("shell.argv"), format!("{show}|1|a  b\n"), "the shell's quoting");
    assert_eq!(d.read("noshebang.argv"), d.expand("{dir}/bin/plain x\n"));
}

#[test]
fn a_missing_command_fails_to_start_and_says_why() {
    let d = TestDaemon::start("g:missing:1:once:no-such-command-for-isinit --flag\n");
    d.tell("g", "1");
    let p = d.wait_state("missing", ProcessState::FailedToStart);
    assert_eq!(p.start_error.as_deref(), Some("no-such-command-for-isinit: not found"), "{p:?}");
    let status = d.ok(&["status", "g"]);
    assert!(status.contains("failed_to_start") && status.contains("not found"), "{status}");
    let log = d.read("logs/missing.log");
    assert_eq!(log, "isinit: failed to start: no-such-command-for-isinit: not found\n");
}

#[test]
fn descriptors_the_daemon_inherited_do_not_reach_children() {
    let d = TestDaemon::builder("g:direct:1:respawn:sleep 1000\ng:shell:1:respawn:sleep 1000; true\n")
        .shell_prelude("exec 7</etc/hostname 8>>/dev/null")
        .start();
    let daemon_fds = open_fds(d.pid());
    assert!(daemon_fds.contains(&7) && daemon_fds.contains(&8), "the daemon inherited 7 and 8: {daemon_fds:?}");
    d.tell("g", "1");
    wait_only_stdio(d.wait_running("direct"), "direct");
    let shell = d.wait_running("shell");
    wait_only_stdio(shell, "the shell");
    wait_until(DEADLINE, "the shell to start sleep", || !procfs::children_of(shell).is_empty());
    for child in procfs::children_of(shell) {
        wait_only_stdio(child.pid, &child.to_string());
    }
}
