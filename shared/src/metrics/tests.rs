use super::*;
use crate::config::Mode;
use crate::protocol::{DaemonInfo, GroupStatus, ProcessState, ProcessStatus};

fn process(group: &str, tag: &str) -> ProcessStatus {
    ProcessStatus {
        group: group.into(),
        tag: tag.into(),
        mode: Mode::Respawn,
        levels: "run".into(),
        command: "true".into(),
        state: ProcessState::NotStarted,
        pid: None,
        started_at_ms: None,
        respawns: 0,
        last_exit: None,
        recent_exits: vec![],
        backoff_until_ms: None,
        start_error: None,
        in_file: true,
        ready: false,
        status_text: None,
        health: None,
        health_reason: None,
        listen: Vec::new(),
    }
}

fn snapshot() -> Snapshot {
    let running = ProcessStatus {
        state: ProcessState::Running,
        pid: Some(4321),
        started_at_ms: Some(1_700_000_000_005),
        respawns: 3,
        last_exit: Some(ExitStatus::Code(2)),
        ready: true,
        ..process("mail", "mta")
    };
    let throttled = ProcessStatus {
        state: ProcessState::Backoff,
        backoff_until_ms: Some(1_700_000_060_000),
        last_exit: Some(ExitStatus::Signal(9)),
        ..process("mail", "q\"uo\\te")
    };
    Snapshot {
        daemon: DaemonInfo {
            version: "0.1.0".into(),
            started_at_ms: 1_699_999_999_999,
            tells_total: 4,
            clients_connected: 1,
            ..Default::default()
        },
        groups: vec![
            GroupStatus {
                name: "mail".into(),
                level: Some("run".into()),
                state: GroupState::Done,
                since_ms: 0,
                levels: vec!["run".into()],
                in_file: true,
                owner: None,
            },
            GroupStatus {
                name: "web".into(),
                level: None,
                state: GroupState::Configured,
                since_ms: 0,
                levels: vec![],
                in_file: true,
                owner: None,
            },
        ],
        processes: vec![running, throttled, process("web", "httpd")],
        ..Default::default()
    }
}

fn samples<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} "))).collect()
}

#[test]
fn daemon_metrics() {
    let text = render(&snapshot());
    assert_eq!(samples(&text, "isinit_build_info"), ["isinit_build_info{version=\"0.1.0\"} 1"]);
    assert_eq!(samples(&text, "isinit_start_time_seconds"), ["isinit_start_time_seconds 1699999999.999"]);
    assert_eq!(samples(&text, "isinit_tells_total"), ["isinit_tells_total 4"]);
    assert_eq!(samples(&text, "isinit_clients_connected"), ["isinit_clients_connected 1"]);
}

#[test]
fn every_family_has_help_and_type_before_its_samples() {
    let text = render(&snapshot());
    let mut declared = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            declared.push(rest.split(' ').next().unwrap().to_string());
        } else if !line.starts_with('#') {
            let name = line.split(['{', ' ']).next().unwrap();
            assert_eq!(declared.last().map(String::as_str), Some(name), "sample before its TYPE: {line}");
        }
    }
    assert_eq!(text.matches("# HELP ").count(), declared.len());
}

#[test]
fn a_group_has_one_state_series_per_state_and_only_the_current_is_1() {
    let text = render(&snapshot());
    let mail =
        samples(&text, "isinit_group_state").into_iter().filter(|l| l.contains("group=\"mail\"")).collect::<Vec<_>>();
    assert_eq!(mail.len(), STATES.len());
    assert_eq!(
        mail.iter().filter(|l| l.ends_with(" 1")).collect::<Vec<_>>(),
        [&"isinit_group_state{group=\"mail\",state=\"DONE\"} 1"]
    );
    assert_eq!(samples(&text, "isinit_group_level_info"), ["isinit_group_level_info{group=\"mail\",level=\"run\"} 1"]);
}

