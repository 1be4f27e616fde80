//! SPEC §10: `isinit reexec` — the daemon re-executes its binary in place,
//! same pid, same socket, the whole state handed over, children kept; and
//! when the new binary cannot take over, the old daemon carries on.

use isinit_e2e::asserts::{assert_alive, pid_alive, wait_gone};
use isinit_e2e::fixtures::{Background, isinit};
use isinit_e2e::{DEADLINE, TestDaemon, procfs, wait_for, wait_until};
use isinit_shared::protocol::{ExitStatus, GroupState, ProcessState, Request, Response, Snapshot};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

/// `cmd` (a fixture's daemon command) running `program` instead.
fn with_program(cmd: &Command, program: &Path) -> Command {
    let mut c = Command::new(program);
    c.args(cmd.get_args());
    for (name, value) in cmd.get_envs() {
        match value {
            Some(v) => c.env(name, v),
            None => c.env_remove(name),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        c.current_dir(dir);
    }
    c
}

/// A daemon started from a copy of the `isinit` binary inside its own
/// directory (`DIR/isinit`), so the test can replace that file.
fn start_from_copy(tab: &str, term_after: f64) -> TestDaemon {
    let mut d = TestDaemon::builder(tab).term_after(term_after).prepare();
    std::fs::copy(isinit(), d.path("isinit")).expect("copy the isinit binary");
    wait_until_executable(&d.path("isinit"));
    let cmd = with_program(&d.daemon_command(), &d.path("isinit"));
    d.restart_with(cmd);
    d
}

/// Waits until a freshly written file can be executed: a process another
/// test forks while the file is open for writing holds that descriptor
/// until it execs, and exec fails with "text file busy" meanwhile.
fn wait_until_executable(path: &Path) {
    wait_for(DEADLINE, "a copied binary to be executable", || match Command::new(path).arg("--version").output() {
        Ok(_) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => Err(e.to_string()),
        Err(e) => panic!("cannot run {}: {e}", path.display()),
    });
}

/// Replaces `path` with a shell script (write and rename, as a package
/// manager would).
fn install_script(path: &Path, text: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text).expect("write script");
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::rename(&tmp, path).expect("install script");
    wait_until_executable(path);
}

/// What must be equal across a reexec: everything but the clock, the
/// sequence number and the audit trail (which gains the reexec).
fn comparable(s: &Snapshot) -> String {
    format!("{:?}\n{:?}\n{}\n{}", s.groups, s.processes, s.daemon.pid, s.daemon.started_at_ms)
}

const TAB: &str = "\
g:r:1:respawn:exec sleep 1000
g:o:1:once:echo once >> {dir}/once.out; exec sleep 1000
g:w:1:wait:true
h:t:1:test:true
";

#[test]
fn reexec_keeps_every_pid_start_time_respawn_count_and_group_state() {
    let d = TestDaemon::start(TAB);
    d.tell("g", "1");
    d.tell("h", "1");
    d.wait_group("g", "1", GroupState::Done);
    d.wait_group("h", "1", GroupState::Passed);
    // One respawn with an exit in the history.
    let first = d.wait_running("r");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(first), nix::sys::signal::Signal::SIGKILL).expect("kill r");
    d.wait_process("r", "a respawn", |p| p.respawns == 1 && p.pid.is_some());
    let before = d.snapshot();

    let out = d.ok(&["reexec"]);
    assert!(out.contains("re-executed"), "{out}");

    let after = d.snapshot();
    assert_eq!(comparable(&after), comparable(&before));
    assert_eq!(after.daemon.pid as i32, d.pid(), "same pid");
    assert!(after.audit.iter().any(|a| a.request == "reexec"), "reexec is audited: {:?}", after.audit);
    assert_eq!(after.audit.len(), before.audit.len() + 1);
    let r = after.processes.iter().find(|p| p.tag == "r").expect("r");
    assert_eq!(r.recent_exits.len(), 1);
    assert_eq!(r.recent_exits[0].status, ExitStatus::Signal(9));
    // Children are still the daemon's own.
    for tag in ["r", "o"] {
        let pid = d.process(tag).pid.expect("running") as i32;
        assert_eq!(procfs::stat(pid).map(|s| s.ppid), Some(d.pid()), "{tag} is still the daemon's child");
    }
    assert_eq!(d.read("once.out").lines().count(), 1, "once did not run again");
    // And it still supervises: a respawn after the reexec.
    let pid = d.wait_running("r");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM).expect("kill r");
    d.wait_process("r", "a second respawn", |p| p.respawns == 2 && p.pid.is_some_and(|p| p as i32 != pid));
}

