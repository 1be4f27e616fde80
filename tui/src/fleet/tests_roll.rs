//! The rolling switch on the fleet screen (SPEC §16): the form over the
//! hosts shown, `:roll` filling it in, the live progress, `S`, and the
//! finished panel — driven by hand-made driver events, without a network.

use super::roll::RollMessage;
use super::tests_scale::{fleet, press, screen, typed};
use super::*;
use crossterm::event::KeyCode;
use isinit_client::fleet::rollout::Batch;
use isinit_client::fleet::rollout::Tally;
use isinit_client::fleet::rollout::drive::{Event, HostStep, Outcome};
use std::sync::atomic::Ordering;

#[test]
fn the_rollout_form_rolls_the_hosts_shown() {
    let mut f = fleet(12, 120, 36);
    press(&mut f, KeyCode::Char('/'));
    typed(&mut f, "web[1-8]");
    press(&mut f, KeyCode::Enter);
    press(&mut f, KeyCode::Char('s'));
    press(&mut f, KeyCode::Char('R'));
    let form = f.form().expect("the form");
    assert_eq!((form.set.as_str(), form.hosts.len()), ("web[1-8]", 8));
    let groups = form.groups.clone();
    assert!(groups.contains(&"web".to_string()), "{groups:?}");
    while f.form().is_some_and(|form| form.groups[form.group] != "web") {
        press(&mut f, KeyCode::Right);
    }
    press(&mut f, KeyCode::Tab);
    assert_eq!(
        f.form().map(|form| form.levels.clone()),
        Some(vec!["1", "2", "3", "123", "0"].into_iter().map(String::from).collect())
    );
    press(&mut f, KeyCode::Right);
    press(&mut f, KeyCode::Right);
    press(&mut f, KeyCode::Tab);
    press(&mut f, KeyCode::Backspace);
    typed(&mut f, "25%");
    press(&mut f, KeyCode::Tab);
    press(&mut f, KeyCode::Backspace);
    typed(&mut f, "2");
    insta::assert_snapshot!("rollout_form", screen(&f));
    press(&mut f, KeyCode::Enter);
    assert!(f.form().is_none());
    let start = f.take_start().expect("a rollout to run");
    assert_eq!((start.plan.group.as_str(), start.plan.level.as_str()), ("web", "3"));
    assert_eq!(start.plan.batch, Batch::Percent(25));
    assert_eq!(start.plan.healthy_for, std::time::Duration::from_secs(2));
    let hosts: Vec<&str> = start.hosts.iter().map(|d| d.as_str()).collect();
    assert_eq!(hosts, ["web1", "web2", "web3", "web4", "web5", "web6", "web7", "web8"], "as given, not as sorted");
    // A bad batch is refused in the form.
    press(&mut f, KeyCode::Esc);
    f.rollout = None;
    press(&mut f, KeyCode::Char('R'));
    press(&mut f, KeyCode::Tab);
    press(&mut f, KeyCode::Tab);
    press(&mut f, KeyCode::Backspace);
    typed(&mut f, "0");
    press(&mut f, KeyCode::Enter);
    assert!(f.form().and_then(|form| form.error.clone()).is_some_and(|e| e.contains("not a batch size")));
    assert!(f.take_start().is_none());
}

#[test]
fn palette_roll_fills_the_form_in() {
    let mut f = fleet(12, 120, 36);
    press(&mut f, KeyCode::Char(':'));
    typed(&mut f, "roll w");
    press(&mut f, KeyCode::Tab);
    typed(&mut f, "1");
    press(&mut f, KeyCode::Tab);
    assert_eq!(
        f.palette().map(|p| p.candidates.clone()),
        Some(vec!["1".to_string(), "123".to_string()]),
        "web's levels"
    );
    typed(&mut f, "23 4");
    press(&mut f, KeyCode::Enter);
    let form = f.form().expect("the form, filled in");
    assert_eq!(
        (form.groups[form.group].as_str(), form.levels[form.level].as_str(), form.batch.as_str()),
        ("web", "123", "4")
    );
    assert_eq!(form.hosts.len(), 12);
    press(&mut f, KeyCode::Enter);
    let start = f.take_start().expect("started");
    assert_eq!((start.plan.level.as_str(), start.plan.batch), ("123", Batch::Hosts(4)));
    assert!(screen(&f).contains("Rollout web → 123 · 12 hosts · waves of 4"));
    // A level the group does not have is said, not guessed.
    f.on_rollout(RollMessage::Done(Outcome { tally: Tally::default(), success: true, interrupted: false }));
    press(&mut f, KeyCode::Char(':'));
    typed(&mut f, "roll web 9");
    press(&mut f, KeyCode::Enter);
    assert_eq!(f.form().and_then(|form| form.error.clone()).as_deref(), Some("web has no level 9"));
}

