//! How long a frame takes with a thousand processes in one group.
//!
//! `cargo bench -p isinit-tui` renders the 1,000-process fixture on a
//! 200×60 `TestBackend` while scrolling through the group (one key press
//! per frame, as an operator holding ↓ would), and prints the median and
//! 99th percentile time per frame — key handling plus the full draw and
//! diff — against a 5 ms budget. No benchmark crate: `Instant` is enough
//! for numbers this coarse.
//!
//! Then the same console at 1,000, 5,000 and 10,000 processes known
//! (`ISINIT_SCALE_SIZES`): one frame with nothing changed, one live event
//! (a respawned process's row, folded in by the same rule every subscriber
//! uses) and the frame after it, and the memory the console's model takes
//! (resident set grown while it was built), each with its growth factor.

use isinit_shared::protocol::{Event, ProcessState, Update};
use isinit_tui::app::Action;
use isinit_tui::client::ClientEvent;
use isinit_tui::{fixture, ui};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::hint::black_box;
use std::time::{Duration, Instant};

const WIDTH: u16 = 200;
const HEIGHT: u16 = 60;
const FRAMES: usize = 2000;
const WARMUP: usize = 100;
const BUDGET: Duration = Duration::from_millis(5);

fn main() {
    let mut app = fixture::app(fixture::big_snapshot(1000), WIDTH, HEIGHT);
    app.update(Action::Down); // the `farm` group
    app.update(Action::FocusNext);
    let mut terminal = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).expect("a test terminal");

    let mut frame_times = Vec::with_capacity(FRAMES);
    let mut draw_times = Vec::with_capacity(FRAMES);
    for i in 0..WARMUP + FRAMES {
        // Down to the bottom, then back up: every frame scrolls.
        let key = if (i / 999) % 2 == 0 { Action::Down } else { Action::Up };
        let start = Instant::now();
        app.update(key);
        let drawn = Instant::now();
        terminal.draw(|frame| ui::draw(frame, black_box(&app))).expect("a frame");
        let end = Instant::now();
        if i >= WARMUP {
            frame_times.push(end - start);
            draw_times.push(end - drawn);
        }
    }

    report("key + draw", &mut frame_times);
    report("draw only ", &mut draw_times);
    let p99 = percentile(&frame_times, 0.99);
    if p99 > BUDGET {
        println!("OVER BUDGET: p99 {p99:?} > {BUDGET:?}");
    }
    scale();
}

/// Frames and events measured per size.
const SCALE_ROUNDS: usize = 300;

/// One size's figures: (row, value).
type Figures = Vec<(&'static str, f64)>;

fn scale() {
    let sizes: Vec<usize> = std::env::var("ISINIT_SCALE_SIZES")
        .unwrap_or_else(|_| "1000,5000,10000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let all: Vec<Figures> = sizes.iter().map(|&n| scale_one(n)).collect();
    let (Some(first), Some(last)) = (all.first(), all.last()) else { return };
    let head: Vec<String> = sizes.iter().map(|n| n.to_string()).collect();
    println!("\n| console, {WIDTH}x{HEIGHT} | {} | growth |", head.join(" | "));
    println!("|---|{}---|", "---:|".repeat(sizes.len()));
    for (i, (row, _)) in first.iter().enumerate() {
        let cells: Vec<String> = all.iter().map(|f| format!("{:.3}", f[i].1)).collect();
        println!("| {row} | {} | {:.2}× |", cells.join(" | "), last[i].1 / first[i].1);
    }
}

fn scale_one(n: usize) -> Figures {
    let before = rss_kb();
    let snapshot = fixture::big_snapshot(n);
    let mut app = fixture::app(snapshot, WIDTH, HEIGHT);
    let model_kb = rss_kb().saturating_sub(before);
    app.update(Action::Down); // the `farm` group
    app.update(Action::FocusNext);
    let mut terminal = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).expect("a test terminal");
    let mut frames = Vec::with_capacity(SCALE_ROUNDS);
    let mut events = Vec::with_capacity(SCALE_ROUNDS);
    let mut after = Vec::with_capacity(SCALE_ROUNDS);
    let mut row = app.snapshot().and_then(|s| s.processes.iter().find(|p| p.group == "farm")).cloned();
    for i in 0..WARMUP + SCALE_ROUNDS {
        let start = Instant::now();
        terminal.draw(|frame| ui::draw(frame, black_box(&app))).expect("a frame");
        let drawn = Instant::now();
        // A respawn of a process far down the list: its new pid and count.
        let Some(p) = row.as_mut() else { break };
        p.tag = format!("worker{:04}", (i * 7919) % n);
        p.pid = Some(20_000 + i as u32);
        p.respawns += 1;
        p.state = ProcessState::Running;
        let seq = app.snapshot().map_or(0, |s| s.seq) + 1;
        let update = Update { seq, event: Event::Process(p.clone()) };
        let folded = Instant::now();
        app.update(Action::Client(ClientEvent::Update(Box::new(update))));
        let applied = Instant::now();
        terminal.draw(|frame| ui::draw(frame, black_box(&app))).expect("a frame");
        let end = Instant::now();
        if i >= WARMUP {
            frames.push(drawn - start);
            events.push(applied - folded);
            after.push(end - applied);
        }
    }
    let ms = |v: &mut Vec<Duration>| {
        v.sort_unstable();
        percentile(v, 0.5).as_secs_f64() * 1000.0
    };
    let figures = vec![
        ("one frame (median), ms", ms(&mut frames)),
        ("one live event folded in (median), ms", ms(&mut events)),
        ("frame after the event (median), ms", ms(&mut after)),
        ("console model, MB", model_kb as f64 / 1024.0),
    ];
    for (row, v) in &figures {
        println!("{n:>6} processes: {row}: {v:.3}");
    }
    figures
}

/// The bench's resident set, from /proc.
fn rss_kb() -> u64 {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(what: &str, times: &mut [Duration]) {
    times.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{what} {WIDTH}x{HEIGHT}, 1000 processes, {} frames: median {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        times.len(),
        ms(percentile(times, 0.5)),
        ms(percentile(times, 0.99)),
        ms(times[times.len() - 1]),
    );
}
