//! The benchmark of the book's Cluster chapter (issue 17): 200 hosts
//! (`ISINIT_BENCH_HOSTS=N` for another count)
//! behind real OpenSSH (sshds of sixteen loopback addresses each, see
//! `Cluster::start_shared`). `status` over 200 hosts cold and with ssh
//! ControlMaster, the same fan-out by ClusterShell (`clush -b`) in the
//! same run, a rolling switch over 40 hosts in waves of 10, and the most
//! ssh processes seen at once. Ignored by default (timings on a shared CI
//! box are noise); run on release binaries, as the figures in the book are:
//! `cargo build --release --workspace && cargo test --release -p
//! isinit-e2e --test fleet_bench -- --ignored --nocapture`.

use isinit_e2e::TestDaemon;
use isinit_e2e::fixtures::{Cli, describe, isinit};
use isinit_e2e::procfs;
use isinit_e2e::ssh::{Cluster, unavailable};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const TAB: &str = "web:srv:1:respawn:exec sleep 1000\nmail:mta:run:respawn:exec sleep 1000\n";
/// How many hosts [env: ISINIT_BENCH_HOSTS, default 200].
fn hosts() -> usize {
    std::env::var("ISINIT_BENCH_HOSTS").ok().and_then(|n| n.parse().ok()).unwrap_or(200)
}
/// Extra `ssh` options for both tools [env: ISINIT_BENCH_SSH_OPTS], e.g.
/// `-o KexAlgorithms=curve25519-sha256`: the key exchange OpenSSH 9.2
/// picks by default (sntrup761x25519) costs its client about 100 ms of CPU
/// per connection, which both tools pay alike.
fn ssh_opts() -> String {
    std::env::var("ISINIT_BENCH_SSH_OPTS").unwrap_or_default()
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
fn ssh_children(parent: i32) -> usize {
    procfs::children_of(parent).iter().filter(|s| s.comm == "ssh" && !matches!(s.state, 'Z' | 'X')).count()
}

/// What one run of a fan-out cost.
struct Run {
    out: Cli,
    took: Duration,
    /// The CPU time of the tool and of the `ssh` processes it waited for
    /// (user + system): what the operator's host spends. The sshds and
    /// what they run are the far hosts' cost, on this box the same cores.
    cpu: Duration,
    /// The tool's own CPU time, without its `ssh` processes (read from
    /// `/proc/PID/stat` until it ends: the last 50 ms may be missing).
    own: Duration,
    /// The most `ssh` children at once, when sampled.
    most: usize,
}

/// CPU time (user + system) of this process's ended and waited-for
/// children, with theirs.
fn children_cpu() -> Duration {
    // SAFETY: getrusage writes one `rusage` into the struct given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let time = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// Runs `cmd` to completion; returns its output, its wall time, its CPU
/// time and, when `sample` is set, the most `ssh` children it had at once
/// (sampled every 2 ms). Killed after [`BENCH_DEADLINE`]. The sampler reads every
/// process's `stat` 500 times a second — on two cores with 600 processes
/// that is most of a core — so timed runs do not sample: it would slow
/// both tools alike and pull their ratio towards 1.
fn measured(mut cmd: Command, sample: bool) -> Run {
    let command = describe(&cmd);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let (start, cpu) = (Instant::now(), children_cpu());
    let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot run `{command}`: {e}"));
    let (done, most, own) =
        (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)), Arc::new(AtomicU64::new(0)));
    let watcher = {
        let pid = i32::try_from(child.id()).expect("a pid fits in i32");
        let (done, most, own) = (done.clone(), most.clone(), own.clone());
        let every = Duration::from_millis(if sample { 2 } else { 50 });
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                if sample {
                    most.fetch_max(ssh_children(pid), Ordering::SeqCst);
                }
                if let Some(cpu) = procfs::cpu_time(pid) {
                    own.fetch_max(u64::try_from(cpu.as_millis()).unwrap_or(u64::MAX), Ordering::SeqCst);
                }
                if start.elapsed() > BENCH_DEADLINE {
                    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
                }
                std::thread::sleep(every);
            }
        })
    };
    let output = child.wait_with_output().unwrap_or_else(|e| panic!("`{command}`: {e}"));
    let took = start.elapsed();
    done.store(true, Ordering::SeqCst);
    let _ = watcher.join();
    let out = Cli {
        command,
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    let own = Duration::from_millis(own.load(Ordering::SeqCst));
    Run { out, took, cpu: children_cpu() - cpu, own, most: most.load(Ordering::SeqCst) }
}

