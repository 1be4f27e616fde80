//! Hand-made daemon states for the snapshot tests, the unit tests and the
//! render benchmark: realistic enough to exercise every column and colour,
//! fixed in time so rendered frames are byte-for-byte reproducible.

use crate::app::{Action, App};
use crate::client::ClientEvent;
use crate::clock::TimeZone;
use crate::ui;
use isinit_shared::config::Mode;
use isinit_shared::time::UnixMillis;
use isinit_shared::{
    AuditRecord, DaemonInfo, Event, ExitRecord, ExitStatus, GroupState, GroupStatus, OutputLine, ProcessState,
    ProcessStatus, ProcessUsage, Snapshot, Update,
};
use ratatui::layout::Size;

/// The daemon's clock in every fixture: 2023-11-14 22:13:20 UTC.
pub const NOW_MS: UnixMillis = 1_700_000_000_000;

const MIN: u64 = 60_000;
const HOUR: u64 = 3_600_000;

fn group(name: &str, level: Option<&str>, state: GroupState, levels: &[&str]) -> GroupStatus {
    GroupStatus {
        name: name.into(),
        level: level.map(Into::into),
        state,
        since_ms: NOW_MS - 5 * MIN,
        levels: levels.iter().map(|l| (*l).into()).collect(),
        in_file: true,
        owner: None,
    }
}

