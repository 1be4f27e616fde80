//! Pins the exact bytes of a few frames on the wire.
//!
//! bincode encodes an enum variant by its *position* and a struct by its
//! field *order*, not by name, so reordering variants or fields compiles,
//! passes every round-trip test, and silently breaks every daemon and client
//! of another release. This test is what breaks instead. `Hello` must stay
//! variant 0 of both `Request` and `Response` forever, so that any two
//! versions can at least exchange hellos and report a version mismatch
//! (SPEC §7). If a pinned frame changes on purpose, bump `PROTOCOL_VERSION`
//! and re-pin; only appending variants is free.
//!
//! Reading guide: 4-byte big-endian body length, then the variant index as a
//! varint (one byte below 251), then the fields in order — integers as
//! varints, strings as a varint length plus UTF-8, `bool` as one byte, a
//! `Vec` as a varint count plus its items.

use isinit_shared::protocol::codec::Message;
use isinit_shared::protocol::frame::encode_frame;
use isinit_shared::protocol::{DaemonInfo, ErrorKind, ErrorReply, PROTOCOL_VERSION, Request, Response, codec};
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

#[test]
fn protocol_version() {
    // The pins below were taken at version 1; changing one means bumping this.
    assert_eq!(PROTOCOL_VERSION, 1);
}

#[test]
fn request_hello() {
    // len 2 | variant 0 | protocol 1
    assert_pinned(&Request::Hello { protocol: 1 }, "000000020001");
}

#[test]
fn request_tell() {
    // len 11 | variant 1 | "mail" | "run" | false
    assert_pinned(
        &Request::Tell { group: "mail".into(), level: "run".into(), dry_run: false },
        "0000000b01046d61696c0372756e00",
    );
}

#[test]
fn request_status() {
    // len 1 | variant 2
    assert_pinned(&Request::Status, "0000000102");
}

#[test]
fn response_hello() {
    let daemon = DaemonInfo {
        hostname: "h".into(),
        pid: 300,
        version: "0.1.0".into(),
        protocol: 1,
        config_path: "/e".into(),
        config_sha256: "ab".into(),
        started_at_ms: 1,
        now_ms: 2,
        halting: false,
    };
    // len 23 | variant 0 | protocol 1 | "h" | pid 300 as fb 2c01 (u16 marker,
    // little-endian) | "0.1.0" | 1 | "/e" | "ab" | 1 | 2 | false
    assert_pinned(&Response::Hello { protocol: 1, daemon }, "0000001700010168fb2c0105302e312e3001022f65026162010200");
}

#[test]
fn response_version_mismatch() {
    // len 3 | variant 1 | daemon 2 | client 1
    assert_pinned(&Response::VersionMismatch { daemon: 2, client: 1 }, "00000003010201");
}

#[test]
fn response_ok() {
    // len 26 | variant 2 | 24-byte string
    assert_pinned(
        &Response::Ok { message: "level transition started".into() },
        "0000001a02186c6576656c207472616e736974696f6e2073746172746564",
    );
}

#[test]
fn response_error() {
    let reply = ErrorReply {
        kind: ErrorKind::NoSuchGroup,
        message: "no such group `mial`".into(),
        details: vec!["did you mean `mail`?".into()],
    };
    // len 45 | variant 8 | kind 0 | 20-byte message | 1 detail of 20 bytes
    assert_pinned(
        &Response::Error(reply),
        "0000002d0800146e6f20737563682067726f757020606d69616c60011464696420796f75206d65616e20606d61696c603f",
    );
}

#[test]
fn error_kinds() {
    // Programs act on the kind, so its numbering is pinned too.
    let kinds = [
        ErrorKind::NoSuchGroup,
        ErrorKind::NoSuchTag,
        ErrorKind::InvalidConfig,
        ErrorKind::PermissionDenied,
        ErrorKind::Rejected,
    ];
    for (i, kind) in kinds.into_iter().enumerate() {
        assert_eq!(codec::encode(&kind).unwrap(), [i as u8], "{kind:?}");
    }
}
