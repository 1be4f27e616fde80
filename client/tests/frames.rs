//! The framing and codec layers against what SPEC §7 demands of the socket:
//! a frame over the cap is refused before its body is allocated, and a
//! truncated frame, garbage bytes or a vanished peer come back as errors,
//! never as a panic or a stall.

use isinit_client::frame::{
    FrameError, encode_frame, read_frame, read_message, read_sized_message_blocking, starts_with_frame, write_message,
};
use isinit_shared::Mode;
use isinit_shared::protocol::codec::{self, CodecError};
use isinit_shared::protocol::{
    ErrorKind, ErrorReply, ExitRecord, ExitStatus, MAX_FRAME_LEN, MAX_REQUEST_LEN, PROTOCOL_VERSION, Plan,
    ProcessState, ProcessStatus, Request, Response, Snapshot,
};
use proptest::prelude::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWriteExt, BufReader, ReadBuf};

/// The system allocator, recording the largest single allocation made on
/// each thread, so a test can prove that a refused frame was never
/// allocated (`#[tokio::test]` runs the future on the test's own thread).
struct LargestAllocation;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: defers every operation to `System`; the bookkeeping touches only a
// const-initialised thread-local `Cell`, which neither allocates nor panics.
unsafe impl GlobalAlloc for LargestAllocation {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = LARGEST.try_with(|l| l.set(l.get().max(layout.size())));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let _ = LARGEST.try_with(|l| l.set(l.get().max(layout.size())));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = LARGEST.try_with(|l| l.set(l.get().max(new_size)));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: LargestAllocation = LargestAllocation;

/// Runs `f` and returns its result with the largest allocation it made on
/// this thread.
async fn largest_allocation_of<F: Future>(f: F) -> (F::Output, usize) {
    LARGEST.with(|l| l.set(0));
    let out = f.await;
    (out, LARGEST.with(Cell::get))
}

/// A reader that hands out its bytes one at a time, as a slow peer or a
/// fragmenting socket would.
struct Trickle {
    data: Vec<u8>,
    pos: usize,
}

impl AsyncRead for Trickle {
    fn poll_read(mut self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        if self.pos < self.data.len() && buf.remaining() > 0 {
            buf.put_slice(&[self.data[self.pos]]);
            self.pos += 1;
        }
        Poll::Ready(Ok(()))
    }
}

fn frame_with_len(len: u32, body: &[u8]) -> Vec<u8> {
    let mut f = len.to_be_bytes().to_vec();
    f.extend_from_slice(body);
    f
}

#[tokio::test]
async fn oversized_length_refused_without_allocating() {
    // Only the prefix is there: had the reader allocated and tried to read
    // the body, it would have reported Truncated, not TooLarge.
    let bytes = u32::MAX.to_be_bytes();
    let (res, largest) = largest_allocation_of(read_frame(&mut &bytes[..])).await;
    assert!(matches!(res, Err(FrameError::TooLarge(n)) if n == u32::MAX as usize), "{res:?}");
    assert!(largest < 4096, "read_frame allocated {largest} bytes for a refused frame");

    let just_over = frame_with_len(MAX_FRAME_LEN as u32 + 1, b"x");
    let (res, largest) = largest_allocation_of(read_frame(&mut &just_over[..])).await;
    assert!(matches!(res, Err(FrameError::TooLarge(n)) if n == MAX_FRAME_LEN + 1), "{res:?}");
    assert!(largest < 4096, "read_frame allocated {largest} bytes for a refused frame");
}

#[tokio::test]
async fn frame_of_exactly_the_cap_is_accepted() {
    let body = vec![0xa5; MAX_FRAME_LEN];
    let bytes = frame_with_len(MAX_FRAME_LEN as u32, &body);
    let got = read_frame(&mut &bytes[..]).await.expect("a frame of MAX_FRAME_LEN is allowed");
    assert_eq!(got.len(), MAX_FRAME_LEN);
    assert!(got == body);
}

#[tokio::test]
async fn largest_message_round_trips_and_one_byte_more_is_refused() {
    // Decoding `Ok` claims 4 bytes for the variant and 8 for the string's
    // length: 12 bytes besides the text, which is what bounds it (on the
    // wire the overhead is 6 bytes).
    let fits = Response::Ok { message: "x".repeat(MAX_FRAME_LEN - 12) };
    let frame = encode_frame(&fits).expect("the largest `Ok` encodes");
    assert_eq!(frame.len(), 4 + MAX_FRAME_LEN - 6);
    let back: Response = read_message(&mut &frame[..]).await.expect("and decodes");
    assert_eq!(back, fits);

    let too_big = Response::Ok { message: "x".repeat(MAX_FRAME_LEN - 11) };
    let res = encode_frame(&too_big);
    assert!(matches!(res, Err(FrameError::TooLarge(n)) if n == MAX_FRAME_LEN - 5), "{res:?}");
    // Even if sent, the reader refuses it.
    let body = codec::encode(&too_big).unwrap();
    let bytes = frame_with_len(body.len() as u32, &body);
    let res = read_message::<_, Response>(&mut &bytes[..]).await;
    assert!(matches!(res, Err(FrameError::Codec(CodecError::OverLimit(MAX_FRAME_LEN)))), "{res:?}");
}

/// bincode's decode limit counts in-memory bytes (8 for every string
/// length, 1 on the wire). One bound per direction: a reply may claim at
/// most `MAX_FRAME_LEN`, and the sender refuses one that would claim more
/// instead of sending what the reader must refuse.
#[test]
fn a_reply_is_sent_only_if_it_decodes() {
    // Worst ratio: empty strings, 1 byte on the wire, 8 claimed: fits a
    // frame, not the decode limit, so the sender refuses it.
    let plan = Response::Plan(Plan { stop: vec![String::new(); MAX_FRAME_LEN - 16], ..Default::default() });
    let body = codec::encode(&plan).unwrap();
    assert!(body.len() <= MAX_FRAME_LEN);
    assert!(matches!(codec::decode::<Response>(&body), Err(CodecError::OverLimit(MAX_FRAME_LEN))));
    assert!(matches!(encode_frame(&plan), Err(FrameError::TooLarge(_))));
    // An eighth of that is always accepted, by both.
    let plan = Response::Plan(Plan { stop: vec![String::new(); MAX_FRAME_LEN / 8 - 16], ..Default::default() });
    let frame = encode_frame(&plan).expect("a small-enough message encodes");
    assert!(codec::decode::<Response>(&frame[4..]).unwrap() == plan);
    // A large but ordinary status snapshot.
    let process = ProcessStatus {
        group: "mail".into(),
        tag: String::new(),
        mode: Mode::Respawn,
        levels: "run,runmore".into(),
        command: "/usr/sbin/sendmail -bD -q30m".into(),
        state: ProcessState::Running,
        pid: Some(12345),
        started_at_ms: Some(1_750_000_000_000),
        respawns: 3,
        last_exit: Some(ExitStatus::Code(1)),
        recent_exits: vec![
            ExitRecord {
                at_ms: 1_750_000_000_000,
                status: ExitStatus::Code(1),
                ran_ms: 1234,
                reason: None
            };
            10
        ],
        backoff_until_ms: None,
        start_error: None,
        in_file: true,
        ready: false,
        status_text: None,
        health: None,
        health_reason: None,
        listen: Vec::new(),
    };
    let processes: Vec<_> = (0..4700).map(|i| ProcessStatus { tag: format!("tag{i}"), ..process.clone() }).collect();
    let big = Response::Snapshot(Box::new(Snapshot { processes, ..Default::default() }));
    match encode_frame(&big) {
        Ok(frame) => assert!(codec::decode::<Response>(&frame[4..]).unwrap() == big),
        // Too large for one frame: the daemon sends it in chunks.
        Err(FrameError::TooLarge(_)) => {}
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn hostile_length_inside_a_request_is_refused_within_the_request_cap() {
    // Tell { group: <claims 2^40 bytes> }.
    let mut body = vec![1, 0xfd];
    body.extend((1u64 << 40).to_le_bytes());
    LARGEST.with(|l| l.set(0));
    let res = codec::decode::<Request>(&body);
    let largest = LARGEST.with(Cell::get);
    assert!(matches!(res, Err(CodecError::Decode(_) | CodecError::OverLimit(_))), "{res:?}");
    assert!(largest <= MAX_REQUEST_LEN, "decoding allocated {largest} bytes");
}

#[test]
fn a_request_that_fits_its_frame_but_claims_more_is_refused() {
    // A Tell whose group is 60 KiB: fits the 64 KiB request cap, but a
    // 100 KiB group claims more than a request may.
    let fits = Request::Tell { group: "g".repeat(60 * 1024), level: "l".into(), dry_run: false };
    let frame = encode_frame(&fits).expect("fits the request cap");
    assert!(codec::decode::<Request>(&frame[4..]).unwrap() == fits);
    let too_big = Request::Tell { group: "g".repeat(MAX_REQUEST_LEN), level: "l".into(), dry_run: false };
    assert!(matches!(encode_frame(&too_big), Err(FrameError::TooLarge(_))));
    let body = codec::encode(&too_big).unwrap();
    assert!(codec::decode::<Request>(&body).is_err());
}

#[tokio::test]
async fn a_request_frame_over_the_request_cap_is_refused_before_allocation() {
    let mut bytes = ((MAX_REQUEST_LEN + 1) as u32).to_be_bytes().to_vec();
    bytes.extend(vec![0u8; 16]);
    let (res, largest) = largest_allocation_of(read_message::<_, Request>(&mut &bytes[..])).await;
    assert!(matches!(res, Err(FrameError::TooLarge(n)) if n == MAX_REQUEST_LEN + 1), "{res:?}");
    assert!(largest < 4096, "read_message allocated {largest} bytes for a refused frame");
}

#[tokio::test]
async fn clean_eof_between_frames_is_closed() {
    assert!(matches!(read_frame(&mut &b""[..]).await, Err(FrameError::Closed)));

    let (mut client, server) = tokio::io::duplex(64);
    client.write_all(&encode_frame(&Request::Status).unwrap()).await.unwrap();
    drop(client);
    let mut server = server;
    let first: Request = read_message(&mut server).await.unwrap();
    assert_eq!(first, Request::Status);
    assert!(matches!(read_message::<_, Request>(&mut server).await, Err(FrameError::Closed)));
}

#[tokio::test]
async fn truncated_frame() {
    // Inside the length prefix.
    let res = read_frame(&mut &[0u8, 0][..]).await;
    assert!(matches!(res, Err(FrameError::Truncated)), "{res:?}");
    // Inside the body.
    let bytes = frame_with_len(10, b"abc");
    let res = read_frame(&mut &bytes[..]).await;
    assert!(matches!(res, Err(FrameError::Truncated)), "{res:?}");
    // A peer that vanishes mid-frame.
    let (mut client, mut server) = tokio::io::duplex(64);
    let frame = encode_frame(&Request::Hello { protocol: PROTOCOL_VERSION }).unwrap();
    client.write_all(&frame[..frame.len() - 1]).await.unwrap();
    drop(client);
    let res = read_message::<_, Request>(&mut server).await;
    assert!(matches!(res, Err(FrameError::Truncated)), "{res:?}");
}

#[tokio::test]
async fn two_frames_in_one_read_are_both_decoded_in_order() {
    let first = Request::Tell { group: "mail".into(), level: "run".into(), dry_run: true };
    let second = Request::Logs { tag: "mta".into(), lines: 20, follow: false };
    let mut bytes = encode_frame(&first).unwrap();
    bytes.extend(encode_frame(&second).unwrap());

    // Plain duplex: one write, then the reader asks for as much as it likes.
    let (mut client, server) = tokio::io::duplex(4096);
    client.write_all(&bytes).await.unwrap();
    drop(client);
    // Buffered, as the client and daemon read: one read() pulls in both.
    let mut server = BufReader::new(server);
    assert_eq!(read_message::<_, Request>(&mut server).await.unwrap(), first);
    assert_eq!(read_message::<_, Request>(&mut server).await.unwrap(), second);
    assert!(matches!(read_message::<_, Request>(&mut server).await, Err(FrameError::Closed)));
}

#[tokio::test]
async fn frames_arriving_byte_by_byte() {
    let msgs = [Request::Hello { protocol: 7 }, Request::Subscribe, Request::Reload];
    let mut data = Vec::new();
    for m in &msgs {
        data.extend(encode_frame(m).unwrap());
    }
    let mut r = Trickle { data, pos: 0 };
    for m in &msgs {
        assert_eq!(&read_message::<_, Request>(&mut r).await.unwrap(), m);
    }
    assert!(matches!(read_message::<_, Request>(&mut r).await, Err(FrameError::Closed)));
}

#[tokio::test]
async fn write_message_then_read_message() {
    let (mut a, mut b) = tokio::io::duplex(1024);
    let reply = Response::Error(ErrorReply {
        kind: ErrorKind::InvalidConfig,
        message: "invalid isinittab".into(),
        details: vec!["/etc/isinittab:3: empty tag".into()],
    });
    write_message(&mut a, &reply).await.unwrap();
    assert_eq!(read_message::<_, Response>(&mut b).await.unwrap(), reply);
}

#[tokio::test]
async fn garbage_inside_a_valid_frame_is_a_codec_error() {
    let bodies: [&[u8]; 5] = [
        &[],
        &[200],                             // no such Request variant
        &[1, 0xff, 0xff],                   // Tell with a malformed string length
        &[1, 3, b'a', 0xff, 0xfe, 0, 0],    // Tell with a group that is not UTF-8
        &[1, 0xfd, 0, 0, 0, 0, 0, 0, 0, 1], // Tell claiming a 2^56-byte group
    ];
    for body in bodies {
        let bytes = frame_with_len(body.len() as u32, body);
        let res = read_message::<_, Request>(&mut &bytes[..]).await;
        assert!(
            matches!(res, Err(FrameError::Codec(CodecError::Decode(_) | CodecError::OverLimit(_)))),
            "{body:?}: {res:?}"
        );
    }
    // The error is for humans and says what went wrong.
    let bytes = frame_with_len(1, &[200]);
    let err = read_message::<_, Request>(&mut &bytes[..]).await.unwrap_err();
    assert!(err.to_string().starts_with("malformed message"), "{err}");
}

#[test]
fn trailing_bytes_are_rejected_by_decode() {
    let mut body = codec::encode(&Request::Status).unwrap();
    assert_eq!(codec::decode::<Request>(&body).unwrap(), Request::Status);
    body.extend([0, 0]);
    let res = codec::decode::<Request>(&body);
    assert!(matches!(res, Err(CodecError::Trailing(2))), "{res:?}");
}

#[test]
fn hello_is_variant_zero_of_both_directions() {
    // What lets any two versions tell each other they disagree.
    assert_eq!(codec::encode(&Request::Hello { protocol: 9 }).unwrap()[0], 0);
    let hello = Response::Hello { protocol: 9, daemon: Default::default() };
    assert_eq!(codec::encode(&hello).unwrap()[0], 0);
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        any::<u32>().prop_map(|protocol| Request::Hello { protocol }),
        (".{0,12}", ".{0,12}", any::<bool>()).prop_map(|(group, level, dry_run)| Request::Tell {
            group,
            level,
            dry_run
        }),
        Just(Request::Status),
        Just(Request::Reload),
        Just(Request::Shutdown),
        (".{0,12}", any::<u32>(), any::<bool>()).prop_map(|(tag, lines, follow)| Request::Logs { tag, lines, follow }),
        Just(Request::Subscribe),
    ]
}

proptest! {
    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = codec::decode::<Request>(&bytes);
        let _ = codec::decode::<Response>(&bytes);
    }

    #[test]
    fn reading_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let mut r = &bytes[..];
            // Each call consumes at least one byte or ends the stream.
            for _ in 0..=bytes.len() {
                match read_message::<_, Request>(&mut r).await {
                    Ok(_) | Err(FrameError::Codec(_)) => continue,
                    Err(_) => break,
                }
            }
        });
    }

    #[test]
    fn requests_round_trip(req in request()) {
        let body = codec::encode(&req).unwrap();
        prop_assert_eq!(codec::decode::<Request>(&body).unwrap(), req);
    }
}