/// A process record with nothing running; adjust the fields that matter.
pub fn process(group: &str, tag: &str, mode: Mode, levels: &str, command: &str) -> ProcessStatus {
    ProcessStatus {
        group: group.into(),
        tag: tag.into(),
        mode,
        levels: levels.into(),
        command: command.into(),
        state: ProcessState::NotStarted,
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

fn running(mut p: ProcessStatus, pid: u32, up_ms: u64) -> ProcessStatus {
    p.state = ProcessState::Running;
    p.pid = Some(pid);
    p.started_at_ms = Some(NOW_MS - up_ms);
    p
}

fn exited(mut p: ProcessStatus, state: ProcessState, status: ExitStatus, ago_ms: u64, ran_ms: u64) -> ProcessStatus {
    p.state = state;
    p.started_at_ms = Some(NOW_MS - ago_ms - ran_ms);
    p.last_exit = Some(status);
    p.recent_exits = vec![ExitRecord { at_ms: NOW_MS - ago_ms, status, ran_ms, reason: None }];
    p
}

/// Four groups as an operator would meet them: `db` switched and done,
/// `mail` running with a respawned MTA, `spare` never told, and `web` with
/// a failed probe and a web server throttled in backoff.
pub fn snapshot() -> Snapshot {
    let groups = vec![
        group("db", Some("run"), GroupState::Done, &["run", "maint"]),
        group("mail", Some("run"), GroupState::Done, &["run", "runmore"]),
        group("spare", None, GroupState::Configured, &["3"]),
        group("web", Some("2"), GroupState::Failed, &["1", "2", "3", "123"]),
    ];

    let mut mta = running(
        process("mail", "mta", Mode::Respawn, "run,runmore", "/usr/sbin/sendmail -bD"),
        4242,
        3 * HOUR + 7 * MIN,
    );
    mta.respawns = 2;
    mta.last_exit = Some(ExitStatus::OomKilled);
    mta.recent_exits = vec![
        ExitRecord { at_ms: NOW_MS - 5 * HOUR, status: ExitStatus::Code(75), ran_ms: 40 * MIN, reason: None },
        ExitRecord {
            at_ms: NOW_MS - 3 * HOUR - 7 * MIN,
            status: ExitStatus::OomKilled,
            ran_ms: 90 * MIN,
            reason: None,
        },
    ];

    let mut nginx = process("web", "nginx", Mode::Respawn, "23", "/usr/sbin/nginx -g 'daemon off;'");
    nginx.state = ProcessState::Backoff;
    nginx.respawns = 6;
    nginx.last_exit = Some(ExitStatus::Code(1));
    nginx.started_at_ms = Some(NOW_MS - 20_000);
    nginx.backoff_until_ms = Some(NOW_MS + 40_000);
    nginx.recent_exits = (0..6)
        .map(|i| ExitRecord {
            at_ms: NOW_MS - 25_000 + i * 1000,
            status: ExitStatus::Code(1),
            ran_ms: 150,
            reason: None,
        })
        .collect();

    let mut php = process("web", "php", Mode::Respawn, "23", "/usr/sbin/php-fpm --nodaemonize");
    php.state = ProcessState::FailedToStart;
    php.start_error = Some("No such file or directory (os error 2)".into());

    let processes = vec![
        exited(
            process("db", "migrate", Mode::Wait, "run", "/opt/db/bin/migrate --apply"),
            ProcessState::Exited,
            ExitStatus::Code(0),
            4 * MIN,
            12_000,
        ),
        running(
            process("db", "postgres", Mode::Respawn, "run,maint", "/usr/lib/postgresql/bin/postgres -D /srv/pg"),
            3107,
            4 * MIN,
        ),
        exited(
            process("db", "dbcheck", Mode::Test, "run", "/opt/db/bin/check"),
            ProcessState::Pass,
            ExitStatus::Code(0),
            3 * MIN,
            800,
        ),
        exited(
            process("mail", "spool", Mode::Wait, "run,runmore", "mount /var/spool/mqueue"),
            ProcessState::Exited,
            ExitStatus::Code(0),
            5 * HOUR,
            300,
        ),
        exited(
            process("mail", "cf", Mode::Once, "run,runmore", "/usr/local/bin/update-sendmail-cf"),
            ProcessState::Exited,
            ExitStatus::Code(0),
            5 * HOUR,
            2_000,
        ),
        mta,
        process("mail", "extra", Mode::Respawn, "runmore", "/usr/local/bin/queue-runner"),
        process("spare", "nightly", Mode::Once, "3", "/usr/local/bin/nightly-report"),
        process("spare", "legacy", Mode::Off, "3", "/usr/local/bin/legacy-sync"),
        exited(
            process("web", "probe", Mode::Test, "123", "/usr/local/bin/check-disk"),
            ProcessState::Fail,
            ExitStatus::Code(1),
            2 * MIN,
            1_500,
        ),
        nginx,
        php,
    ];

    Snapshot {
        seq: 41,
        daemon: DaemonInfo {
            hostname: "node07.cluster".into(),
            pid: 812,
            version: "0.1.0".into(),
            protocol: isinit_shared::PROTOCOL_VERSION,
            config_path: "/etc/isinittab".into(),
            config_sha256: "3f9a1c22be0d4e7f9b8a6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f".into(),
            started_at_ms: NOW_MS - 26 * HOUR,
            now_ms: NOW_MS,
            halting: false,
            tells_total: 0,
            clients_connected: 0,
        },
        groups,
        processes,
        audit: vec![
            AuditRecord { at_ms: NOW_MS - 5 * HOUR - 2_000, uid: 0, pid: Some(2201), request: "tell mail run".into() },
            AuditRecord { at_ms: NOW_MS - 4 * MIN - 15_000, uid: 0, pid: Some(2290), request: "tell db run".into() },
            AuditRecord { at_ms: NOW_MS - 2 * MIN - 2_000, uid: 1000, pid: Some(3120), request: "tell web 2".into() },
        ],
        notices: vec![],
    }
}

/// The notice the daemon sends when it throttles `nginx`.
pub fn nginx_notice() -> Update {
    Update {
        seq: 42,
        event: Event::Notice {
            at_ms: NOW_MS - 20_000,
            message: "nginx respawning too rapidly: sleeping 60 seconds".into(),
        },
    }
}

/// A usage sample of the running processes of [`snapshot`] (and of the
/// workers of [`big_snapshot`]), as the daemon would answer `Usage`.
pub fn usage() -> Vec<ProcessUsage> {
    let row = |tag: &str, processes, cpu, rss_mib: u64| ProcessUsage {
        tag: tag.into(),
        processes,
        cpu_time_ms: 42_000,
        cpu_percent: cpu,
        rss_bytes: rss_mib * 1024 * 1024 / 10,
    };
    let mut rows = vec![row("postgres", 6, Some(3.2), 1480), row("mta", 2, Some(12.5), 87)];
    rows.extend(
        (0..1000u64).map(|i| row(&format!("worker{i:04}"), 1, Some((i * 37 % 1000) as f64 / 10.0), 20 + i % 50)),
    );
    rows
}

/// Recent output of a tag, `n` lines.
pub fn output(tag: &str, n: usize) -> Vec<OutputLine> {
    (0..n)
        .map(|i| OutputLine {
            tag: tag.into(),
            at_ms: NOW_MS - (n - i) as u64 * 1000,
            text: match i % 3 {
                0 => format!("{tag}[4242]: starting daemon (8.17.1): SMTP+queueing@00:30:00 #{i}"),
                1 => format!("{tag}[4242]: ruleset=check_rcpt, arg1=<ops@example.org>, relay=node03 #{i}"),
                _ => format!("{tag}[4242]: STARTTLS=client, relay=mx.example.org, version=TLSv1.3 #{i}"),
            },
        })
        .collect()
}

/// A single group `farm` with `n` respawn processes, for scale tests.
pub fn big_snapshot(n: usize) -> Snapshot {
    let mut s = snapshot();
    s.groups.push(group("farm", Some("run"), GroupState::Done, &["run"]));
    s.groups.sort_by(|a, b| a.name.cmp(&b.name));
    for i in 0..n {
        let tag = format!("worker{i:04}");
        let mut p = running(
            process("farm", &tag, Mode::Respawn, "run", "/opt/farm/bin/worker"),
            10_000 + i as u32,
            (i as u64 + 1) * 7_000,
        );
        p.respawns = (i % 4) as u32;
        s.processes.push(p);
    }
    s
}

/// An [`App`] in UTC that has received `snapshot`, laid out for a terminal
/// of `width`×`height`, as after start-up.
pub fn app(snapshot: Snapshot, width: u16, height: u16) -> App {
    let mut app = App::new("/var/run/is/init.s".into(), TimeZone::Utc);
    app.update(Action::Resize(ui::viewport(Size { width, height })));
    app.update(Action::Client(ClientEvent::Snapshot(Box::new(snapshot))));
    app
}
