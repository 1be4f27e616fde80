//! The hosts' pulses (SPEC §19, `pulses.rs`): sampled only while open,
//! one usage request per host per tick, noisiest host first; and an
//! off-screen host whose usage request was held back asks again once it
//! is opened.

use super::tests_scale::{fleet, press, screen};
use super::*;
use crate::fixture;
use crossterm::event::KeyCode;
use isinit_shared::protocol::ProcessUsage;

fn usage_asked(commands: &[(usize, Command)]) -> Vec<usize> {
    commands.iter().filter(|(_, c)| *c == Command::Usage).map(|(i, _)| *i).collect()
}

fn sample(cpu: f64) -> ClientEvent {
    let row =
        ProcessUsage { tag: "mta".into(), processes: 1, cpu_time_ms: 1, cpu_percent: Some(cpu), rss_bytes: 1 << 20 };
    ClientEvent::Reply(Reply::Usage(Ok(vec![row])))
}

#[test]
fn pulses_sample_every_host_only_while_open_and_show_the_noisiest_first() {
    let mut f = fleet(3, 120, 30);
    f.tick();
    assert!(usage_asked(&f.take_commands()).is_empty(), "the fleet screen samples nothing");
    assert!(!f.wants_tick(), "and needs no tick");

    press(&mut f, KeyCode::Char('P'));
    assert_eq!(usage_asked(&f.take_commands()), [0, 1, 2], "one request per host");
    assert!(f.wants_tick());
    for (host, cpu) in [(0, 1.0), (1, 75.0), (2, 5.0)] {
        f.on_client_event(host, sample(cpu));
    }
    let text = screen(&f);
    let rows: Vec<&str> = text.lines().filter(|l| l.contains("web")).filter(|l| l.contains("1.0M")).collect();
    let order: Vec<&str> = rows.iter().filter_map(|l| l[l.find("web")?..].split_whitespace().next()).collect();
    assert_eq!(order, ["web2", "web3", "web1"], "noisiest first:\n{text}");
    assert!(text.contains("75"), "web2's CPU is shown:\n{text}");

    press(&mut f, KeyCode::Esc);
    assert!(!f.pulses_open());
    f.tick();
    assert!(usage_asked(&f.take_commands()).is_empty(), "closed: nothing is sampled");
}

#[test]
fn a_host_whose_usage_request_was_held_back_asks_again_when_opened() {
    let mut f = fleet(2, 120, 30);
    // Host 1's model asks for usage while it is off screen (its
    // processes are running); the fleet holds the request back.
    f.on_client_event(1, ClientEvent::Snapshot(Box::new(fixture::snapshot())));
    f.tick();
    assert!(!usage_asked(&f.take_commands()).contains(&1));
    f.open(1);
    f.tick();
    assert_eq!(usage_asked(&f.take_commands()), [1], "opened, it samples (the held-back request was forgotten)");
}