#[test]
fn a_stop_in_progress_continues_its_escalation_after_reexec() {
    let d = TestDaemon::builder("g:t:1:respawn:trap '' INT; touch {dir}/ready; while :; do sleep 0.1; done\n")
        .term_after(4.0)
        .start();
    d.tell("g", "1");
    let pid = d.wait_running("t");
    d.wait_file("ready");
    d.tell("g", "0");
    d.wait_state("t", ProcessState::Stopping);
    d.ok(&["reexec"]);
    assert_eq!(d.process("t").state, ProcessState::Stopping, "still stopping after the reexec");
    assert_alive(pid, "a child ignoring SIGINT, before SIGTERM is due");
    // SIGTERM comes from the handed-over deadline; nothing else would send it.
    wait_gone(pid, "the child, by the escalation's SIGTERM");
    d.wait_group("g", "0", GroupState::Done);
}

#[test]
fn a_child_exiting_during_reexec_is_reaped_and_respawned() {
    let d = start_from_copy("g:r:1:respawn:exec sleep 1000\n", 0.5);
    d.tell("g", "1");
    let pid = d.wait_running("r");
    // The "upgraded" binary kills r while the old image is checking it, so
    // r exits while nothing reaps: the new image must.
    let real = isinit();
    install_script(
        &d.path("isinit"),
        &format!("#!/bin/sh\n[ \"$1\" = handover-check ] && kill -9 {pid}\nexec {} \"$@\"\n", real.display()),
    );
    d.ok(&["reexec"]);
    let p = d.wait_process("r", "respawned after the reexec", |p| p.respawns == 1 && p.pid.is_some());
    assert_ne!(p.pid, Some(pid as u32));
    assert_eq!(p.recent_exits.last().map(|e| e.status), Some(ExitStatus::Signal(9)), "the exit status was reaped");
    assert!(!procfs::children_of(d.pid()).iter().any(|c| c.state == 'Z'), "no zombie left");
    assert_eq!(d.snapshot().daemon.pid as i32, d.pid());
}

#[test]
fn subscribers_are_ended_with_a_reason_and_can_subscribe_again() {
    let d = TestDaemon::start(TAB);
    d.tell("g", "1");
    d.wait_group("g", "1", GroupState::Done);
    let (mut sub, _) = d.block_on(d.subscribe());
    d.ok(&["reexec"]);
    let ended = d.block_on(async {
        loop {
            match tokio::time::timeout(DEADLINE, sub.recv()).await {
                Ok(Ok(Response::Update(_))) => continue,
                other => return other,
            }
        }
    });
    match ended {
        Ok(Ok(Response::Error(e))) => assert!(e.message.contains("re-executing; reconnect"), "{e:?}"),
        other => panic!("the subscription must end with a reason, got {other:?}"),
    }
    let (_, snap) = d.block_on(d.subscribe());
    assert_eq!(snap.daemon.pid as i32, d.pid());
    assert_eq!(snap.group("g").map(|g| g.state), Some(GroupState::Done));
}

#[test]
fn a_broken_new_binary_leaves_the_daemon_as_it_was() {
    let d = start_from_copy(TAB, 0.5);
    d.tell("g", "1");
    d.wait_group("g", "1", GroupState::Done);
    let before = d.snapshot();

    install_script(&d.path("isinit"), "#!/bin/sh\necho 'this build is broken' >&2\nexit 1\n");
    let err = d.fails(&["reexec"]);
    assert!(err.contains("cannot take over") && err.contains("this build is broken"), "{err}");
    assert_eq!(comparable(&d.snapshot()), comparable(&before), "nothing changed");

    std::fs::remove_file(d.path("isinit")).expect("remove the binary");
    let err = d.fails(&["reexec"]);
    assert!(err.contains("cannot run the new binary"), "{err}");

    let after = d.snapshot();
    assert_eq!(comparable(&after), comparable(&before), "services untouched");
    assert_eq!(after.daemon.pid as i32, d.pid());
    let r = after.processes.iter().find(|p| p.tag == "r").and_then(|p| p.pid).expect("r");
    assert!(pid_alive(r as i32));
    // Still supervising and answering.
    d.tell("g", "0");
    d.wait_group("g", "0", GroupState::Done);
}