#[test]
fn the_rollout_progress_shows_waves_hosts_and_the_final_line() {
    let mut f = fleet(40, 120, 36);
    press(&mut f, KeyCode::Char('R'));
    while f.form().is_some_and(|form| form.groups[form.group] != "web") {
        press(&mut f, KeyCode::Right);
    }
    press(&mut f, KeyCode::Tab);
    press(&mut f, KeyCode::Tab);
    press(&mut f, KeyCode::Backspace);
    typed(&mut f, "10");
    press(&mut f, KeyCode::Enter);
    let start = f.take_start().expect("started");
    let wave = |n: usize| (10 * n - 9..=10 * n).map(|i| format!("web{i}")).collect::<Vec<_>>();
    let event = |f: &mut Fleet, e: Event| f.on_rollout(RollMessage::Event(e));
    event(&mut f, Event::Wave { n: 1, of: 4, hosts: wave(1) });
    for host in wave(1) {
        event(&mut f, Event::Host { host, step: HostStep::Healthy });
    }
    event(&mut f, Event::WaveDone("wave 1/4 web[1-10]: ok".into()));
    event(&mut f, Event::Wave { n: 2, of: 4, hosts: wave(2) });
    event(&mut f, Event::Host { host: "web11".into(), step: HostStep::Healthy });
    event(&mut f, Event::Host { host: "web12".into(), step: HostStep::Settling });
    event(&mut f, Event::Host { host: "web13".into(), step: HostStep::Failed("FAILED".into()) });
    event(&mut f, Event::Host { host: "web14".into(), step: HostStep::Waiting("STARTING".into()) });
    let text = screen(&f);
    assert!(text.contains("Rollout web → 1 · 40 hosts · waves of 10"), "{text}");
    assert!(text.contains("wave 2/4 web[11-20]") && text.contains("running"), "{text}");
    assert!(
        text.contains("✓ web11 healthy")
            && text.contains("… web12 up, settling")
            && text.contains("✕ web13 FAILED")
            && text.contains("… web14 STARTING"),
        "{text}"
    );
    assert!(text.contains("wave 1/4 web[1-10]: ok"), "{text}");
    insta::assert_snapshot!("rollout_progress", text);
    // q asks again while it runs.
    press(&mut f, KeyCode::Char('q'));
    assert!(f.is_running());
    assert!(screen(&f).contains("a rollout is running: q again quits now"));
    // S: stop after this wave.
    press(&mut f, KeyCode::Char('S'));
    assert!(start.stop.load(Ordering::SeqCst));
    assert!(screen(&f).contains("stopping after this wave"));
    event(&mut f, Event::WaveDone("wave 2/4 web[11-20]: failed web13 (FAILED)".into()));
    let tally = Tally {
        rolled: (1..=20).filter(|i| *i != 13).map(|i| format!("web{i}")).collect(),
        failed: vec!["web13".into()],
        reverted: Vec::new(),
        not_told: (21..=40).map(|i| format!("web{i}")).collect(),
    };
    f.on_rollout(RollMessage::Done(Outcome { tally, success: false, interrupted: true }));
    let text = screen(&f);
    assert!(text.contains("wave 1/4 web[1-10]: ok"), "every wave line stays: {text}");
    assert!(text.contains("wave 2/4 web[11-20]: failed web13 (FAILED)"), "{text}");
    assert!(text.contains("stopped after the current wave"), "{text}");
    assert!(text.contains("rolled web[1-12,14-20] (19); failed web13 (1); not told web[21-40] (20)"), "{text}");
    // Esc gives the matrix back once it is done.
    press(&mut f, KeyCode::Esc);
    assert!(f.rollout().is_none());
    assert!(screen(&f).contains("Groups × hosts"));
}

#[test]
fn a_finished_rollout_keeps_every_wave_line_and_the_matrix_below() {
    let mut f = fleet(12, 120, 40);
    press(&mut f, KeyCode::Char(':'));
    typed(&mut f, "roll web 2 4");
    press(&mut f, KeyCode::Enter);
    press(&mut f, KeyCode::Enter);
    assert!(f.take_start().is_some());
    for n in 1..=3 {
        let hosts: Vec<String> = (4 * n - 3..=4 * n).map(|i| format!("web{i}")).collect();
        f.on_rollout(RollMessage::Event(Event::Wave { n, of: 3, hosts: hosts.clone() }));
        for host in hosts {
            f.on_rollout(RollMessage::Event(Event::Host { host, step: HostStep::Healthy }));
        }
        f.on_rollout(RollMessage::Event(Event::WaveDone(format!("wave {n}/3 web[{}-{}]: ok", 4 * n - 3, 4 * n))));
    }
    let tally = Tally { rolled: (1..=12).map(|i| format!("web{i}")).collect(), ..Tally::default() };
    f.on_rollout(RollMessage::Done(Outcome { tally, success: true, interrupted: false }));
    let text = screen(&f);
    for line in ["wave 1/3 web[1-4]: ok", "wave 2/3 web[5-8]: ok", "wave 3/3 web[9-12]: ok", "rolled web[1-12] (12)"] {
        assert!(text.contains(line), "{line}:\n{text}");
    }
    assert!(text.contains("done") && text.contains("rolled 12 · failed 0 · not told 0"), "{text}");
    assert!(text.contains("Groups × hosts"), "the matrix keeps the rest:\n{text}");
}
