//! How the daemon's costs grow with the number of entries it supervises:
//! `cargo bench -p isinit --bench scale`.
//!
//! For each size (`ISINIT_SCALE_SIZES`, default `1000,5000,10000`) a
//! private daemon (its own socket, status, state and log paths) runs an
//! isinittab of that many `respawn` entries (`exec sleep 100000`), in
//! groups of [`GROUP`] entries like a worker farm, plus a one-entry group
//! `one`. Measured from outside, like an operator would:
//!
//! - start all: a tell of every farm group to `run` (over one
//!   connection) until a subscriber has seen every child running;
//! - respawn: one child SIGKILLed while the rest run → a subscriber sees
//!   its new child running;
//! - `status` and `status --json`: wall time of the whole command and the
//!   size of its output;
//! - `tell one a|b`: wall time of the whole command on the one-entry group
//!   while every farm child runs;
//! - idle CPU of the daemon over `ISINIT_BENCH_IDLE_SECS` (default 30);
//! - the daemon's RSS and PSS with every child running, per entry;
//! - stop all: a tell of every farm group to `0` until every group is
//!   `DONE` (every child reaped);
//! - beside each wall time, the CPU time the daemon spent on it (for the
//!   per-change rows, its runtime thread's, from
//!   `/proc/PID/task/PID/schedstat`, and every thread's: the writers of
//!   the state and status files work for each change too): wall times on
//!   a shared machine move with its other load, CPU times hardly.
//!
//! Then a table of each figure at every size and its growth factor from
//! the smallest size to the largest (docs/src/performance.md quotes it).
//! The bench raises its own RLIMIT_NOFILE (soft to hard) for the children
//! it watches; the daemon raises its own.

mod common;

use common::{Daemon, ms};
use isinit_client::Client;
use isinit_shared::protocol::{Event, GroupState, ProcessState, Request, Response};
use std::collections::{HashMap, HashSet};
use std::process::Command;
use std::time::{Duration, Instant};

/// Entries per farm group.
const GROUP: usize = 100;
/// Respawns measured per size.
const RESPAWNS: usize = 50;
/// `status` runs per form and size.
const STATUS_RUNS: usize = 20;
/// `tell` runs per size.
const TELLS: usize = 50;

