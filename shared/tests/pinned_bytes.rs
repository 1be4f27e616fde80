//! Pins the exact bytes of every message on the wire.
//!
//! bincode encodes an enum variant by its *position* and a struct by its
//! field *order*, not by name, so reordering variants or fields compiles,
//! passes every round-trip test, and silently breaks every daemon and client
//! of another release. This test is what breaks instead. `Hello` must stay
//! variant 0 of both `Request` and `Response` forever, so that any two
//! versions can at least exchange hellos and report a version mismatch
//! (SPEC §7). If a pinned frame changes on purpose, bump `PROTOCOL_VERSION`
//! and re-pin; only appending variants is free — and needs a pin here:
//!
//! - every enum of the protocol has a `*_pin` function with an exhaustive
//!   `match` (no wildcard), so a new variant does not compile until it has
//!   its pinned bytes;
//! - every sample list is checked against the codec: a variant index past
//!   the last sample must not decode ([`assert_no_variant_after`]), so a
//!   variant with a pin but no sample fails too;
//! - every message struct is built with all its fields spelled out (no
//!   `..Default::default()`), each field with a value of its own, so a new
//!   field does not compile and two swapped fields change the bytes.
//!
//! Reading guide: 4-byte big-endian body length, then the variant index as a
//! varint (one byte below 251), then the fields in order — integers as
//! varints (zigzag for signed ones), strings as a varint length plus UTF-8,
//! `bool` as one byte, `Option` as 0 or 1 then the value, a `Vec` as a
//! varint count plus its items, a `Box` as what it holds.

use isinit_shared::config::Mode;
use isinit_shared::protocol::codec::Message;
use isinit_shared::protocol::frame::encode_frame;
use isinit_shared::protocol::{
    Asker, AuditRecord, DaemonInfo, EntryProcesses, ErrorKind, ErrorReply, Event, ExitReason, ExitRecord, ExitStatus,
    GroupState, GroupStatus, Health, NoticeRecord, OnDisk, OutputLine, Owner, PROTOCOL_VERSION, Plan, ProcessState,
    ProcessStatus, ProcessUsage, PsRow, Request, Response, RunningConfig, Snapshot, StepAction, SwitchStep,
    SwitchTimeline, Tracking, Update, codec,
};
use serde::{Serialize, de::DeserializeOwned};
use std::fmt::Debug;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Asserts `msg` encodes to the frame `expected` (hex) and that those bytes
/// decode back to `msg`.
#[track_caller]
fn assert_pinned<T: Message + PartialEq + Debug>(msg: &T, expected: &str) {
    let frame = encode_frame(msg).expect("encodes");
    assert_eq!(hex(&frame), expected, "wire bytes of {msg:?} changed");
    let back: T = codec::decode(&frame[4..]).expect("pinned bytes decode");
    assert_eq!(&back, msg);
}

/// The variant index bincode wrote first (one byte below 251).
fn variant_index<T: Serialize>(msg: &T) -> usize {
    usize::from(codec::encode(msg).expect("encodes")[0])
}

/// Asserts the samples are the variants 0, 1, 2… in order, and that the
/// codec knows no variant after the last: an index with any amount of zero
/// bytes after it (which decode as empty strings, `0`, `None`, `false` and
/// variant 0 of any field) must not decode.
#[track_caller]
fn assert_every_variant<T: Serialize + DeserializeOwned + Debug>(samples: &[T]) {
    for (i, s) in samples.iter().enumerate() {
        assert_eq!(variant_index(s), i, "samples are listed in variant order: {s:?}");
    }
    assert_no_variant_after::<T>(samples.len());
}

#[track_caller]
fn assert_no_variant_after<T: DeserializeOwned + Debug>(count: usize) {
    let index = u8::try_from(count).expect("fewer than 251 variants");
    for zeros in 0..256 {
        let mut body = vec![index];
        body.resize(1 + zeros, 0);
        if let Ok(msg) = codec::decode_value::<T, { 1 << 20 }>(&body) {
            panic!("variant {count} exists but has no pin: {msg:?}");
        }
    }
}

