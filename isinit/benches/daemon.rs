//! Speed and memory of the real daemon, measured from outside like an
//! operator would: `cargo bench -p isinit --bench daemon`.
//!
//! - `tell`: wall time of a whole `isinit tell` process (connect, hello,
//!   request, reply, exit), median and p90 over many runs;
//! - `respawn`: a respawn child is SIGKILLed → a subscriber sees the new
//!   child running (reap, spawn with exec confirmed, publish, deliver);
//! - `1000 up` / `1000 down`: tell of a 1,000-entry respawn group until a
//!   subscriber has seen every child running, then tell level `0` until
//!   the group is `DONE` with every process stopped;
//! - idle CPU of the daemon over `ISINIT_BENCH_IDLE_SECS` (default 30)
//!   with those 1,000 children running, and its RSS.
//!
//! Each figure is printed as one line; README.md quotes them.

mod common;

use common::{Daemon, ms};
use isinit_client::Client;
use isinit_shared::protocol::{Event, GroupState, ProcessState, Request, Response};
use std::collections::HashSet;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const WIDE: usize = 1000;
const RESPAWNERS: usize = 100;

/// The bench's daemon: a `once`, the respawners and the wide group.
fn start_daemon() -> Daemon {
    let mut tab = String::from("bench:flip:a:once:true\n");
    for i in 0..RESPAWNERS {
        tab.push_str(&format!("resp:r{i}:run:respawn:exec sleep 100000\n"));
    }
    for i in 0..WIDE {
        tab.push_str(&format!("wide:w{i}:run:respawn:exec sleep 100000\n"));
    }
    Daemon::start(&tab, Duration::from_secs(20))
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() - 1) as f64 * p).round() as usize]
}

/// What this machine charges for any process: the floors the daemon's
/// figures stand on.
fn bench_floors() {
    let mut samples = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        let status = Command::new("/bin/true").status().expect("run /bin/true");
        samples.push(t.elapsed());
        assert!(status.success());
    }
    println!("floor: a whole `/bin/true` process: median {:.2} ms", ms(percentile(&mut samples, 0.5)));
    let t = Instant::now();
    let mut children: Vec<Child> = (0..WIDE)
        .map(|_| {
            Command::new("/bin/sh")
                .args(["-c", "exec sleep 100000"])
                .stdin(Stdio::null())
                .process_group(0)
                .spawn()
                .expect("spawn")
        })
        .collect();
    println!("floor: {WIDE} × std::process::Command::spawn of `sh -c 'exec sleep …'`: {:.0} ms", ms(t.elapsed()));
    for c in &mut children {
        let _ = c.kill();
        let _ = c.wait();
    }
}

fn bench_tell(d: &Daemon) {
    let mut samples = Vec::new();
    for i in 0..200 {
        let level = if i % 2 == 0 { "a" } else { "b" };
        let t = Instant::now();
        let out = d.cli(&["tell", "bench", level]);
        samples.push(t.elapsed());
        assert!(out.status.success(), "tell failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let (p50, p90) = (percentile(&mut samples, 0.5), percentile(&mut samples, 0.9));
    println!("tell round trip (whole `isinit tell` process): median {:.2} ms, p90 {:.2} ms", ms(p50), ms(p90));
}

/// Waits on a subscription until `done` says the state it tracks is reached.
async fn until(sub: &mut Client, mut done: impl FnMut(&Event) -> bool) {
    loop {
        match sub.recv().await.expect("subscription") {
            Response::Update(u) if done(&u.event) => return,
            Response::Snapshot(_) => panic!("subscriber was resynchronised during a measurement"),
            _ => {}
        }
    }
}

async fn subscribe(d: &Daemon) -> (Client, Box<isinit_shared::Snapshot>) {
    let mut sub = Client::connect(&d.socket()).await.expect("connect");
    sub.send(&Request::Subscribe).await.expect("subscribe");
    match sub.recv().await.expect("snapshot") {
        Response::Snapshot(s) => (sub, s),
        other => panic!("expected a snapshot, got {other:?}"),
    }
}

async fn bench_respawn(d: &Daemon) {
    let (mut sub, _) = subscribe(d).await;
    assert!(d.cli(&["tell", "resp", "run"]).status.success());
    let mut pids = std::collections::HashMap::new();
    until(&mut sub, |e| {
        if let Event::Process(p) = e
            && let Some(pid) = p.pid
        {
            pids.insert(p.tag.clone(), pid);
        }
        pids.len() == RESPAWNERS
    })
    .await;
    let mut samples = Vec::new();
    for i in 0..2 * RESPAWNERS {
        let tag = format!("r{}", i % RESPAWNERS);
        let old = pids[&tag];
        let t = Instant::now();
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(old as i32), nix::sys::signal::Signal::SIGKILL)
            .expect("kill");
        let mut new = 0;
        until(&mut sub, |e| match e {
            Event::Process(p) if p.tag == tag && p.state == ProcessState::Running => {
                new = p.pid.unwrap_or(old);
                new != old
            }
            _ => false,
        })
        .await;
        samples.push(t.elapsed());
        pids.insert(tag, new);
    }
    let (p50, p90) = (percentile(&mut samples, 0.5), percentile(&mut samples, 0.9));
    println!(
        "respawn latency (SIGKILL → new child running, seen by a subscriber): median {:.2} ms, p90 {:.2} ms",
        ms(p50),
        ms(p90)
    );
    assert!(d.cli(&["tell", "resp", "0"]).status.success());
}

async fn bench_wide(d: &Daemon) {
    let (mut sub, _) = subscribe(d).await;
    // The first start also creates the 1,000 output files; the second finds
    // them, as every later start of a real group does.
    for run in ["first start, creating the output files", "second start, output files exist"] {
        let t = Instant::now();
        assert!(d.cli(&["tell", "wide", "run"]).status.success());
        let mut running = HashSet::new();
        until(&mut sub, |e| {
            if let Event::Process(p) = e
                && p.group == "wide"
                && p.pid.is_some()
            {
                running.insert(p.tag.clone());
            }
            running.len() == WIDE
        })
        .await;
        println!("{WIDE}-entry respawn group, tell → all running ({run}): {:.0} ms", ms(t.elapsed()));
        if run.starts_with("first") {
            idle_figures(d);
        }
        let t = Instant::now();
        assert!(d.cli(&["tell", "wide", "0"]).status.success());
        until(&mut sub, |e| matches!(e, Event::Group(g) if g.name == "wide" && g.state == GroupState::Done)).await;
        println!("{WIDE}-entry respawn group, tell 0 → all stopped: {:.0} ms", ms(t.elapsed()));
    }
}

/// RSS and idle CPU of the daemon while the 1,000 children run.
fn idle_figures(d: &Daemon) {
    let pid = d.pid();
    println!("daemon RSS with {WIDE} children: {:.1} MB", rss_kb(pid) as f64 / 1024.0);
    let secs: u64 = std::env::var("ISINIT_BENCH_IDLE_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(30);
    let before = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(secs));
    let ticks = cpu_ticks(pid) - before;
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok().flatten().unwrap_or(100) as f64;
    println!(
        "daemon CPU while idle with {WIDE} children over {secs} s: {:.2} s ({:.3} %)",
        ticks as f64 / hz,
        ticks as f64 / hz / secs as f64 * 100.0
    );
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmRSS")
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("proc stat");
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap_or(0) + fields[12].parse::<u64>().unwrap_or(0)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` probes harness-less benches
    }
    bench_floors();
    let d = start_daemon();
    bench_tell(&d);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        bench_respawn(&d).await;
        bench_wide(&d).await;
    });
}