#[test]
fn reexec_takes_the_upgraded_binary_and_keeps_answering() {
    let d = start_from_copy(TAB, 0.5);
    d.tell("g", "1");
    d.wait_group("g", "1", GroupState::Done);
    let before = d.snapshot();
    // An "upgrade": a new file at the path the daemon was started from.
    install_script(
        &d.path("isinit"),
        &format!(
            "#!/bin/sh\n[ \"$1\" = daemon ] && touch {}/upgraded\nexec {} \"$@\"\n",
            d.dir().display(),
            isinit().display()
        ),
    );
    assert!(!d.path("upgraded").exists());
    d.ok(&["reexec"]);
    wait_until(DEADLINE, "the upgraded binary to run", || d.path("upgraded").exists());
    let after = d.snapshot();
    assert_eq!(comparable(&after), comparable(&before));
    // Clients kept answering during and after the exec.
    for _ in 0..5 {
        let reply = d.request(&Request::Status).expect("status");
        assert!(matches!(reply, Response::Snapshot(_)));
    }
    wait_for(DEADLINE, "the daemon's reexec log line", || {
        let log = d.daemon_stderr();
        if log.contains("re-executed: took over") { Ok(()) } else { Err(log) }
    });
}

#[test]
fn output_read_before_a_reexec_is_still_shown_and_new_output_follows() {
    let d = TestDaemon::start(
        "g:e:1:respawn:echo before; while [ ! -e {dir}/go ]; do sleep 0.05; done; echo after; exec sleep 1000\n",
    );
    d.tell("g", "1");
    d.wait_running("e");
    wait_until(DEADLINE, "the first line in logs", || d.ok(&["logs", "e"]).contains("before"));
    d.ok(&["reexec"]);
    assert!(d.ok(&["logs", "e"]).contains("before"), "history kept");
    std::fs::write(d.path("go"), "").expect("go");
    wait_until(DEADLINE, "the line written after the reexec", || {
        let logs = d.ok(&["logs", "e"]);
        logs.contains("after") && logs.matches("before").count() == 1
    });
}

#[test]
fn a_throttled_respawn_keeps_its_deadline_across_reexec() {
    let d = TestDaemon::builder("g:flap:1:respawn:exit 1\n").respawn_pause(3.0).start();
    d.tell("g", "1");
    let throttled = d.wait_state("flap", ProcessState::Backoff);
    let until = throttled.backoff_until_ms.expect("a throttled respawn says when it resumes");
    d.ok(&["reexec"]);
    let after = d.process("flap");
    assert_eq!(after.state, ProcessState::Backoff);
    assert_eq!(after.backoff_until_ms, Some(until), "the same deadline");
    assert_eq!(after.respawns, throttled.respawns);
    // It resumes at that deadline: the handed-over timer fires.
    d.wait_process("flap", "restarted after its pause", |p| p.respawns > throttled.respawns);
}

