//! How the command line prints what the daemon answers. Pure functions, so
//! the output format is pinned by unit tests.

use isinit_shared::config::Mode;
use isinit_shared::protocol::{GroupStatus, Plan, ProcessStatus, ProcessUsage, Snapshot, usage_by_group};
use std::fmt::Write;

/// `GROUP LEVEL STATE`, the status file's format; a group a cluster
/// manager owns (SPEC §18) adds `owner=pacemaker:RESOURCE@NODE`.
pub fn group_line(g: &GroupStatus) -> String {
    let line = format!("{} {} {}", g.name, g.level.as_deref().unwrap_or("-"), g.state);
    match &g.owner {
        Some(owner) => format!("{line} owner={owner}"),
        None => line,
    }
}

/// One indented line per process under `status GROUP`. A `notify` entry
/// says whether it is ready, and the last `STATUS=` text it reported; an
/// entry with a `:::probe:` its health and the last failed check's reason.
pub fn process_line(p: &ProcessStatus) -> String {
    let mut line = format!("  {} {} {}", p.tag, p.mode, p.state.as_str().replace(' ', "_"));
    if p.mode == Mode::Notify && p.pid.is_some() {
        line.push_str(if p.ready { " ready" } else { " not_ready" });
    }
    if let Some(health) = p.health {
        let _ = write!(line, " {}", health.as_str().replace(' ', "_"));
    }
    if let Some(pid) = p.pid {
        let _ = write!(line, " pid={pid}");
    }
    let _ = write!(line, " respawns={}", p.respawns);
    if let Some(exit) = p.last_exit {
        let _ = write!(line, " last={}", exit.to_string().replace(' ', "_"));
    }
    if let Some(e) = &p.start_error {
        let _ = write!(line, " error={e:?}");
    }
    if let Some(text) = &p.status_text {
        let _ = write!(line, " status={text:?}");
    }
    if let Some(reason) = &p.health_reason {
        let _ = write!(line, " probe={reason:?}");
    }
    if let Some(reason) = p.recent_exits.last().and_then(|e| e.reason) {
        let _ = write!(line, " stopped_for={:?}", reason.as_str());
    }
    line
}

/// The plan of `tell --dry-run`.
pub fn plan(p: &Plan) -> String {
    let list = |tags: &[String]| if tags.is_empty() { "-".to_string() } else { tags.join(" ") };
    format!(
        "tell {} {} would:\n  stop:  {}\n  keep:  {}\n  start: {}\n  done:  {}\n",
        p.group,
        p.level,
        list(&p.stop),
        list(&p.keep),
        list(&p.start),
        list(&p.done)
    )
}

/// `GROUP LEVEL STATE` lines, with processes under `status GROUP`.
pub fn status_text(snap: &Snapshot, with_processes: bool) -> String {
    let mut out = String::new();
    for g in &snap.groups {
        out.push_str(&group_line(g));
        out.push('\n');
        if with_processes {
            for p in snap.processes_of(&g.name) {
                out.push_str(&process_line(p));
                out.push('\n');
            }
        }
    }
    out
}