/// A daemon of `n` respawn entries in farm groups of [`GROUP`] (and one
/// `once` group), and the farm groups' names.
fn start_farm(n: usize) -> (Daemon, Vec<String>) {
    let mut tab = String::from("one:o:a:once:true\n");
    let mut groups = Vec::new();
    for g in 0..n.div_ceil(GROUP) {
        groups.push(format!("f{g}"));
        for i in g * GROUP..((g + 1) * GROUP).min(n) {
            tab.push_str(&format!("f{g}:w{i}:run:respawn:exec sleep 100000\n"));
        }
    }
    (Daemon::start(&tab, Duration::from_secs(30)), groups)
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// One size's figures, by row name, in the order measured.
type Figures = Vec<(&'static str, f64)>;

/// A subscription that follows the state of every process and group,
/// surviving resynchronisation (a subscriber that falls behind gets a
/// fresh snapshot; with ten thousand starts at once it may).
struct Watcher {
    sub: Client,
    pids: HashMap<String, u32>,
    running: HashSet<String>,
    groups: HashMap<String, GroupState>,
}

impl Watcher {
    async fn new(d: &Daemon) -> Watcher {
        let mut sub = Client::connect(&d.socket()).await.expect("connect");
        sub.send(&Request::Subscribe).await.expect("subscribe");
        let mut w = Watcher { sub, pids: HashMap::new(), running: HashSet::new(), groups: HashMap::new() };
        match w.sub.recv().await.expect("snapshot") {
            Response::Snapshot(s) => w.fold_snapshot(&s),
            other => panic!("expected a snapshot, got {other:?}"),
        }
        w
    }

    fn fold_snapshot(&mut self, s: &isinit_shared::Snapshot) {
        self.pids.clear();
        self.running.clear();
        self.groups.clear();
        for p in &s.processes {
            self.fold_process(p);
        }
        for g in &s.groups {
            self.groups.insert(g.name.clone(), g.state);
        }
    }

    fn fold_process(&mut self, p: &isinit_shared::protocol::ProcessStatus) {
        match p.pid {
            Some(pid) if p.state == ProcessState::Running => {
                self.pids.insert(p.tag.clone(), pid);
                self.running.insert(p.tag.clone());
            }
            _ => {
                self.pids.remove(&p.tag);
                self.running.remove(&p.tag);
            }
        }
    }

    /// Folds events until `done` holds.
    async fn until(&mut self, mut done: impl FnMut(&Watcher) -> bool) {
        while !done(self) {
            match self.sub.recv().await.expect("subscription") {
                Response::Update(u) => match &u.event {
                    Event::Process(p) => self.fold_process(p),
                    Event::Group(g) => {
                        self.groups.insert(g.name.clone(), g.state);
                    }
                    _ => {}
                },
                Response::Snapshot(s) => self.fold_snapshot(&s),
                _ => {}
            }
        }
    }
}

/// Tells every group `level` over one connection, one request after the
/// other (each reply comes once the level is on disk).
async fn tell_all(d: &Daemon, groups: &[String], level: &str) {
    let mut c = Client::connect(&d.socket()).await.expect("connect");
    for g in groups {
        c.send(&Request::Tell { group: g.clone(), level: level.into(), dry_run: false }).await.expect("tell");
        if let Response::Error(e) = c.recv().await.expect("tell reply") {
            panic!("tell {g} {level}: {e:?}");
        }
    }
}

async fn measure(n: usize) -> Figures {
    let mut f = Figures::new();
    // What this machine charges for any process, now: the floor the
    // command-line figures stand on (other load moves it).
    let mut floor = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let _ = Command::new("/bin/true").status();
        floor.push(t.elapsed());
    }
    f.push(("floor: a whole `/bin/true` (median), ms", ms(median(&mut floor))));
    let (d, farm) = start_farm(n);
    f.push(("daemon RSS before start, MB", rss_kb(d.pid()) as f64 / 1024.0));
    let mut w = Watcher::new(&d).await;

    // The subscription is read while the tells go out: a subscriber that
    // stops reading is dropped by the daemon after its write timeout.
    let t = Instant::now();
    let cpu = cpu_ticks(d.pid());
    tokio::join!(tell_all(&d, &farm, "run"), w.until(|w| w.running.len() == n));
    f.push(("start all → all live, ms", ms(t.elapsed())));
    f.push(("daemon CPU, start all, ms", ticks_ms(cpu_ticks(d.pid()) - cpu)));

    // Respawn of one entry while the rest run, spread over the farm.
    let mut samples = Vec::new();
    let (cpu, all) = (main_thread_ns(d.pid()), all_threads_ns(d.pid()));
    for k in 0..RESPAWNS {
        let tag = format!("w{}", (k * 7919) % n);
        let old = w.pids[&tag];
        let t = Instant::now();
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(old as i32), nix::sys::signal::Signal::SIGKILL)
            .expect("kill");
        w.until(|w| w.pids.get(&tag).is_some_and(|p| *p != old)).await;
        samples.push(t.elapsed());
    }
    f.push(("respawn of one entry (median), ms", ms(median(&mut samples))));
    f.push(("runtime thread CPU per respawn, ms", per(main_thread_ns(d.pid()) - cpu, RESPAWNS)));
    settle().await;
    f.push(("daemon CPU per respawn (every thread), ms", per(all_threads_ns(d.pid()) - all, RESPAWNS)));

    for (row, size_row, args) in [
        ("`status` (median), ms", "`status` output, KB", &["status"][..]),
        ("`status --json` (median), ms", "`status --json` output, KB", &["status", "--json"][..]),
    ] {
        let mut samples = Vec::new();
        let mut size = 0;
        let cpu = main_thread_ns(d.pid());
        for _ in 0..STATUS_RUNS {
            let t = Instant::now();
            let out = d.cli(args);
            samples.push(t.elapsed());
            assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
            size = out.stdout.len();
        }
        f.push((row, ms(median(&mut samples))));
        f.push((size_row, size as f64 / 1024.0));
        let cpu_row = if args.len() == 1 {
            "runtime thread CPU per `status`, ms"
        } else {
            "runtime thread CPU per `status --json`, ms"
        };
        f.push((cpu_row, per(main_thread_ns(d.pid()) - cpu, STATUS_RUNS)));
    }

    let mut samples = Vec::new();
    let (cpu, all) = (main_thread_ns(d.pid()), all_threads_ns(d.pid()));
    for i in 0..TELLS {
        let level = if i % 2 == 0 { "a" } else { "b" };
        let t = Instant::now();
        let out = d.cli(&["tell", "one", level]);
        samples.push(t.elapsed());
        assert!(out.status.success(), "tell: {}", String::from_utf8_lossy(&out.stderr));
    }
    f.push(("`tell` of a one-entry group (median), ms", ms(median(&mut samples))));
    f.push(("runtime thread CPU per `tell`, ms", per(main_thread_ns(d.pid()) - cpu, TELLS)));
    settle().await;
    f.push(("daemon CPU per `tell` (every thread), ms", per(all_threads_ns(d.pid()) - all, TELLS)));

    let secs: u64 = std::env::var("ISINIT_BENCH_IDLE_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(30);
    // Let the last tell's writes settle before watching the idle daemon.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = cpu_ticks(d.pid());
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let ticks = cpu_ticks(d.pid()) - before;
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok().flatten().unwrap_or(100) as f64;
    f.push(("idle CPU over the window, % of a core", ticks as f64 / hz / secs as f64 * 100.0));

    let (rss, pss) = (rss_kb(d.pid()), pss_kb(d.pid()));
    f.push(("daemon RSS, all running, MB", rss as f64 / 1024.0));
    f.push(("daemon RSS per entry, KB", rss as f64 / n as f64));
    f.push(("daemon PSS per entry, KB", pss as f64 / n as f64));

    let t = Instant::now();
    let cpu = cpu_ticks(d.pid());
    let all_done =
        |w: &Watcher| farm.iter().all(|g| w.groups.get(g) == Some(&GroupState::Done)) && w.running.is_empty();
    tokio::join!(tell_all(&d, &farm, "0"), w.until(all_done));
    f.push(("stop all → all dead, ms", ms(t.elapsed())));
    f.push(("daemon CPU, stop all, ms", ticks_ms(cpu_ticks(d.pid()) - cpu)));
    f
}

fn proc_field_kb(path: &str, field: &str) -> u64 {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn rss_kb(pid: u32) -> u64 {
    proc_field_kb(&format!("/proc/{pid}/status"), "VmRSS:")
}

fn pss_kb(pid: u32) -> u64 {
    proc_field_kb(&format!("/proc/{pid}/smaps_rollup"), "Pss:")
}

/// CPU time the daemon's runtime thread (its main thread: the one task
/// owning the supervisor) has had, in ns (`/proc/PID/schedstat`). Unlike
/// wall time it hardly moves with other load on the machine.
fn main_thread_ns(pid: u32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/schedstat")).unwrap_or_default();
    text.split_whitespace().next().and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// CPU time every thread of the daemon has had, in ns: the runtime's and
/// the writers' of the state and status files, the output capture's,
/// whatever a change costs (a thread that ended is not counted: none ends
/// around a respawn or a one-entry tell).
fn all_threads_ns(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return 0 };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|text| text.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// Lets what a run of changes handed to the daemon's other threads (the
/// files written after the last reply) finish before their CPU is read.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// `ns` spread over `n` operations, in ms each.
fn per(ns: u64, n: usize) -> f64 {
    ns as f64 / n as f64 / 1e6
}

/// Clock ticks in ms.
fn ticks_ms(ticks: u64) -> f64 {
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok().flatten().unwrap_or(100) as f64;
    ticks as f64 * 1000.0 / hz
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("proc stat");
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap_or(0) + fields[12].parse::<u64>().unwrap_or(0)
}

/// Soft RLIMIT_NOFILE to the hard limit: the bench's own connections
/// and children need no more, but the daemon it starts inherits it.
fn raise_nofile() {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit read and write the struct we own.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` probes harness-less benches
    }
    raise_nofile();
    let sizes: Vec<usize> = std::env::var("ISINIT_SCALE_SIZES")
        .unwrap_or_else(|_| "1000,5000,10000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let mut all = Vec::new();
    for &n in &sizes {
        let figures = rt.block_on(measure(n));
        for (row, v) in &figures {
            println!("{n:>6} entries: {row}: {v:.2}");
        }
        all.push(figures);
    }
    print_table(&sizes, &all);
}

/// The figures side by side, with the growth factor from the first size
/// to the last (the entries themselves grow by last / first).
fn print_table(sizes: &[usize], all: &[Figures]) {
    let (Some(first), Some(last)) = (all.first(), all.last()) else { return };
    println!();
    let head: Vec<String> = sizes.iter().map(|n| format!("{n}")).collect();
    println!("| figure | {} | growth {}→{} |", head.join(" | "), sizes[0], sizes[sizes.len() - 1]);
    println!("|---|{}---|", "---:|".repeat(sizes.len()));
    for (i, (row, _)) in first.iter().enumerate() {
        let cells: Vec<String> = all.iter().map(|f| format!("{:.2}", f[i].1)).collect();
        let growth = if first[i].1 > 0.0 { format!("{:.2}×", last[i].1 / first[i].1) } else { "–".into() };
        println!("| {row} | {} | {growth} |", cells.join(" | "));
    }
}