#[test]
fn process_metrics() {
    let text = render(&snapshot());
    assert_eq!(
        samples(&text, "isinit_process_up"),
        [
            "isinit_process_up{group=\"mail\",tag=\"mta\"} 1",
            "isinit_process_up{group=\"mail\",tag=\"q\\\"uo\\\\te\"} 0",
            "isinit_process_up{group=\"web\",tag=\"httpd\"} 0",
        ]
    );
    assert_eq!(samples(&text, "isinit_process_ready").len(), 3);
    assert!(text.contains("isinit_process_ready{group=\"mail\",tag=\"mta\"} 1\n"));
    assert!(text.contains("isinit_process_restarts_total{group=\"mail\",tag=\"mta\"} 3\n"));
    assert_eq!(
        samples(&text, "isinit_process_last_exit_code"),
        ["isinit_process_last_exit_code{group=\"mail\",tag=\"mta\"} 2"]
    );
    assert_eq!(
        samples(&text, "isinit_process_last_exit_signal"),
        ["isinit_process_last_exit_signal{group=\"mail\",tag=\"q\\\"uo\\\\te\"} 9"]
    );
    assert_eq!(
        samples(&text, "isinit_process_start_time_seconds"),
        ["isinit_process_start_time_seconds{group=\"mail\",tag=\"mta\"} 1700000000.005"]
    );
    assert_eq!(
        samples(&text, "isinit_process_backoff_until_seconds"),
        [
            "isinit_process_backoff_until_seconds{group=\"mail\",tag=\"mta\"} 0",
            "isinit_process_backoff_until_seconds{group=\"mail\",tag=\"q\\\"uo\\\\te\"} 1700000060.000",
            "isinit_process_backoff_until_seconds{group=\"web\",tag=\"httpd\"} 0",
        ]
    );
}

#[test]
fn an_oom_kill_is_a_sigkill_and_says_so() {
    let mut snap = snapshot();
    let httpd = snap.processes.iter_mut().find(|p| p.tag == "httpd").expect("httpd");
    httpd.last_exit = Some(ExitStatus::OomKilled);
    let text = render(&snap);
    assert!(text.contains("isinit_process_last_exit_signal{group=\"web\",tag=\"httpd\"} 9\n"), "{text}");
    assert_eq!(
        samples(&text, "isinit_process_last_exit_oom_killed"),
        [
            "isinit_process_last_exit_oom_killed{group=\"mail\",tag=\"mta\"} 0",
            "isinit_process_last_exit_oom_killed{group=\"mail\",tag=\"q\\\"uo\\\\te\"} 0",
            "isinit_process_last_exit_oom_killed{group=\"web\",tag=\"httpd\"} 1",
        ]
    );
}

#[test]
fn a_tag_listed_twice_makes_one_series() {
    let mut snap = snapshot();
    snap.processes.push(ProcessStatus { in_file: false, ..process("web", "httpd") });
    assert_eq!(samples(&render(&snap), "isinit_process_up").len(), 3);
}

#[test]
fn label_values_and_help_are_escaped() {
    assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    let mut m = Exposition::default();
    m.family("x", "gauge", "back\\slash\nnewline");
    assert_eq!(m.out, "# HELP x back\\\\slash\\nnewline\n# TYPE x gauge\n");
}

#[test]
fn usage_rows_become_cpu_and_memory_series_of_known_entries() {
    let snap = snapshot();
    let row = |tag: &str, ms: u64, bytes: u64| crate::protocol::ProcessUsage {
        tag: tag.to_string(),
        processes: 2,
        cpu_time_ms: ms,
        cpu_percent: None,
        rss_bytes: bytes,
    };
    let text = render_usage(&snap, &[row("mta", 1500, 4096), row("q\"uo\\te", 500, 1024), row("gone", 1, 1)]);
    assert_eq!(
        samples(&text, "isinit_process_cpu_seconds_total"),
        [
            "isinit_process_cpu_seconds_total{group=\"mail\",tag=\"mta\"} 1.500",
            "isinit_process_cpu_seconds_total{group=\"mail\",tag=\"q\\\"uo\\\\te\"} 0.500",
        ]
    );
    assert_eq!(
        samples(&text, "isinit_process_memory_bytes")[0],
        "isinit_process_memory_bytes{group=\"mail\",tag=\"mta\"} 4096"
    );
    // Per group: the sum of its entries; `web` runs nothing.
    assert_eq!(samples(&text, "isinit_group_cpu_seconds"), ["isinit_group_cpu_seconds{group=\"mail\"} 2.000"]);
    assert_eq!(samples(&text, "isinit_group_memory_bytes"), ["isinit_group_memory_bytes{group=\"mail\"} 5120"]);
}

#[test]
fn health_is_a_sample_only_once_a_probe_has_said_something() {
    use crate::protocol::Health;
    let mut snap = snapshot();
    snap.processes[0].health = Some(Health::Healthy);
    snap.processes[1].health = Some(Health::Unhealthy);
    snap.processes[2].health = Some(Health::NotProbed);
    let text = render(&snap);
    assert_eq!(
        samples(&text, "isinit_process_healthy"),
        [
            "isinit_process_healthy{group=\"mail\",tag=\"mta\"} 1",
            "isinit_process_healthy{group=\"mail\",tag=\"q\\\"uo\\\\te\"} 0"
        ]
    );
    assert!(text.contains("# TYPE isinit_process_healthy gauge\n"));
}