/// Issue 16, item 3: an invalid file on disk must not kill the new image.
/// It carries on with the isinittab in force (and its socket, state and
/// log settings), and the bad file is reported as `reload` reports it.
#[test]
fn reexec_with_an_invalid_file_on_disk_keeps_the_one_in_force() {
    let d = TestDaemon::start("g:r:1:respawn:exec sleep 1000\ng:o:1:once:exec sleep 1000\n");
    d.tell("g", "1");
    let (r, o) = (d.wait_running("r"), d.wait_running("o"));
    d.write_tab("g:r:1:respawn:exec sleep 1000\nthis line is not an entry\n");
    let refused = d.fails(&["reload"]);
    let tab = d.tab_path().display().to_string();
    let error = refused.lines().find(|l| l.starts_with(&format!("{tab}:2:"))).expect("reload names PATH:LINE");

    let out = d.ok(&["reexec"]);
    assert!(out.contains("re-executed"), "{out}");
    assert!(out.lines().any(|l| l == error), "the reply names the file's error as reload does: {out}");
    let snap = d.snapshot();
    assert_eq!(snap.daemon.pid as i32, d.pid(), "same pid");
    assert_eq!(d.process("r").pid, Some(r as u32), "r kept");
    assert_eq!(d.process("o").pid, Some(o as u32), "o kept: the entries in force, not the file's");
    for pid in [r, o] {
        assert_eq!(procfs::stat(pid).map(|s| s.ppid), Some(d.pid()), "still the daemon's child");
    }
    assert!(snap.notices.iter().any(|n| n.message.contains(error)), "a notice names it: {:?}", snap.notices);
    d.ok(&["status"]);
    // Still supervising: a respawn after the reexec.
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(r), nix::sys::signal::Signal::SIGKILL).expect("kill r");
    d.wait_process("r", "a respawn", |p| p.respawns == 1 && p.pid.is_some_and(|p| p as i32 != r));

    // A fixed file is adopted by the next reload.
    d.write_tab("g:r:1:respawn:exec sleep 1000\n");
    d.ok(&["reload"]);
    wait_gone(o, "o, no longer in the file");
    assert!(d.snapshot().processes.iter().all(|p| p.tag != "o"), "o left the table");
}

/// The signal mask words of `/proc/PID/status` (`SigIgn`, `SigCgt`).
fn signal_mask(pid: i32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc/PID/status");
    let line = status.lines().find_map(|l| l.strip_prefix(&format!("{field}:"))).expect("the field");
    u64::from_str_radix(line.trim(), 16).expect("a hex mask")
}

/// Issue 16, item 7: a daemon started with SIGINT ignored (`nohup`, a
/// script's background job) keeps it ignored, across a reexec too; the
/// kernel then drops a SIGINT at once, so nothing can act on it later.
#[test]
fn an_inherited_ignored_sigint_stays_ignored_across_reexec() {
    let d = TestDaemon::builder("g:r:1:respawn:exec sleep 1000\n").shell_prelude("trap '' INT").start();
    let int_bit = 1u64 << (libc::SIGINT - 1);
    for when in ["at start", "after reexec"] {
        assert_ne!(signal_mask(d.pid(), "SigIgn") & int_bit, 0, "SIGINT ignored {when}");
        assert_eq!(signal_mask(d.pid(), "SigCgt") & int_bit, 0, "no SIGINT handler {when}");
        d.ok(&["reexec"]);
    }
    d.tell("g", "1");
    let r = d.wait_running("r");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(d.pid()), nix::sys::signal::Signal::SIGINT).expect("SIGINT");
    assert_eq!(d.snapshot().daemon.pid as i32, d.pid(), "still answering");
    assert!(pid_alive(r), "r still supervised");
    // A child still gets SIGINT at its default (the stop sequence uses it).
    assert_eq!(signal_mask(r, "SigIgn") & int_bit, 0, "the child's SIGINT is not ignored");
}

/// Issue 16, item 7: the new binary's check is waited for off the run
/// loop, so a child that dies meanwhile is reaped and respawned at once,
/// and `status` answers, while the check still runs.
#[test]
fn a_respawn_entry_killed_during_a_slow_check_is_respawned_while_the_check_runs() {
    let d = start_from_copy("g:r:1:respawn:exec sleep 1000\n", 0.5);
    d.tell("g", "1");
    let first = d.wait_running("r");
    let (dir, real) = (d.dir().display().to_string(), isinit());
    install_script(
        &d.path("isinit"),
        &format!(
            "#!/bin/sh\nif [ \"$1\" = handover-check ]; then\n  echo $$ > {dir}/check.pid\n  \
             while [ ! -e {dir}/release ]; do sleep 0.05; done\nfi\nexec {} \"$@\"\n",
            real.display()
        ),
    );
    let err = std::fs::File::create(d.path("reexec.err")).expect("create reexec.err");
    let mut reexec = Background::spawn(d.command(&["reexec"]), err);
    d.wait_file("check.pid");
    let check: i32 = d.read("check.pid").trim().parse().expect("the check's pid");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(first), nix::sys::signal::Signal::SIGKILL).expect("kill r");
    let p = d.wait_process("r", "respawned during the check", |p| p.respawns == 1 && p.pid.is_some());
    assert!(pid_alive(check) && !d.path("release").exists(), "the check is still waiting: nothing waited for it");
    assert_ne!(p.pid, Some(first as u32));

    std::fs::write(d.path("release"), "").expect("release the check");
    reexec.wait_line("re-executed");
    assert!(reexec.wait_exit().success(), "reexec succeeds");
    assert_eq!(d.process("r").pid, p.pid, "the respawned r is kept across the reexec");
    assert_eq!(d.snapshot().daemon.pid as i32, d.pid(), "same pid");
    assert!(!procfs::children_of(d.pid()).iter().any(|c| c.state == 'Z'), "no zombie left (the check was reaped)");
}