#[test]
fn protocol_version() {
    // Version 2 appended restart, retry, signal, usage and reexec,
    // `tells_total`/`clients_connected` to `DaemonInfo`, `ExitStatus::Unknown`
    // and `OomKilled`,
    // the `notify` mode and a process's `ready`/`status_text`. Version 3: a
    // group's `owner`, `Request::TellAs`, `ErrorKind::Owned`, a process's
    // `health`/`health_reason` and an exit's `reason` (SPEC §17, §18).
    // Version 4: a process's `listen` (held sockets, SPEC §17).
    // Changing a pin means bumping this.
    assert_eq!(PROTOCOL_VERSION, 4);
}

// ---- requests ----------------------------------------------------------

fn requests() -> Vec<Request> {
    vec![
        Request::Hello { protocol: 1 },
        Request::Tell { group: "mail".into(), level: "run".into(), dry_run: false },
        Request::Status,
        Request::Reload,
        Request::Shutdown,
        Request::Logs { tag: "mta".into(), lines: 300, follow: true },
        Request::Subscribe,
        Request::Restart { tag: "mta".into() },
        Request::Retry { tag: "mta".into() },
        Request::Signal { tag: "mta".into(), signal: "HUP".into() },
        Request::Usage,
        Request::Reexec,
        Request::RunningConfig,
        Request::Ps { name: Some("web".into()) },
        Request::GroupLogs { group: "g".into(), lines: 300, follow: true, since_ms: Some(5) },
        Request::Analyze { group: "g".into() },
        Request::TellAs {
            group: "g".into(),
            level: "1".into(),
            asker: Asker::Manager { owner: owner(), release: true },
        },
        Request::Groups,
    ]
}

fn owner() -> Owner {
    Owner { manager: "p".into(), resource: "w".into(), node: "n".into() }
}

fn request_pin(r: &Request) -> &'static str {
    match r {
        // len 2 | variant 0 | protocol 1
        Request::Hello { .. } => "000000020001",
        // len 11 | variant 1 | "mail" | "run" | false
        Request::Tell { .. } => "0000000b01046d61696c0372756e00",
        // len 1 | variant 2
        Request::Status => "0000000102",
        Request::Reload => "0000000103",
        Request::Shutdown => "0000000104",
        // len 9 | variant 5 | "mta" | 300 as fb 2c01 (u16 marker, little-endian) | true
        Request::Logs { .. } => "0000000905036d7461fb2c0101",
        Request::Subscribe => "0000000106",
        // Appended in version 2. len 5 | variant 7 | "mta"
        Request::Restart { .. } => "0000000507036d7461",
        // len 5 | variant 8 | "mta"
        Request::Retry { .. } => "0000000508036d7461",
        // len 9 | variant 9 | "mta" | "HUP"
        Request::Signal { .. } => "0000000909036d746103485550",
        // len 1 | variant 10
        Request::Usage => "000000010a",
        // len 1 | variant 11
        Request::Reexec => "000000010b",
        // Appended for `isinit drift`, still version 2. len 1 | variant 12
        Request::RunningConfig => "000000010c",
        // Appended for `isinit ps`. len 6 | variant 13 | Some | "web"
        Request::Ps { .. } => "000000060d0103776562",
        // Appended for `isinit logs -g`. len 9 | variant 14 | "g" | 300 as fb 2c01 | true | Some(5)
        Request::GroupLogs { .. } => "000000090e0167fb2c01010105",
        // Appended for `isinit analyze`. len 3 | variant 15 | "g"
        Request::Analyze { .. } => "000000030f0167",
        // Version 3. len 13 | variant 16 | "g" | "1" | Asker::Manager (2) | "p" | "w" | "n" | release true
        Request::TellAs { .. } => "0000000d10016701310201700177016e01",
        // Appended for `isinit status`, still version 4. len 1 | variant 17
        Request::Groups => "0000000111",
    }
}

#[test]
fn every_request_is_pinned() {
    let samples = requests();
    for r in &samples {
        assert_pinned(r, request_pin(r));
    }
    assert_every_variant(&samples);
}

// ---- the records inside responses ---------------------------------------

fn daemon() -> DaemonInfo {
    DaemonInfo {
        hostname: "h".into(),
        pid: 300,
        version: "0.1.0".into(),
        protocol: 1,
        config_path: "/e".into(),
        config_sha256: "ab".into(),
        started_at_ms: 1,
        now_ms: 2,
        halting: false,
        tells_total: 3,
        clients_connected: 4,
    }
}

