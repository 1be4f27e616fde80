//! How long a fleet screen frame takes with 20, and with 200, hosts of 50
//! groups each.
//!
//! `cargo bench -p isinit-tui --bench fleet` feeds the host models a
//! 50-group snapshot each (every fifth host on another isinittab, one
//! host lost), then times frames while the selection moves (one key per
//! frame), and prints the median and 99th percentile against a 5 ms
//! budget. 20 hosts: a 360×60 `TestBackend`, wide enough for all twenty
//! matrix columns. 200 hosts (SPEC §16): a 240×60 screen, sorted trouble
//! first, the selection running down and up the whole list so the table
//! and the matrix scroll with it.
//!
//! Besides wall time it prints the frame's CPU time (the thread's own
//! clock), which a loaded machine's preemptions do not inflate: on a
//! shared 2-core box the wall p99 measures the neighbours.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use isinit_client::transport::Dest;
use isinit_shared::protocol::{GroupState, GroupStatus};
use isinit_tui::client::ClientEvent;
use isinit_tui::clock::TimeZone;
use isinit_tui::fixture;
use isinit_tui::fleet::{Fleet, HostSort, view};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Size;
use std::hint::black_box;
use std::time::{Duration, Instant};

const HEIGHT: u16 = 60;
const GROUPS: usize = 50;
const FRAMES: usize = 2000;
const WARMUP: usize = 100;
const BUDGET: Duration = Duration::from_millis(5);

fn main() {
    bench(20, 360, false);
    bench(200, 240, true);
}

fn bench(hosts: usize, width: u16, trouble_first: bool) {
    let dests: Vec<Dest> = (1..=hosts).map(|i| Dest::new(&format!("node{i:03}.example.org")).unwrap()).collect();
    let mut fleet = Fleet::new(&dests, TimeZone::Utc);
    let states = [GroupState::Done, GroupState::Starting, GroupState::Failed, GroupState::Configured];
    for host in 0..hosts {
        let mut snap = fixture::snapshot();
        snap.groups = (0..GROUPS)
            .map(|g| GroupStatus {
                name: format!("group{g:02}"),
                level: Some("run".into()),
                state: states[(g + host) % states.len()],
                since_ms: 0,
                levels: vec!["run".into()],
                in_file: true,
                owner: None,
            })
            .collect();
        if host % 5 == 4 {
            snap.daemon.config_sha256 = "77".repeat(32);
        }
        fleet.on_client_event(host, ClientEvent::Snapshot(Box::new(snap)));
    }
    fleet.on_client_event(hosts - 1, ClientEvent::Disconnected { at_ms: 0, reason: "Connection refused".into() });
    fleet.resize(Size { width, height: HEIGHT });
    if trouble_first {
        fleet.on_key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::NONE));
        assert_eq!(fleet.sort(), HostSort::Trouble);
    }
    let mut terminal = Terminal::new(TestBackend::new(width, HEIGHT)).expect("a test terminal");

    let mut times = Vec::with_capacity(FRAMES);
    let mut cpu = Vec::with_capacity(FRAMES);
    for i in 0..WARMUP + FRAMES {
        let code = if (i / (hosts - 1)).is_multiple_of(2) { KeyCode::Down } else { KeyCode::Up };
        let (start, start_cpu) = (Instant::now(), thread_cpu());
        fleet.on_key(KeyEvent::new(code, KeyModifiers::NONE));
        terminal.draw(|frame| view::draw(frame, black_box(&fleet))).expect("a frame");
        if i >= WARMUP {
            times.push(start.elapsed());
            cpu.push(thread_cpu().saturating_sub(start_cpu));
        }
    }
    times.sort_unstable();
    cpu.sort_unstable();
    let at = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
    let cpu_at = |q: f64| cpu[((cpu.len() as f64 - 1.0) * q).round() as usize];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "fleet key + draw {width}x{HEIGHT}, {hosts} hosts x {GROUPS} groups{}, {} frames: median {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        if trouble_first { ", trouble first" } else { "" },
        times.len(),
        ms(at(0.5)),
        ms(at(0.99)),
        ms(times[times.len() - 1]),
    );
    println!(
        "  cpu time: median {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        ms(cpu_at(0.5)),
        ms(cpu_at(0.99)),
        ms(cpu[cpu.len() - 1])
    );
    if at(0.99) > BUDGET {
        println!("OVER BUDGET: p99 {:?} > {BUDGET:?}", at(0.99));
    }
}

/// This thread's CPU time so far.
fn thread_cpu() -> Duration {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec into `t`, which we own.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) } != 0 {
        return Duration::ZERO;
    }
    Duration::new(u64::try_from(t.tv_sec).unwrap_or(0), u32::try_from(t.tv_nsec).unwrap_or(0))
}
