//! Any bytes, as the daemon reads them from a client (and a client from
//! the daemon): a stream of frames, each decoded as a message. Nothing may
//! panic, hang or allocate past the caps; whatever decodes must encode back
//! to bytes that decode to the same message.

#![no_main]

use isinit_shared::protocol::codec::{self, Message};
use isinit_client::frame::{FrameError, encode_frame, read_message};
use isinit_shared::protocol::{Request, Response};
use libfuzzer_sys::fuzz_target;
use std::fmt::Debug;
use std::future::Future;
use std::task::{Context, Poll, Waker};

/// Every allocation over the limit aborts the run (see the library).
#[global_allocator]
static ALLOCATOR: isinit_fuzz::CappedAllocator = isinit_fuzz::CappedAllocator;

/// Runs a future that never waits: reading from a byte slice is always
/// ready, so no runtime is needed.
fn ready<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("reading from a slice waited"),
    }
}

/// Reads frames of `T` until the bytes run out or a frame is refused.
fn read_stream<T: Message + PartialEq + Debug>(data: &[u8]) {
    let mut r = data;
    loop {
        let before = r.len();
        match ready(read_message::<_, T>(&mut r)) {
            Ok(msg) => round_trip(&msg),
            Err(FrameError::Codec(_)) => {}
            Err(_) => return,
        }
        assert!(r.len() < before, "a frame was read without consuming input");
    }
}

fn round_trip<T: Message + PartialEq + Debug>(msg: &T) {
    let frame = encode_frame(msg).expect("a message that was read can be sent");
    let back: T = codec::decode(&frame[4..]).expect("what was sent decodes");
    assert_eq!(&back, msg);
}

fuzz_target!(|data: &[u8]| {
    // The bytes as a single frame body of each direction...
    if let Ok(req) = codec::decode::<Request>(data) {
        round_trip(&req);
    }
    if let Ok(resp) = codec::decode::<Response>(data) {
        round_trip(&resp);
    }
    // ...and as a stream of frames.
    read_stream::<Request>(data);
    read_stream::<Response>(data);
});