fn group() -> GroupStatus {
    GroupStatus {
        name: "g".into(),
        level: Some("1".into()),
        state: GroupState::Starting,
        since_ms: 5,
        levels: vec!["1".into(), "2".into()],
        in_file: true,
        owner: Some(owner()),
    }
}

fn process() -> ProcessStatus {
    ProcessStatus {
        group: "g".into(),
        tag: "t".into(),
        mode: Mode::Wait,
        levels: "1,2".into(),
        command: "c".into(),
        state: ProcessState::Backoff,
        pid: Some(11),
        started_at_ms: Some(12),
        respawns: 13,
        last_exit: Some(ExitStatus::Signal(9)),
        recent_exits: vec![ExitRecord {
            at_ms: 14,
            status: ExitStatus::Code(3),
            ran_ms: 15,
            reason: Some(ExitReason::Watchdog),
        }],
        backoff_until_ms: Some(16),
        start_error: Some("e".into()),
        in_file: false,
        ready: true,
        status_text: Some("s".into()),
        health: Some(Health::Unhealthy),
        health_reason: Some("h".into()),
        listen: vec!["unix:/l".into()],
    }
}

fn audit() -> AuditRecord {
    AuditRecord { at_ms: 17, uid: 18, pid: Some(19), request: "r".into() }
}

fn notice() -> NoticeRecord {
    NoticeRecord { at_ms: 20, message: "n".into() }
}

fn snapshot() -> Snapshot {
    Snapshot {
        seq: 4,
        daemon: daemon(),
        groups: vec![group()],
        processes: vec![process()],
        audit: vec![audit()],
        notices: vec![notice()],
    }
}

fn output() -> OutputLine {
    OutputLine { tag: "t".into(), at_ms: 21, text: "x".into() }
}

fn plan() -> Plan {
    Plan {
        group: "g".into(),
        level: "1".into(),
        stop: vec!["s".into()],
        keep: vec!["k".into()],
        start: vec!["a".into()],
        done: vec!["d".into()],
        error: Some("e".into()),
    }
}

fn error() -> ErrorReply {
    ErrorReply {
        kind: ErrorKind::NoSuchGroup,
        message: "no such group `mial`".into(),
        details: vec!["did you mean `mail`?".into()],
    }
}

// Fragments of the frames below, by field order.
/// `DaemonInfo`: "h" | pid 300 (fb 2c01) | "0.1.0" | 1 | "/e" | "ab" | 1 | 2 | false.
const DAEMON: &str = "0168 fb2c01 05302e312e30 01 022f65 026162 01 02 00 03 04";
/// `GroupStatus`: "g" | Some("1") | STARTING (2) | 5 | ["1", "2"] | true |
/// owner Some("p", "w", "n") (appended in version 3).
const GROUP: &str = "0167 010131 02 05 02 0131 0132 01 01 0170 0177 016e";
/// `ProcessStatus`: "g" | "t" | wait (2) | "1,2" | "c" | backoff (6) | Some(11) | Some(12) | 13 |
/// Some(Signal(9): variant 1, zigzag 18) | [ExitRecord 14, Code(3): variant 0, zigzag 6, 15] |
/// Some(16) | Some("e") | false | ready true | Some("s") (the last two appended in version 2, with
/// the `notify` mode) | Some(Unhealthy: 2) | Some("h") (appended in version 3, with the exit
/// record's reason: Some(Watchdog: 1)) | ["unix:/l"] (appended in version 4).
const PROCESS: &str = "0167 0174 02 03312c32 0163 06 010b 010c 0d 010112 01 0e 0006 0f 0101 0110 010165 00 01 010173 0102 010168 \
     01 07756e69783a2f6c";
/// `AuditRecord`: 17 | 18 | Some(19) | "r"; `NoticeRecord`: 20 | "n".
const AUDIT: &str = "11 12 0113 0172";
const NOTICE: &str = "14 016e";

fn snapshot_body() -> String {
    // seq 4 | daemon | 1 group | 1 process | 1 audit | 1 notice
    format!("04{DAEMON}01{GROUP}01{PROCESS}01{AUDIT}01{NOTICE}")
}

// ---- responses -----------------------------------------------------------

