//! [`Snapshot::apply`] is how every console keeps its view of the daemon in
//! step; a wrong fold shows operators a state the daemon is not in.

use super::*;

fn group(name: &str, state: GroupState) -> GroupStatus {
    GroupStatus {
        name: name.into(),
        level: None,
        state,
        since_ms: 0,
        levels: vec!["run".into()],
        in_file: true,
        owner: None,
    }
}

fn process(group: &str, tag: &str, state: ProcessState) -> ProcessStatus {
    ProcessStatus {
        group: group.into(),
        tag: tag.into(),
        mode: Mode::Respawn,
        levels: "run".into(),
        command: format!("run-{tag}"),
        state,
        pid: None,
        started_at_ms: None,
        respawns: 0,
        last_exit: None,
        recent_exits: Vec::new(),
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

fn audit(i: u64) -> AuditRecord {
    AuditRecord { at_ms: i, uid: 0, pid: None, request: format!("tell g{i} run") }
}

/// Applies `event` as update number `snap.seq + 1` and returns what apply said.
fn apply(snap: &mut Snapshot, event: Event) -> bool {
    let seq = snap.seq + 1;
    let applied = snap.apply(&Update { seq, event });
    assert_eq!(snap.seq, seq, "seq follows the update");
    applied
}

fn group_names(snap: &Snapshot) -> Vec<&str> {
    snap.groups.iter().map(|g| g.name.as_str()).collect()
}

fn tags(snap: &Snapshot) -> Vec<&str> {
    snap.processes.iter().map(|p| p.tag.as_str()).collect()
}

#[test]
fn group_insert_keeps_sorted_order_and_replace_keeps_place() {
    let mut snap = Snapshot {
        groups: vec![group("db", GroupState::Configured), group("mail", GroupState::Done)],
        ..Default::default()
    };
    for name in ["web", "app", "dns", "zz", "aa"] {
        assert!(apply(&mut snap, Event::Group(group(name, GroupState::Configured))));
    }
    assert_eq!(group_names(&snap), ["aa", "app", "db", "dns", "mail", "web", "zz"]);

    assert!(apply(&mut snap, Event::Group(group("mail", GroupState::Stopping))));
    assert_eq!(group_names(&snap).len(), 7, "a known group is replaced, not added");
    assert_eq!(snap.group("mail").map(|g| g.state), Some(GroupState::Stopping));

    assert!(apply(&mut snap, Event::GroupRemoved { name: "dns".into() }));
    assert_eq!(group_names(&snap), ["aa", "app", "db", "mail", "web", "zz"]);
    assert!(snap.group("dns").is_none());
    assert!(apply(&mut snap, Event::GroupRemoved { name: "nosuch".into() }));
    assert_eq!(group_names(&snap).len(), 6);
}

#[test]
fn process_replace_in_place_append_and_remove() {
    let mut snap = Snapshot {
        processes: vec![
            process("mail", "spool", ProcessState::NotStarted),
            process("mail", "mta", ProcessState::NotStarted),
            process("web", "httpd", ProcessState::NotStarted),
        ],
        ..Default::default()
    };
    assert!(apply(&mut snap, Event::Process(process("mail", "mta", ProcessState::Running))));
    assert_eq!(tags(&snap), ["spool", "mta", "httpd"], "a known tag keeps its row");
    assert_eq!(snap.processes[1].state, ProcessState::Running);

    assert!(apply(&mut snap, Event::Process(process("mail", "extra", ProcessState::Running))));
    assert_eq!(tags(&snap), ["spool", "mta", "httpd", "extra"], "a new tag is appended");
    assert_eq!(snap.processes_of("mail").map(|p| p.tag.as_str()).collect::<Vec<_>>(), ["spool", "mta", "extra"]);

    assert!(apply(&mut snap, Event::ProcessRemoved { tag: "mta".into() }));
    assert_eq!(tags(&snap), ["spool", "httpd", "extra"]);
}

#[test]
fn audit_is_capped_keeping_the_newest() {
    let mut snap = Snapshot::default();
    let total = AUDIT_KEPT as u64 + 7;
    for i in 0..total {
        assert!(apply(&mut snap, Event::Audit(audit(i))));
    }
    assert_eq!(snap.audit.len(), AUDIT_KEPT);
    assert_eq!(snap.audit.first(), Some(&audit(7)), "the oldest are dropped");
    assert_eq!(snap.audit.last(), Some(&audit(total - 1)));
    assert!(snap.audit.windows(2).all(|w| w[0].at_ms + 1 == w[1].at_ms), "oldest first, none skipped");
}

#[test]
fn config_change_asks_for_a_fresh_snapshot() {
    let mut snap = Snapshot::default();
    let changed = Event::ConfigChanged { path: "/etc/isinittab".into(), sha256: "abc".into() };
    assert!(!apply(&mut snap, changed), "row order may have changed: not appliable alone");
    assert_eq!(snap.daemon.config_path, "/etc/isinittab");
    assert_eq!(snap.daemon.config_sha256, "abc");
}

#[test]
fn notice_and_halting() {
    let mut snap = Snapshot { groups: vec![group("mail", GroupState::Done)], ..Default::default() };
    let before = snap.clone();
    assert!(apply(&mut snap, Event::Notice { at_ms: 5, message: "mta respawning too fast".into() }));
    assert_eq!(snap.notices, [NoticeRecord { at_ms: 5, message: "mta respawning too fast".into() }]);
    assert_eq!(
        Snapshot { seq: before.seq, notices: vec![], ..snap.clone() },
        before,
        "a notice changes nothing but seq and the notice list"
    );
    for i in 0..NOTICES_KEPT as u64 {
        apply(&mut snap, Event::Notice { at_ms: 10 + i, message: format!("n{i}") });
    }
    assert_eq!(snap.notices.len(), NOTICES_KEPT, "notices are capped");
    assert_eq!(snap.notices[0].at_ms, 10, "the oldest go first");
    assert!(!snap.daemon.halting);
    assert!(apply(&mut snap, Event::Halting));
    assert!(snap.daemon.halting);
}