/// The blocking reader of the command line's one-shot requests keeps the
/// async reader's bounds and errors.
#[test]
fn the_blocking_reader_has_the_async_readers_bounds_and_errors() {
    let over = frame_with_len(u32::MAX, b"");
    let (res, largest) = {
        LARGEST.with(|l| l.set(0));
        let res = read_sized_message_blocking::<_, Response>(&mut &over[..]);
        (res, LARGEST.with(Cell::get))
    };
    assert!(matches!(res, Err(FrameError::TooLarge(n)) if n == u32::MAX as usize), "{res:?}");
    assert!(largest < 4096, "allocated {largest} bytes for a refused frame");

    assert!(matches!(read_sized_message_blocking::<_, Request>(&mut &b""[..]), Err(FrameError::Closed)));
    let res = read_sized_message_blocking::<_, Request>(&mut &[0u8, 0][..]);
    assert!(matches!(res, Err(FrameError::Truncated)), "{res:?}");
    let res = read_sized_message_blocking::<_, Request>(&mut &frame_with_len(10, b"abc")[..]);
    assert!(matches!(res, Err(FrameError::Truncated)), "{res:?}");

    let mut two = encode_frame(&Request::Status).unwrap();
    two.extend(encode_frame(&Request::Reload).unwrap());
    let mut reader = &two[..];
    let (first, len) = read_sized_message_blocking::<_, Request>(&mut reader).unwrap();
    assert_eq!((first, len), (Request::Status, encode_frame(&Request::Status).unwrap().len() - 4));
    assert_eq!(read_sized_message_blocking::<_, Request>(&mut reader).unwrap().0, Request::Reload);
    assert!(matches!(read_sized_message_blocking::<_, Request>(&mut reader), Err(FrameError::Closed)));
}

#[test]
fn starts_with_frame_needs_the_whole_first_frame() {
    let frame = encode_frame(&Request::Tell { group: "g".into(), level: "1".into(), dry_run: false }).unwrap();
    for cut in 0..frame.len() {
        assert!(!starts_with_frame(&frame[..cut]), "{cut} of {} bytes", frame.len());
    }
    assert!(starts_with_frame(&frame));
    let mut more = frame.clone();
    more.extend_from_slice(&[0, 0]);
    assert!(starts_with_frame(&more));
    assert!(starts_with_frame(&[0, 0, 0, 0]), "an empty body is a whole frame");
}