fn responses() -> Vec<Response> {
    vec![
        Response::Hello { protocol: 1, daemon: daemon() },
        Response::VersionMismatch { daemon: 2, client: 1 },
        Response::Ok { message: "level transition started".into() },
        Response::Plan(plan()),
        Response::Snapshot(Box::new(snapshot())),
        Response::Update(Update { seq: 22, event: Event::Halting }),
        Response::Logs { tag: "t".into(), lines: vec![output()] },
        Response::Output(output()),
        Response::Error(error()),
        Response::SnapshotChunk { part: Box::new(snapshot()), more: true },
        Response::Usage(vec![usage()]),
        Response::RunningConfig(running_config()),
        Response::Ps(vec![entry_processes()]),
        Response::GroupLogs { group: "g".into(), lines: vec![output()] },
        Response::Timeline(Box::new(timeline())),
    ]
}

/// The frame of a body given in hex (spaces, between fields, ignored).
fn framed(body: &str) -> String {
    let body = body.replace(' ', "");
    format!("{:08x}{body}", body.len() / 2)
}

fn response_pin(r: &Response) -> String {
    match r {
        // variant 0 | protocol 1 | daemon
        Response::Hello { .. } => framed(&format!("0001{DAEMON}")),
        // variant 1 | daemon 2 | client 1
        Response::VersionMismatch { .. } => "00000003010201".into(),
        // len 26 | variant 2 | 24-byte string
        Response::Ok { .. } => "0000001a02186c6576656c207472616e736974696f6e2073746172746564".into(),
        // variant 3 | "g" | "1" | ["s"] | ["k"] | ["a"] | ["d"] | Some("e")
        Response::Plan(_) => framed("03 0167 0131 010173 01016b 010161 010164 010165"),
        Response::Snapshot(_) => framed(&format!("04{}", snapshot_body())),
        // variant 5 | seq 22 | Event::Halting (7)
        Response::Update(_) => framed("051607"),
        // variant 6 | "t" | 1 line: "t" | 21 | "x"
        Response::Logs { .. } => framed("06 0174 01 0174 15 0178"),
        // variant 7 | "t" | 21 | "x"
        Response::Output(_) => framed("07 0174 15 0178"),
        // len 45 | variant 8 | kind 0 | 20-byte message | 1 detail of 20 bytes
        Response::Error(_) => {
            "0000002d0800146e6f20737563682067726f757020606d69616c60011464696420796f75206d65616e20606d61696c603f".into()
        }
        // variant 9 | snapshot | more: true
        Response::SnapshotChunk { .. } => framed(&format!("09{}01", snapshot_body())),
        // variant 10 | 1 row | "t" | 2 | 300 as fb 2c01 | Some | 50.0 as a little-endian f64 | 1
        Response::Usage(_) => framed("0a 01 0174 02 fb2c01 01 0000000000004940 01"),
        // variant 11 | "p" | "s" | "t" | OnDisk::Differs (1) | "d" | "x"
        Response::RunningConfig(_) => framed("0b 0170 0173 0174 01 0164 0178"),
        // variant 12 | 1 entry | "g" | "t" | Some(11) | ProcessGroup (1) | 1 row: 12 | 11 | 1 | true |
        // 40 | 30 | 50.0 as a little-endian f64 | "c" | omitted 2
        Response::Ps(_) => framed("0c 01 0167 0174 010b 01 01 0c 0b 01 01 28 1e 0000000000004940 0163 02"),
        // variant 13 | "g" | 1 line: "t" | 21 | "x"
        Response::GroupLogs { .. } => framed("0d 0167 01 0174 15 0178"),
        // variant 14 | "g" | "1" | told 5 | Some(6) | Some(DONE: 3) | 1 step: "t" | wait (2) |
        // start (1) | 7 | Some(8) | Some(9) | Some(10) | Some(Code(3): variant 0, zigzag 6)
        Response::Timeline(_) => framed("0e 0167 0131 05 0106 0103 01 0174 02 01 07 0108 0109 010a 010006"),
    }
}

fn running_config() -> RunningConfig {
    RunningConfig {
        path: "p".into(),
        sha256: "s".into(),
        text: "t".into(),
        on_disk: OnDisk::Differs { sha256: "d".into(), text: "x".into() },
    }
}