/// `status --json`: the snapshot, each process with its `usage` (CPU
/// time, CPU % since the previous sample or null, RSS, live processes in
/// its groups) or `null` when nothing of it runs, and each group with the
/// sum of its entries' (`null` when none of them runs).
pub fn json_with_usage(snap: &Snapshot, usage: &[ProcessUsage]) -> serde_json::Result<String> {
    let mut value = serde_json::to_value(snap)?;
    let by_group = usage_by_group(&snap.processes, usage);
    if let Some(rows) = value.get_mut("groups").and_then(|g| g.as_array_mut()) {
        for row in rows {
            let name = row.get("name").and_then(|n| n.as_str()).unwrap_or_default();
            let u = by_group.get(name).map_or(Ok(serde_json::Value::Null), serde_json::to_value)?;
            if let Some(obj) = row.as_object_mut() {
                obj.insert("usage".into(), u);
            }
        }
    }
    if let Some(rows) = value.get_mut("processes").and_then(|p| p.as_array_mut()) {
        for row in rows {
            let tag = row.get("tag").and_then(|t| t.as_str()).unwrap_or_default().to_string();
            let u = usage.iter().find(|u| u.tag == tag);
            if let Some(obj) = row.as_object_mut() {
                obj.insert("usage".into(), u.map_or(Ok(serde_json::Value::Null), serde_json::to_value)?);
            }
        }
    }
    serde_json::to_string_pretty(&value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use isinit_shared::protocol::{ExitStatus, GroupState, ProcessState};

    #[test]
    fn an_owned_group_names_its_owner() {
        let g = GroupStatus {
            name: "web".into(),
            level: Some("run".into()),
            state: GroupState::Done,
            since_ms: 0,
            levels: vec![],
            in_file: true,
            owner: Some(isinit_shared::protocol::Owner::pacemaker("web", "node3")),
        };
        assert_eq!(group_line(&g), "web run DONE owner=pacemaker:web@node3");
    }

    #[test]
    fn group_lines_use_a_dash_for_never_told() {
        let mut g = GroupStatus {
            name: "mail".into(),
            level: None,
            state: GroupState::Configured,
            since_ms: 0,
            levels: vec![],
            in_file: true,
            owner: None,
        };
        assert_eq!(group_line(&g), "mail - CONFIGURED");
        g.level = Some("run".into());
        g.state = GroupState::Done;
        assert_eq!(group_line(&g), "mail run DONE");
    }

    #[test]
    fn process_lines_are_one_token_per_field() {
        let p = ProcessStatus {
            group: "mail".into(),
            tag: "mta".into(),
            mode: Mode::Respawn,
            levels: "run,runmore".into(),
            command: "sendmail".into(),
            state: ProcessState::NotStarted,
            pid: Some(42),
            started_at_ms: None,
            respawns: 3,
            last_exit: Some(ExitStatus::Signal(9)),
            recent_exits: vec![],
            backoff_until_ms: None,
            start_error: None,
            in_file: true,
            ready: false,
            status_text: None,
            health: None,
            health_reason: None,
            listen: Vec::new(),
        };
        assert_eq!(process_line(&p), "  mta respawn not_started pid=42 respawns=3 last=signal_9");
        let db = ProcessStatus {
            mode: Mode::Notify,
            state: ProcessState::Running,
            status_text: Some("warming up".into()),
            ..p.clone()
        };
        assert_eq!(
            process_line(&db),
            "  mta notify running not_ready pid=42 respawns=3 last=signal_9 status=\"warming up\""
        );
        assert_eq!(
            process_line(&ProcessStatus { ready: true, status_text: None, ..db }).split(' ').nth(5),
            Some("ready")
        );
    }

    #[test]
    fn probed_entries_show_their_health_and_why_they_were_stopped() {
        let p = ProcessStatus {
            group: "web".into(),
            tag: "srv".into(),
            mode: Mode::Respawn,
            levels: "run".into(),
            command: "x".into(),
            state: ProcessState::Running,
            pid: Some(7),
            started_at_ms: None,
            respawns: 1,
            last_exit: Some(ExitStatus::Signal(2)),
            recent_exits: vec![isinit_shared::protocol::ExitRecord {
                at_ms: 1,
                status: ExitStatus::Signal(2),
                ran_ms: 5,
                reason: Some(isinit_shared::protocol::ExitReason::ProbeFailed),
            }],
            backoff_until_ms: None,
            start_error: None,
            in_file: true,
            ready: false,
            status_text: None,
            health: Some(isinit_shared::protocol::Health::NotProbed),
            health_reason: Some("timed out after 0.5s".into()),
            listen: Vec::new(),
        };
        assert_eq!(
            process_line(&p),
            "  srv respawn running not_probed pid=7 respawns=1 last=signal_2 probe=\"timed out after 0.5s\" \
             stopped_for=\"probe failed\""
        );
        let healthy = ProcessStatus { health: Some(isinit_shared::protocol::Health::Healthy), ..p };
        assert_eq!(process_line(&healthy).split(' ').nth(5), Some("healthy"));
    }

    #[test]
    fn plans_list_each_kind() {
        let p = Plan {
            group: "mail".into(),
            level: "run".into(),
            stop: vec!["extra".into()],
            keep: vec!["mta".into()],
            start: vec!["spool".into(), "cf".into()],
            done: vec![],
            error: None,
        };
        assert_eq!(plan(&p), "tell mail run would:\n  stop:  extra\n  keep:  mta\n  start: spool cf\n  done:  -\n");
    }

    #[test]
    fn json_rows_carry_their_usage_or_null() {
        let mut snap = Snapshot::default();
        let p = |tag: &str| ProcessStatus {
            group: "g".into(),
            tag: tag.into(),
            mode: Mode::Respawn,
            levels: "1".into(),
            command: "x".into(),
            state: ProcessState::Running,
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
        };
        snap.processes = vec![p("a"), p("b"), ProcessStatus { group: "h".into(), ..p("c") }];
        snap.groups = ["g", "h", "idle"]
            .map(|name| GroupStatus {
                name: name.into(),
                level: Some("1".into()),
                state: GroupState::Done,
                since_ms: 0,
                levels: vec!["1".into()],
                in_file: true,
                owner: None,
            })
            .to_vec();
        let row = |tag: &str, cpu_percent| ProcessUsage {
            tag: tag.into(),
            processes: 2,
            cpu_time_ms: 1500,
            cpu_percent,
            rss_bytes: 4096,
        };
        let usage = [row("a", Some(12.5)), row("b", None), row("c", None)];
        let json: serde_json::Value = serde_json::from_str(&json_with_usage(&snap, &usage).unwrap()).unwrap();
        let a = &json["processes"][0]["usage"];
        assert_eq!(
            (a["cpu_time_ms"].as_u64(), a["cpu_percent"].as_f64(), a["rss_bytes"].as_u64()),
            (Some(1500), Some(12.5), Some(4096))
        );
        assert_eq!(a["processes"], 2);
        assert_eq!(json["processes"][1]["usage"]["cpu_percent"], serde_json::Value::Null);

        // A group's usage sums its entries'; a rate only where one exists.
        let g = &json["groups"][0]["usage"];
        assert_eq!(
            (g["processes"].as_u64(), g["cpu_time_ms"].as_u64(), g["cpu_percent"].as_f64(), g["rss_bytes"].as_u64()),
            (Some(4), Some(3000), Some(12.5), Some(8192))
        );
        assert_eq!(json["groups"][1]["usage"]["cpu_percent"], serde_json::Value::Null);
        assert_eq!(json["groups"][1]["usage"]["rss_bytes"], 4096);
        assert!(json["groups"][2]["usage"].is_null(), "a group with nothing running");
    }
}
