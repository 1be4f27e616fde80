//! Subscriptions and the JSON status (SPEC §7, §8).

use super::{ANSWER_WITHIN, TAB, assert_healthy, connect, frame, hello};
use isinit_e2e::{DEADLINE, TestDaemon};
use isinit_shared::protocol::codec::decode;
use isinit_shared::protocol::{Event, GroupState, Request, Response};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

#[test]
fn subscribers_get_a_snapshot_then_every_update_in_order() {
    let d = TestDaemon::start(TAB);
    let (mut client, mut snap) = d.block_on(d.subscribe());
    assert_eq!(snap.group("g").map(|g| g.state), Some(GroupState::Configured));
    d.tell("g", "1");
    let seen = d.block_on(async {
        let mut seen = Vec::new();
        loop {
            let msg = tokio::time::timeout(DEADLINE, client.recv()).await.expect("an update in time").expect("open");
            let Response::Update(u) = msg else { panic!("expected an update, got {msg:?}") };
            assert_eq!(u.seq, snap.seq + 1, "seq increases by one: {u:?}");
            assert!(snap.apply(&u), "no resync needed: {u:?}");
            seen.push(u.event.clone());
            let done = snap.group("g").is_some_and(|g| g.state == GroupState::Done && g.level.as_deref() == Some("1"));
            let running = snap.processes.iter().any(|p| p.tag == "r" && p.pid.is_some());
            if done && running {
                return seen;
            }
        }
    });
    assert!(seen.iter().any(|e| matches!(e, Event::Audit(a) if a.request == "tell g 1")), "{seen:#?}");
    // The folded snapshot agrees with a fresh one.
    let fresh = d.snapshot();
    assert_eq!(snap.groups, fresh.groups);
    let pid = |s: &isinit_shared::protocol::Snapshot| s.processes.iter().find(|p| p.tag == "r").and_then(|p| p.pid);
    assert_eq!(pid(&snap), pid(&fresh));
}

/// Every object key in `v`, recursively.
fn keys(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                out.push(k.clone());
                keys(v, out);
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| keys(v, out)),
        _ => {}
    }
}

#[test]
fn status_json_is_snake_case_with_integer_pids() {
    let d = TestDaemon::start(TAB);
    d.tell("g", "1");
    d.wait_group("g", "1", GroupState::Done);
    let r = d.wait_running("r");
    let json: serde_json::Value = serde_json::from_str(&d.ok(&["status", "--json"])).expect("valid JSON");
    let mut all = Vec::new();
    keys(&json, &mut all);
    let snake = |k: &str| k.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    let bad: Vec<_> = all.iter().filter(|k| !snake(k)).collect();
    assert!(bad.is_empty(), "field names not in snake_case: {bad:?}");
    for k in ["seq", "daemon", "groups", "processes", "audit"] {
        assert!(json.get(k).is_some(), "missing {k}");
    }
    let procs = json["processes"].as_array().expect("processes");
    let row = |t: &str| procs.iter().find(|p| p["tag"] == t).expect("row").clone();
    let (rr, w) = (row("r"), row("w"));
    assert_eq!(rr["pid"].as_u64(), Some(r as u64), "live processes carry an integer pid: {rr}");
    assert_eq!(rr["state"], "running");
    assert_eq!(w["state"], "not_started");
    assert!(w["pid"].is_null());
    assert_eq!(json["groups"][0]["state"], "done");
    assert_eq!(json["daemon"]["pid"].as_u64(), Some(d.pid() as u64));
}

#[test]
fn a_new_file_resynchronises_subscribers_with_a_snapshot() {
    let d = TestDaemon::start(TAB);
    let (mut client, _) = d.block_on(d.subscribe());
    d.write_tab("g:r:1:respawn:exec sleep 1000\nnew:x:1:once:true\n");
    d.ok(&["reload"]);
    let snap = d.block_on(async {
        let mut changed = false;
        loop {
            match tokio::time::timeout(DEADLINE, client.recv()).await.expect("a message in time").expect("open") {
                Response::Update(u) if matches!(u.event, Event::ConfigChanged { .. }) => changed = true,
                Response::Update(_) => {}
                Response::Snapshot(s) => {
                    assert!(changed, "the snapshot follows the ConfigChanged update");
                    return s;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    });
    assert!(snap.group("new").is_some(), "the fresh snapshot shows the new file");
    assert!(snap.processes.iter().all(|p| p.tag != "w"), "and not the old entries");
}

#[test]
fn a_subscriber_that_does_not_read_never_blocks_the_daemon() {
    let d = TestDaemon::start("g:t:1:once:true\n");
    // Subscribes, then never reads.
    let mut lazy = connect(&d);
    hello(&mut lazy);
    lazy.write_all(&frame(&Request::Subscribe)).expect("subscribe");
    // Thousands of events (each tell of an empty level is several),
    // far more than any socket buffer or update queue holds.
    let (sent, took) = d.block_on(async {
        let mut c = d.client().await;
        let start = Instant::now();
        let mut sent = 0;
        while sent < 4000 {
            let level = if sent % 2 == 0 { "x" } else { "y" };
            let tell = Request::Tell { group: "g".into(), level: level.into(), dry_run: false };
            tokio::time::timeout(ANSWER_WITHIN, c.request(&tell)).await.expect("the daemon answers").expect("tell ok");
            sent += 1;
        }
        (sent, start.elapsed())
    });
    eprintln!("{sent} tells in {took:?} with a subscriber that does not read");
    assert_healthy(&d, "1");

    // When it finally reads, it sees a consistent stream: updates in
    // sequence, with a fresh snapshot wherever it fell behind (or the
    // daemon gave up on it and closed the connection).
    lazy.set_read_timeout(Some(Duration::from_secs(2))).expect("timeout");
    let mut seq: Option<u64> = None;
    let mut resynced = false;
    loop {
        let mut len = [0u8; 4];
        if lazy.read_exact(&mut len).is_err() {
            break; // closed by the daemon, or drained
        }
        let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
        lazy.read_exact(&mut body).expect("whole frame");
        match decode::<Response>(&body).expect("well-formed") {
            Response::Snapshot(s) => {
                if seq.is_some() {
                    resynced = true;
                }
                seq = Some(s.seq);
            }
            Response::Update(u) => {
                if let Some(prev) = seq {
                    assert_eq!(u.seq, prev + 1, "a gap without a snapshot");
                }
                seq = Some(u.seq);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    eprintln!("lazy subscriber: resynchronised: {resynced}, last seq {seq:?}");
}