#[test]
fn on_disk_states() {
    let pin = |s: &OnDisk| match s {
        OnDisk::Same => "00",
        OnDisk::Differs { .. } => "01016401 78",
        OnDisk::Unreadable(_) => "020165",
    };
    let samples =
        [OnDisk::Same, OnDisk::Differs { sha256: "d".into(), text: "x".into() }, OnDisk::Unreadable("e".into())];
    for s in &samples {
        let bytes = isinit_shared::protocol::codec::encode(s).expect("encodes");
        assert_eq!(hex(&bytes), pin(s).replace(' ', ""), "{s:?}");
    }
    assert_every_variant(&samples);
}

fn timeline() -> SwitchTimeline {
    SwitchTimeline {
        group: "g".into(),
        level: "1".into(),
        told_at_ms: 5,
        finished_us: Some(6),
        result: Some(GroupState::Done),
        steps: vec![SwitchStep {
            tag: "t".into(),
            mode: Mode::Wait,
            action: StepAction::Start,
            began_us: 7,
            spawned_us: Some(8),
            ready_us: Some(9),
            ended_us: Some(10),
            exit: Some(ExitStatus::Code(3)),
        }],
    }
}

#[test]
fn step_actions() {
    let number = |a: &StepAction| match a {
        StepAction::Stop => 0,
        StepAction::Start => 1,
    };
    assert_numbered(&[StepAction::Stop, StepAction::Start], number);
}

fn entry_processes() -> EntryProcesses {
    EntryProcesses {
        group: "g".into(),
        tag: "t".into(),
        main_pid: Some(11),
        tracking: Tracking::ProcessGroup,
        processes: vec![PsRow {
            pid: 12,
            ppid: 11,
            depth: 1,
            stray: true,
            rss_bytes: 40,
            cpu_time_ms: 30,
            cpu_percent: 50.0,
            command: "c".into(),
        }],
        omitted: 2,
    }
}

#[test]
fn trackings() {
    let number = |t: &Tracking| match t {
        Tracking::Cgroup => 0,
        Tracking::ProcessGroup => 1,
    };
    assert_numbered(&[Tracking::Cgroup, Tracking::ProcessGroup], number);
}

fn usage() -> ProcessUsage {
    ProcessUsage { tag: "t".into(), processes: 2, cpu_time_ms: 300, cpu_percent: Some(50.0), rss_bytes: 1 }
}

#[test]
fn every_response_is_pinned() {
    let samples = responses();
    for r in &samples {
        assert_pinned(r, &response_pin(r));
    }
    assert_every_variant(&samples);
}

// ---- events, which a subscription carries inside `Response::Update` -----

fn events() -> Vec<Event> {
    vec![
        Event::Group(group()),
        Event::GroupRemoved { name: "g".into() },
        Event::Process(process()),
        Event::ProcessRemoved { tag: "t".into() },
        Event::ConfigChanged { path: "/e".into(), sha256: "ab".into() },
        Event::Audit(audit()),
        Event::Notice { at_ms: 20, message: "n".into() },
        Event::Halting,
    ]
}

/// The body of an event (no frame: events travel inside an `Update`).
fn event_pin(e: &Event) -> String {
    match e {
        Event::Group(_) => format!("00{GROUP}"),
        Event::GroupRemoved { .. } => "010167".into(),
        Event::Process(_) => format!("02{PROCESS}"),
        Event::ProcessRemoved { .. } => "030174".into(),
        Event::ConfigChanged { .. } => "04022f65026162".into(),
        Event::Audit(_) => format!("05{AUDIT}"),
        // Same fields, same order as a `NoticeRecord`.
        Event::Notice { .. } => format!("06{NOTICE}"),
        Event::Halting => "07".into(),
    }
}

#[test]
fn every_event_is_pinned() {
    let samples = events();
    for e in &samples {
        // Events travel only inside `Response::Update` (variant 5).
        let update = Response::Update(Update { seq: 22, event: e.clone() });
        assert_pinned(&update, &framed(&format!("0516{}", event_pin(e))));
    }
    assert_every_variant(&samples);
}

// ---- the enums inside records: programs act on them by number ------------

