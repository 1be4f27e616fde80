//! How long a fleet screen frame takes with 20 hosts of 50 groups each.
//!
//! `cargo bench -p isinit-tui --bench fleet` feeds twenty host models a
//! 50-group snapshot each (every fifth host on another isinittab, one
//! host lost), then times frames on a 360×60 `TestBackend` — wide enough
//! for all twenty matrix columns — while the selection moves (one key per
//! frame), and prints the median and 99th percentile against a 5 ms budget.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use isinit_client::transport::Dest;
use isinit_shared::protocol::{GroupState, GroupStatus};
use isinit_tui::client::ClientEvent;
use isinit_tui::clock::TimeZone;
use isinit_tui::fixture;
use isinit_tui::fleet::{Fleet, view};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::hint::black_box;
use std::time::{Duration, Instant};

const WIDTH: u16 = 360;
const HEIGHT: u16 = 60;
const HOSTS: usize = 20;
const GROUPS: usize = 50;
const FRAMES: usize = 2000;
const WARMUP: usize = 100;
const BUDGET: Duration = Duration::from_millis(5);

fn main() {
    let dests: Vec<Dest> = (1..=HOSTS).map(|i| Dest::new(&format!("node{i:02}.example.org")).unwrap()).collect();
    let mut fleet = Fleet::new(&dests, TimeZone::Utc);
    let states = [GroupState::Done, GroupState::Starting, GroupState::Failed, GroupState::Configured];
    for host in 0..HOSTS {
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
    fleet.on_client_event(HOSTS - 1, ClientEvent::Disconnected { at_ms: 0, reason: "Connection refused".into() });
    let mut terminal = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).expect("a test terminal");

    let mut times = Vec::with_capacity(FRAMES);
    for i in 0..WARMUP + FRAMES {
        let code = if (i / (HOSTS - 1)).is_multiple_of(2) { KeyCode::Down } else { KeyCode::Up };
        let start = Instant::now();
        fleet.on_key(KeyEvent::new(code, KeyModifiers::NONE));
        terminal.draw(|frame| view::draw(frame, black_box(&fleet))).expect("a frame");
        if i >= WARMUP {
            times.push(start.elapsed());
        }
    }
    times.sort_unstable();
    let at = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "fleet key + draw {WIDTH}x{HEIGHT}, {HOSTS} hosts x {GROUPS} groups, {} frames: median {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        times.len(),
        ms(at(0.5)),
        ms(at(0.99)),
        ms(times[times.len() - 1]),
    );
    if at(0.99) > BUDGET {
        println!("OVER BUDGET: p99 {:?} > {BUDGET:?}", at(0.99));
    }
}