/// A new image that cannot read its handover (here: pointed at a
/// descriptor that is not open) does not exit and orphan the children: it starts as after a
/// crash, binds the socket again and adopts them from the state file.
#[test]
fn a_new_image_that_cannot_read_its_handover_still_supervises() {
    let d = start_from_copy("g:r:1:respawn:exec sleep 1000\n", 0.5);
    d.tell("g", "1");
    let r = d.wait_running("r");
    install_script(
        &d.path("isinit"),
        &format!(
            "#!/bin/sh\n[ -n \"$ISINIT_HANDOVER_FD\" ] && export ISINIT_HANDOVER_FD=999\nexec {} \"$@\"\n",
            isinit().display()
        ),
    );
    // The request's connection goes with the handover: its answer is lost.
    let _ = d.cli(&["reexec"]);
    wait_for(DEADLINE, "the daemon to answer again", || {
        d.try_snapshot().map(|_| ()).map_err(|e| format!("{e}\n{}", d.daemon_stderr()))
    });
    let snap = d.snapshot();
    assert_eq!(snap.daemon.pid as i32, d.pid(), "the same process carries on");
    assert_eq!(d.process("r").pid, Some(r as u32), "r adopted, not restarted");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(r), nix::sys::signal::Signal::SIGKILL).expect("kill r");
    d.wait_process("r", "a respawn", |p| p.respawns >= 1 && p.pid.is_some_and(|p| p as i32 != r));
}

/// A log directory that cannot be made any more does not stop the new
/// image of a reexec: the services keep their supervisor.
#[test]
fn reexec_carries_on_when_the_log_directory_cannot_be_made() {
    let d = TestDaemon::start("g:r:1:respawn:exec sleep 1000\n");
    d.tell("g", "1");
    let r = d.wait_running("r");
    std::fs::remove_dir_all(d.logdir()).expect("remove the log directory");
    std::fs::write(d.logdir(), "not a directory").expect("put a file in its place");
    let out = d.ok(&["reexec"]);
    assert!(out.contains("re-executed"), "{out}");
    assert_eq!(d.snapshot().daemon.pid as i32, d.pid());
    assert_eq!(d.process("r").pid, Some(r as u32));
    // Once the directory can be made again, a respawn has its output file.
    std::fs::remove_file(d.logdir()).expect("remove the file");
    std::fs::create_dir(d.logdir()).expect("make the log directory again");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(r), nix::sys::signal::Signal::SIGKILL).expect("kill r");
    d.wait_process("r", "a respawn", |p| p.respawns == 1 && p.pid.is_some_and(|p| p as i32 != r));
}

/// The new image keeps the settings the old one resolved: a `:::initstat:`
/// changed in the file since does not move the status file (a reload
/// would not either).
#[test]
fn reexec_keeps_the_settings_in_force_not_the_files_new_directives() {
    let mut d = TestDaemon::builder(":::initstat:{dir}/first.stat\ng:r:1:respawn:exec sleep 1000\n").prepare();
    let mut cmd = d.daemon_command();
    cmd.env_remove("ISINIT_INITSTAT");
    d.restart_with(cmd);
    d.tell("g", "1");
    d.wait_running("r");
    d.write_tab(":::initstat:{dir}/second.stat\ng:r:1:respawn:exec sleep 1000\n");
    d.ok(&["reexec"]);
    d.tell("g", "0");
    d.wait_group("g", "0", GroupState::Done);
    wait_until(DEADLINE, "first.stat to say g 0 DONE", || {
        std::fs::read_to_string(d.path("first.stat")).is_ok_and(|t| t.lines().any(|l| l.starts_with("g 0 ")))
    });
    assert!(!d.path("second.stat").exists(), "the status file did not move");
}