/// Asserts the `i`-th sample encodes as the single byte `i`, and nothing
/// follows the last.
#[track_caller]
fn assert_numbered<T: Serialize + DeserializeOwned + Debug>(samples: &[T], number: impl Fn(&T) -> u8) {
    for (i, s) in samples.iter().enumerate() {
        assert_eq!(codec::encode(s).expect("encodes"), [number(s)], "{s:?}");
        assert_eq!(usize::from(number(s)), i, "{s:?} listed in order");
    }
    assert_no_variant_after::<T>(samples.len());
}

#[test]
fn error_kinds() {
    use ErrorKind as K;
    let number = |k: &K| match k {
        K::NoSuchGroup => 0,
        K::NoSuchTag => 1,
        K::InvalidConfig => 2,
        K::PermissionDenied => 3,
        K::Rejected => 4,
        // Appended in version 3.
        K::Owned => 5,
    };
    assert_numbered(
        &[K::NoSuchGroup, K::NoSuchTag, K::InvalidConfig, K::PermissionDenied, K::Rejected, K::Owned],
        number,
    );
}

#[test]
fn askers() {
    let pin = |a: &Asker| match a {
        Asker::Operator => "00",
        Asker::Forced => "01",
        Asker::Manager { .. } => "02 0170 0177 016e 00",
    };
    let samples = [Asker::Operator, Asker::Forced, Asker::Manager { owner: owner(), release: false }];
    for a in &samples {
        assert_eq!(hex(&codec::encode(a).expect("encodes")), pin(a).replace(' ', ""), "{a:?}");
    }
    assert_every_variant(&samples);
}

#[test]
fn healths() {
    let number = |h: &Health| match h {
        Health::NotProbed => 0,
        Health::Healthy => 1,
        Health::Unhealthy => 2,
    };
    assert_numbered(&[Health::NotProbed, Health::Healthy, Health::Unhealthy], number);
}

#[test]
fn exit_reasons() {
    let number = |r: &ExitReason| match r {
        ExitReason::ProbeFailed => 0,
        ExitReason::Watchdog => 1,
    };
    assert_numbered(&[ExitReason::ProbeFailed, ExitReason::Watchdog], number);
}

#[test]
fn group_states() {
    use GroupState as G;
    let number = |g: &G| match g {
        G::Configured => 0,
        G::Stopping => 1,
        G::Starting => 2,
        G::Done => 3,
        G::Passed => 4,
        G::Failed => 5,
        G::Halting => 6,
    };
    assert_numbered(&[G::Configured, G::Stopping, G::Starting, G::Done, G::Passed, G::Failed, G::Halting], number);
}

#[test]
fn process_states() {
    use ProcessState as P;
    let number = |p: &P| match p {
        P::NotStarted => 0,
        P::Running => 1,
        P::Waiting => 2,
        P::Exited => 3,
        P::Pass => 4,
        P::Fail => 5,
        P::Backoff => 6,
        P::Stopping => 7,
        P::FailedToStart => 8,
        P::Off => 9,
    };
    let all = [
        P::NotStarted,
        P::Running,
        P::Waiting,
        P::Exited,
        P::Pass,
        P::Fail,
        P::Backoff,
        P::Stopping,
        P::FailedToStart,
        P::Off,
    ];
    assert_numbered(&all, number);
}

#[test]
fn modes() {
    let number = |m: &Mode| match m {
        Mode::Respawn => 0,
        Mode::Once => 1,
        Mode::Wait => 2,
        Mode::Test => 3,
        Mode::Off => 4,
        // Appended in version 2.
        Mode::Notify => 5,
    };
    assert_numbered(&[Mode::Respawn, Mode::Once, Mode::Wait, Mode::Test, Mode::Off, Mode::Notify], number);
}

#[test]
fn exit_statuses() {
    // variant | the number, zigzag-encoded (-1 is 01, 1 is 02)
    let pin = |s: &ExitStatus| match s {
        ExitStatus::Code(_) => "0001",
        ExitStatus::Signal(_) => "0102",
        // variant 2, no payload (version 2: an adopted process's end)
        ExitStatus::Unknown => "02",
        // variant 3, no payload (version 2: killed by the OOM killer)
        ExitStatus::OomKilled => "03",
    };
    let samples = [ExitStatus::Code(-1), ExitStatus::Signal(1), ExitStatus::Unknown, ExitStatus::OomKilled];
    for s in &samples {
        assert_eq!(hex(&codec::encode(s).expect("encodes")), pin(s), "{s:?}");
    }
    assert_every_variant(&samples);
}
