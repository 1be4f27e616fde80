use super::*;
use isinit_shared::protocol::{GroupStatus, ProcessStatus};

fn names(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("web{i:02}")).collect()
}

#[test]
fn batch_sizes_parse_and_plan_waves() {
    assert_eq!("3".parse(), Ok(Batch::Hosts(3)));
    assert_eq!(" 25% ".parse(), Ok(Batch::Percent(25)));
    for bad in ["0", "0%", "101%", "-1", "x", "%", "2.5", ""] {
        assert!(bad.parse::<Batch>().is_err(), "{bad}");
    }
    assert_eq!(Batch::Hosts(4).size(10), 4);
    assert_eq!(Batch::Hosts(40).size(10), 10, "never more than all");
    assert_eq!(Batch::Percent(25).size(12), 3);
    assert_eq!(Batch::Percent(25).size(10), 2, "rounded down");
    assert_eq!(Batch::Percent(10).size(3), 1, "at least one");
    assert_eq!(Batch::Percent(100).size(7), 7);
    let w = waves(&names(5), Batch::Hosts(2));
    assert_eq!(w, [names(5)[0..2].to_vec(), names(5)[2..4].to_vec(), names(5)[4..].to_vec()]);
    assert_eq!(waves(&names(4), Batch::Percent(50)).len(), 2);
    assert!(waves(&[], Batch::Hosts(3)).is_empty());
}

#[test]
fn the_stop_rule_counts_failures_over_waves() {
    assert!(!must_stop(0, 0));
    assert!(must_stop(1, 0));
    assert!(!must_stop(2, 2));
    assert!(must_stop(3, 2));
}

#[test]
fn report_lines() {
    let hosts = vec!["web05".to_string(), "web06".to_string()];
    assert_eq!(wave_line(3, 6, &hosts, &[]), "wave 3/6 web[05-06]: ok");
    let failed = vec![("web05".to_string(), "FAILED".to_string())];
    assert_eq!(wave_line(3, 6, &hosts, &failed), "wave 3/6 web[05-06]: failed web05 (FAILED)");
    let tally = Tally {
        rolled: names(4),
        failed: vec!["web05".into()],
        reverted: vec![],
        not_told: (7..=12).map(|i| format!("web{i:02}")).collect(),
    };
    assert_eq!(tally.line(), "rolled web[01-04] (4); failed web05 (1); not told web[07-12] (6)");
    assert_eq!(Tally::default().line(), "no hosts");
}

fn group(level: Option<&str>, state: GroupState) -> GroupStatus {
    GroupStatus {
        name: "web".into(),
        level: level.map(Into::into),
        state,
        since_ms: 0,
        levels: vec!["1".into(), "2".into()],
        in_file: true,
        owner: None,
    }
}

fn process(tag: &str, mode: Mode, levels: &str, state: ProcessState, pid: Option<u32>) -> ProcessStatus {
    ProcessStatus {
        group: "web".into(),
        tag: tag.into(),
        mode,
        levels: levels.into(),
        command: "true".into(),
        state,
        pid,
        started_at_ms: pid.map(u64::from),
        respawns: 0,
        last_exit: None,
        recent_exits: vec![],
        backoff_until_ms: None,
        start_error: None,
        in_file: true,
        ready: pid.is_some(),
        status_text: None,
        health: None,
        health_reason: None,
        listen: Vec::new(),
    }
}

fn snap(g: GroupStatus, processes: Vec<ProcessStatus>) -> Snapshot {
    Snapshot { groups: vec![g], processes, ..Snapshot::default() }
}

#[test]
fn judging_a_host() {
    let running = |pid| process("srv", Mode::Respawn, "2", ProcessState::Running, Some(pid));
    let other_level = process("old", Mode::Respawn, "1", ProcessState::Exited, None);
    let s = snap(group(Some("2"), GroupState::Done), vec![running(7), other_level.clone()]);
    assert_eq!(judge(&s, "web", "2"), Judgement::Settled(vec![("srv".into(), 7, 7)]));
    assert!(matches!(judge(&s, "nope", "2"), Judgement::Failed(_)));
    let s = snap(group(Some("1"), GroupState::Done), vec![]);
    assert!(matches!(judge(&s, "web", "2"), Judgement::Pending(_)));
    let s = snap(group(Some("2"), GroupState::Starting), vec![]);
    assert_eq!(judge(&s, "web", "2"), Judgement::Pending("STARTING".into()));
    let s = snap(group(Some("2"), GroupState::Failed), vec![]);
    assert_eq!(judge(&s, "web", "2"), Judgement::Failed("FAILED".into()));
    let backoff = process("srv", Mode::Respawn, "2", ProcessState::Backoff, None);
    let s = snap(group(Some("2"), GroupState::Done), vec![backoff]);
    assert_eq!(judge(&s, "web", "2"), Judgement::Failed("srv backoff".into()));
    let between = process("srv", Mode::Respawn, "2", ProcessState::Exited, None);
    let s = snap(group(Some("2"), GroupState::Done), vec![between]);
    assert!(matches!(judge(&s, "web", "2"), Judgement::Pending(_)));
    let s = snap(group(Some("2"), GroupState::Passed), vec![]);
    assert_eq!(judge(&s, "web", "2"), Judgement::Settled(vec![]));
}

#[test]
fn the_gate_needs_healthy_for_without_a_restart() {
    let t0 = Instant::now();
    let secs = |s: u64| t0 + Duration::from_secs(s);
    let mut gate = Gate::new(Duration::from_secs(5));
    let stamp = |pid: u32| Judgement::Settled(vec![("srv".into(), pid, u64::from(pid))]);
    assert_eq!(gate.observe(stamp(1), t0), GateState::Waiting(Some(secs(5)), "healthy for 0.0 s".into()));
    assert!(matches!(gate.observe(stamp(1), secs(3)), GateState::Waiting(Some(t), _) if t == secs(5)));
    // A restart at 4 s: the five seconds start again.
    assert!(matches!(gate.observe(stamp(2), secs(4)), GateState::Waiting(Some(t), _) if t == secs(9)));
    assert!(matches!(gate.check(secs(8)), GateState::Waiting(..)));
    assert_eq!(gate.check(secs(9)), GateState::Healthy);
    assert!(matches!(gate.observe(Judgement::Pending("x".into()), secs(10)), GateState::Waiting(None, _)));
    assert_eq!(gate.observe(Judgement::Failed("FAILED".into()), secs(11)), GateState::Failed("FAILED".into()));
    // Nothing to wait for: healthy at once with --healthy-for 0.
    assert_eq!(Gate::new(Duration::ZERO).observe(Judgement::Settled(vec![]), t0), GateState::Healthy);
}
