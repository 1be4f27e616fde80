//! A run of snapshot chunks as the client joins them, including runs no
//! honest daemon sends (endless, oversized, interleaved with other
//! replies). The joiner must stay within its bounds and never lose or
//! invent a process.
//!
//! Input: a count of operations, then that many 4-byte operations `[flags,
//! size_hi, size_lo, repeat]`: push `repeat + 1` empty chunks, `more` = bit
//! 3 of flags, each in a frame of `size << (flags >> 4)` bytes (this
//! reaches the bounds). The rest is read as frames of real bytes, so the
//! decoder's chunks, processes and all, reach the joiner too.

#![no_main]

use isinit_shared::protocol::chunk::{JoinError, Joiner, MAX_CHUNKS, MAX_JOINED_BYTES};
use isinit_client::frame::read_sized_message;
use isinit_shared::protocol::{Response, Snapshot};
use libfuzzer_sys::fuzz_target;
use std::future::Future;
use std::task::{Context, Poll, Waker};

/// Every allocation over the limit aborts the run (see the library).
#[global_allocator]
static ALLOCATOR: isinit_fuzz::CappedAllocator = isinit_fuzz::CappedAllocator;

fn ready<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("reading from a slice waited"),
    }
}

/// The joiner under test and what it must hold.
#[derive(Default)]
struct Model {
    joiner: Joiner,
    chunks: usize,
    bytes: usize,
    processes: usize,
}

impl Model {
    fn push(&mut self, part: Snapshot, more: bool, frame_len: usize) {
        let n = part.processes.len();
        self.chunks += 1;
        self.bytes = self.bytes.saturating_add(frame_len);
        match self.joiner.push(part, more, frame_len) {
            Ok(Some(whole)) => {
                assert!(!more);
                assert!(self.chunks <= MAX_CHUNKS && self.bytes <= MAX_JOINED_BYTES);
                assert_eq!(whole.processes.len(), self.processes + n, "processes lost or invented");
                *self = Model { joiner: std::mem::take(&mut self.joiner), ..Model::default() };
            }
            Ok(None) => {
                assert!(more);
                assert!(self.chunks <= MAX_CHUNKS && self.bytes <= MAX_JOINED_BYTES);
                self.processes += n;
            }
            Err(JoinError::TooManyChunks) => {
                assert!(self.chunks > MAX_CHUNKS);
                *self = Model { joiner: std::mem::take(&mut self.joiner), ..Model::default() };
            }
            Err(JoinError::TooLarge) => {
                assert!(self.bytes > MAX_JOINED_BYTES);
                *self = Model { joiner: std::mem::take(&mut self.joiner), ..Model::default() };
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut model = Model::default();
    let Some((&count, rest)) = data.split_first() else { return };
    let ops_len = (usize::from(count) * 4).min(rest.len() / 4 * 4);
    let (ops, mut r) = rest.split_at(ops_len);
    // Enough pushes to cross the chunk bound, and no more: every input
    // stays fast.
    let mut pushes_left = MAX_CHUNKS + 8;
    for op in ops.chunks_exact(4) {
        let [flags, hi, lo, repeat] = [op[0], op[1], op[2], op[3]];
        let size = usize::from(u16::from_be_bytes([hi, lo])) << (flags >> 4);
        for _ in 0..=repeat {
            let Some(left) = pushes_left.checked_sub(1) else { break };
            pushes_left = left;
            model.push(Snapshot::default(), flags & 8 != 0, size);
        }
    }
    // The rest as frames off the wire, as `Client::recv` reads them.
    while let Ok((msg, len)) = ready(read_sized_message::<_, Response>(&mut r)) {
        if let Response::SnapshotChunk { part, more } = msg {
            model.push(*part, more, len);
        }
    }
});
