//! The benchmark of the book's Cluster chapter (issue 17): 200 hosts
//! (`ISINIT_BENCH_HOSTS=N` for another count)
//! behind real OpenSSH (sshds of sixteen loopback addresses each, see
//! `Cluster::start_shared`). `status` over 200 hosts cold and with ssh
//! ControlMaster, the same fan-out by ClusterShell (`clush -b`) in the
//! same run, a rolling switch over 40 hosts in waves of 10, and the most
//! ssh processes seen at once. Ignored by default (timings on a shared CI
//! box are noise); run with
//! `cargo test -p isinit-e2e --test fleet_bench -- --ignored --nocapture`.

use isinit_e2e::TestDaemon;
use isinit_e2e::fixtures::{Cli, describe, isinit};
use isinit_e2e::ssh::{Cluster, unavailable};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const TAB: &str = "web:srv:1:respawn:exec sleep 1000\nmail:mta:run:respawn:exec sleep 1000\n";
/// How many hosts [env: ISINIT_BENCH_HOSTS, default 200].
fn hosts() -> usize {
    std::env::var("ISINIT_BENCH_HOSTS").ok().and_then(|n| n.parse().ok()).unwrap_or(200)
}
const RUNS: usize = 3;
/// A run over 200 hosts on a loaded two-core box may take long.
const BENCH_DEADLINE: Duration = Duration::from_secs(300);

/// The ssh ControlMaster processes of the bench (`ssh: DIR/cm-… [mux]`,
/// left running by `ControlPersist`), ended when dropped.
struct Masters(String);

impl Drop for Masters {
    fn drop(&mut self) {
        let Ok(dir) = std::fs::read_dir("/proc") else { return };
        for entry in dir.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&self.0) {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM);
            }
        }
    }
}

/// The live `ssh` children of `parent` right now: a session already
/// killed but not yet reaped (a zombie) is no session.
fn ssh_children(parent: u32) -> usize {
    let Ok(dir) = std::fs::read_dir("/proc") else { return 0 };
    dir.filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("stat")).ok())
        .filter(|stat| {
            let Some((comm, rest)) = stat.split_once(") ") else { return false };
            let mut fields = rest.split_whitespace();
            let state = fields.next().unwrap_or("Z");
            let ppid = fields.next().and_then(|p| p.parse::<u32>().ok());
            comm.ends_with("(ssh") && ppid == Some(parent) && !matches!(state, "Z" | "X")
        })
        .count()
}

/// Runs `cmd` to completion; returns its output, its wall time and the
/// most `ssh` children it had at once (sampled every 2 ms). Killed after
/// [`BENCH_DEADLINE`].
fn measured(mut cmd: Command) -> (Cli, Duration, usize) {
    let command = describe(&cmd);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let start = Instant::now();
    let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot run `{command}`: {e}"));
    let (done, most) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
    let sampler = {
        let (done, most, pid) = (done.clone(), most.clone(), child.id());
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                most.fetch_max(ssh_children(pid), Ordering::SeqCst);
                if start.elapsed() > BENCH_DEADLINE {
                    let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX));
                    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let output = child.wait_with_output().unwrap_or_else(|e| panic!("`{command}`: {e}"));
    let took = start.elapsed();
    done.store(true, Ordering::SeqCst);
    let _ = sampler.join();
    let cli = Cli {
        command,
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    (cli, took, most.load(Ordering::SeqCst))
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort_unstable();
    times[times.len() / 2]
}

#[test]
#[ignore]
fn bench_two_hundred_hosts_against_clush() {
    if let Some(why) = unavailable() {
        eprintln!("note: skipping the ssh bench: {why}");
        return;
    }
    let clush = Command::new("clush").arg("--version").output().is_ok_and(|o| o.status.success());
    let hosts = hosts();
    let daemons: Vec<TestDaemon> = (0..hosts).map(|_| TestDaemon::start(TAB)).collect();
    let cluster = Cluster::start_shared(&daemons.iter().collect::<Vec<_>>());
    let set = format!("h[1-{hosts}]");
    let same = daemons[0].ok(&["status"]);
    let title = format!("{set} ({hosts})");
    let dashes = "-".repeat(title.len());
    let expected = format!("{dashes}\n{title}\n{dashes}\n{same}");

    let isinit_status = |ssh: Option<&str>| {
        let mut cmd = cluster.command(&["-b", "-H", &set, "status"]);
        if let Some(ssh) = ssh {
            cmd.env("ISINIT_SSH", ssh);
        }
        measured(cmd)
    };
    let mut cold = Vec::new();
    let mut most = 0;
    for _ in 0..RUNS {
        let (out, took, seen) = isinit_status(None);
        assert_eq!((out.code(), out.stdout.as_str()), (Some(0), expected.as_str()), "{out}");
        cold.push(took);
        most = most.max(seen);
    }
    let cold = median(cold);
    println!("isinit -b status, {hosts} hosts, cold: median of {RUNS} {cold:?}; most ssh at once {most}");
    assert!(most <= 64, "the window let {most} ssh run at once");

    // ControlMaster: the first run opens the masters, the next ones share.
    let control = format!(
        "{} -o ControlMaster=auto -o ControlPath={}/cm-%C -o ControlPersist=120",
        cluster.ssh_command(),
        daemons[0].dir().display()
    );
    let _masters = Masters(format!("{}/cm-", daemons[0].dir().display()));
    let (warm, took, _) = isinit_status(Some(&control));
    println!("isinit -b status, {hosts} hosts, opening the ControlMasters: {took:?} (exit {:?})", warm.code());
    let mut shared = Vec::new();
    for _ in 0..RUNS {
        let (out, took, _) = isinit_status(Some(&control));
        if out.code() != Some(0) {
            // Measured all the same; what failed is said, not hidden.
            eprintln!("ControlMaster run, exit {:?}; summary: {}", out.code(), out.stderr.lines().last().unwrap_or(""));
        }
        shared.push(took);
    }
    let shared = median(shared);
    println!("isinit -b status, {hosts} hosts, ControlMaster: median of {RUNS} {shared:?}");

    if clush {
        let mut times = Vec::new();
        for _ in 0..RUNS {
            let mut cmd = Command::new("clush");
            cmd.args(["-b", "-f", "64", "-w", &set, "-o"])
                .arg(format!("-F {} -o BatchMode=yes", cluster.ssh_config().display()))
                .arg(format!("{} status", isinit().display()));
            let (out, took, _) = measured(cmd);
            assert!(out.success(), "{out}");
            assert!(out.stdout.contains(&format!("{set} ({hosts})")), "{out}");
            times.push(took);
        }
        let clush = median(times);
        let ratio = cold.as_secs_f64() / clush.as_secs_f64();
        println!("clush -b isinit status, {hosts} hosts, cold: median of {RUNS} {clush:?}; isinit/clush {ratio:.2}");
    } else {
        eprintln!("note: clush not found (install clustershell): no comparison");
    }

    let args = ["tell", "mail", "run", "-H", "h[1-40]", "--batch", "10", "--healthy-for", "1"];
    let (out, took, _) = measured(cluster.command(&args));
    assert_eq!(out.code(), Some(0), "{out}");
    println!("rolling switch, 40 hosts in waves of 10, --healthy-for 1: {took:?}\n{}", out.stdout);
}
