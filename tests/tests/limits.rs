//! SPEC §7 limits seen from the command line: a snapshot larger than the
//! 1 MiB frame cap still reaches `status` and subscribers, in chunks.

use isinit_e2e::TestDaemon;
use isinit_shared::protocol::{Request, Response};

#[test]
fn a_snapshot_larger_than_one_frame_still_arrives_whole() {
    // 4,000 entries with 300-byte commands: about 1.3 MB of snapshot.
    let filler = "x".repeat(300);
    let tab: String = (0..4000).map(|i| format!("big:t{i}:1:once:echo {filler}\n")).collect();
    let d = TestDaemon::start(&format!("{tab}small:s:1:once:true\n"));

    assert_eq!(d.ok(&["status"]), "big - CONFIGURED\nsmall - CONFIGURED\n");
    let json: serde_json::Value = serde_json::from_str(&d.ok(&["status", "--json"])).expect("JSON");
    let processes = json["processes"].as_array().expect("processes");
    assert_eq!(processes.len(), 4001);
    assert_eq!(processes[3999]["tag"], "t3999", "file order kept across chunks");

    let snap = d.block_on(async {
        let mut c = isinit_client::Client::connect(&d.socket()).await.expect("connect");
        c.send(&Request::Subscribe).await.expect("subscribe");
        match c.recv().await.expect("first message") {
            Response::Snapshot(s) => s,
            other => panic!("a subscription starts with a snapshot, got {other:?}"),
        }
    });
    assert_eq!(snap.processes.len(), 4001);
    d.tell("small", "1");
}