/// The median wall time and the median CPU time of `runs`.
fn medians(runs: &[Run]) -> (Duration, Duration) {
    let median = |mut times: Vec<Duration>| {
        times.sort_unstable();
        times[times.len() / 2]
    };
    (median(runs.iter().map(|r| r.took).collect()), median(runs.iter().map(|r| r.cpu).collect()))
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

    let opts = ssh_opts();
    if !opts.is_empty() {
        println!("ssh options for both tools: {opts}");
    }
    let isinit_status = |ssh: Option<&str>, sample: bool| {
        let mut cmd = cluster.command(&["-b", "-H", &set, "status"]);
        cmd.env("ISINIT_SSH", format!("{} {opts}", ssh.map_or_else(|| cluster.ssh_command(), str::to_owned)));
        measured(cmd, sample)
    };
    let clush_status = || {
        let mut cmd = Command::new("clush");
        cmd.args(["-b", "-f", "64", "-w", &set, "-o"])
            .arg(format!("-F {} -o BatchMode=yes {opts}", cluster.ssh_config().display()))
            .arg(format!("{} status", isinit().display()));
        let run = measured(cmd, false);
        assert!(run.out.success(), "{}", run.out);
        assert!(run.out.stdout.contains(&format!("{set} ({hosts})")), "{}", run.out);
        run
    };
    let isinit_cold = || {
        let run = isinit_status(None, false);
        assert_eq!((run.out.code(), run.out.stdout.as_str()), (Some(0), expected.as_str()), "{}", run.out);
        run
    };

    // The window, seen from outside: a run of its own, sampled.
    let run = isinit_status(None, true);
    assert_eq!(run.out.code(), Some(0), "{}", run.out);
    println!(
        "isinit -b status, {hosts} hosts, sampled for ssh processes: {:?}; most ssh at once {}",
        run.took, run.most
    );
    assert!(run.most <= 64, "the window let {} ssh run at once", run.most);

    // The two tools take turns, the one going first alternating, so that
    // the load of the box drifting during the bench weighs on both alike.
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for round in 0..RUNS {
        let (us, them) = if !clush {
            (isinit_cold(), None)
        } else if round % 2 == 0 {
            let us = isinit_cold();
            (us, Some(clush_status()))
        } else {
            let them = clush_status();
            (isinit_cold(), Some(them))
        };
        print!("round {}: isinit {:?} (CPU {:?}, its own {:?})", round + 1, us.took, us.cpu, us.own);
        if let Some(them) = them {
            print!(", clush {:?} (CPU {:?}, its own {:?})", them.took, them.cpu, them.own);
            theirs.push(them);
        }
        println!();
        ours.push(us);
    }
    let (took, cpu) = medians(&ours);
    println!("isinit -b status, {hosts} hosts, cold: median of {RUNS} {took:?}, CPU {cpu:?}");
    if clush {
        let (their_took, their_cpu) = medians(&theirs);
        println!(
            "clush -b isinit status, {hosts} hosts, cold: median of {RUNS} {their_took:?}, CPU {their_cpu:?}; \
             isinit/clush: time {:.2}, CPU {:.2}",
            took.as_secs_f64() / their_took.as_secs_f64(),
            cpu.as_secs_f64() / their_cpu.as_secs_f64()
        );
    } else {
        eprintln!("note: clush not found (install clustershell): no comparison");
    }

    // ControlMaster: the first run opens the masters, the next ones share.
    let control = format!(
        "{} -o ControlMaster=auto -o ControlPath={}/cm-%C -o ControlPersist=120",
        cluster.ssh_command(),
        daemons[0].dir().display()
    );
    let _masters = Masters(format!("{}/cm-", daemons[0].dir().display()));
    let warm = isinit_status(Some(&control), false);
    println!(
        "isinit -b status, {hosts} hosts, opening the ControlMasters: {:?} (exit {:?})",
        warm.took,
        warm.out.code()
    );
    let mut shared = Vec::new();
    for _ in 0..RUNS {
        let run = isinit_status(Some(&control), false);
        if run.out.code() != Some(0) {
            // Measured all the same; what failed is said, not hidden.
            let summary = run.out.stderr.lines().last().unwrap_or("");
            eprintln!("ControlMaster run, exit {:?}; summary: {summary}", run.out.code());
        }
        shared.push(run);
    }
    let (took, cpu) = medians(&shared);
    println!("isinit -b status, {hosts} hosts, ControlMaster: median of {RUNS} {took:?}, CPU {cpu:?}");

    // Over the first 40 hosts (all of them, with fewer).
    let rolled = hosts.min(40);
    let set = format!("h[1-{rolled}]");
    let args = ["tell", "mail", "run", "-H", &set, "--batch", "10", "--healthy-for", "1"];
    let run = measured(cluster.command(&args), false);
    assert_eq!(run.out.code(), Some(0), "{}", run.out);
    println!("rolling switch, {rolled} hosts in waves of 10, --healthy-for 1: {:?}\n{}", run.took, run.out.stdout);
}
