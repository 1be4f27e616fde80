//! How long a frame takes with a thousand processes in one group.
//!
//! `cargo bench -p isinit-tui` renders the 1,000-process fixture on a
//! 200×60 `TestBackend` while scrolling through the group (one key press
//! per frame, as an operator holding ↓ would), and prints the median and
//! 99th percentile time per frame — key handling plus the full draw and
//! diff — against a 5 ms budget. No benchmark crate: `Instant` is enough
//! for numbers this coarse.

use isinit_tui::app::Action;
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
