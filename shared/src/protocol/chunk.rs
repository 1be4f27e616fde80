//! Snapshots larger than one frame.
//!
//! A daemon with many thousands of entries (or very long commands) has a
//! snapshot whose encoding exceeds [`MAX_FRAME_LEN`]. Rather than failing
//! `status` and the console, the daemon sends it as a run of
//! [`Response::SnapshotChunk`]s, each a frame of its own, which the client
//! joins back. Each chunk is a [`Snapshot`]: the first with the daemon,
//! groups, audit and notices and as many processes as fit; the others with
//! processes only.
//!
//! The joiner is bounded like any other stream: at most [`MAX_CHUNKS`]
//! chunks and [`MAX_JOINED_BYTES`] of frames, so a daemon (or whatever
//! answers on its socket) cannot make a client buffer without end.

use super::codec::{self, CLAIM_RATIO, CodecError};
use super::{MAX_FRAME_LEN, Response, Snapshot};

/// Room kept in every chunk for the frame's enum tag and the chunk's own
/// fields.
const SLACK: usize = 4096;

/// Most chunks one snapshot may arrive in.
pub const MAX_CHUNKS: usize = 1024;
/// Most frame bytes one joined snapshot may take (a snapshot of some
/// 300,000 processes).
pub const MAX_JOINED_BYTES: usize = 64 * 1024 * 1024;

/// Splits `snapshot` into chunks each of which fits a frame and the decode
/// limit of a reply: a chunk's wire size is kept under a [`CLAIM_RATIO`]th
/// of the frame cap, so whatever its fields, decoding it cannot claim more
/// than the cap.
///
/// Fails only if one process row alone exceeds that, which the
/// isinittab's line lengths make impossible in practice.
pub fn split(snapshot: Snapshot) -> Result<Vec<Response>, CodecError> {
    split_at(snapshot, MAX_FRAME_LEN / CLAIM_RATIO - SLACK)
}

fn split_at(mut snapshot: Snapshot, budget: usize) -> Result<Vec<Response>, CodecError> {
    let processes = std::mem::take(&mut snapshot.processes);
    let mut parts = vec![snapshot];
    let mut size = codec::encode(&parts[0])?.len();
    for p in processes {
        let row = codec::encode(&p)?.len();
        if row + SLACK > budget {
            return Err(CodecError::Encode(format!("process `{}` alone exceeds a frame", p.tag)));
        }
        if size + row > budget {
            parts.push(Snapshot { seq: parts[0].seq, ..Snapshot::default() });
            size = codec::encode(&parts[parts.len() - 1])?.len();
        }
        size += row;
        if let Some(last) = parts.last_mut() {
            last.processes.push(p);
        }
    }
    let n = parts.len();
    Ok(parts
        .into_iter()
        .enumerate()
        .map(|(i, part)| Response::SnapshotChunk { part: Box::new(part), more: i + 1 < n })
        .collect())
}

/// A run of chunks past the joiner's bounds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    /// More than [`MAX_CHUNKS`] chunks without an end.
    #[error("snapshot refused: more than {MAX_CHUNKS} chunks")]
    TooManyChunks,
    /// The chunks' frames add up to more than [`MAX_JOINED_BYTES`].
    #[error("snapshot refused: more than {MAX_JOINED_BYTES} bytes")]
    TooLarge,
}

/// Joins chunks back into one snapshot, within [`MAX_CHUNKS`] and
/// [`MAX_JOINED_BYTES`].
#[derive(Debug, Default)]
pub struct Joiner {
    whole: Option<Snapshot>,
    chunks: usize,
    bytes: usize,
}

impl Joiner {
    /// Adds one chunk, which arrived in a frame of `frame_len` bytes;
    /// returns the whole snapshot after the last one. Past a bound, the
    /// chunks so far are dropped and the error says which bound.
    pub fn push(&mut self, part: Snapshot, more: bool, frame_len: usize) -> Result<Option<Snapshot>, JoinError> {
        self.chunks += 1;
        self.bytes = self.bytes.saturating_add(frame_len);
        let over = if self.chunks > MAX_CHUNKS {
            Some(JoinError::TooManyChunks)
        } else if self.bytes > MAX_JOINED_BYTES {
            Some(JoinError::TooLarge)
        } else {
            None
        };
        if let Some(e) = over {
            *self = Joiner::default();
            return Err(e);
        }
        match &mut self.whole {
            None => self.whole = Some(part),
            Some(whole) => whole.processes.extend(part.processes),
        }
        if more {
            return Ok(None);
        }
        let whole = self.whole.take();
        *self = Joiner::default();
        Ok(whole)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Mode;
    use crate::protocol::{GroupState, GroupStatus, ProcessState, ProcessStatus};

    fn row(i: usize) -> ProcessStatus {
        ProcessStatus {
            group: "big".into(),
            tag: format!("t{i}"),
            mode: Mode::Once,
            levels: "1".into(),
            command: "x".repeat(300),
            state: ProcessState::NotStarted,
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
        }
    }

    fn big(n: usize) -> Snapshot {
        Snapshot {
            seq: 7,
            groups: vec![GroupStatus {
                name: "big".into(),
                level: None,
                state: GroupState::Configured,
                since_ms: 0,
                levels: vec!["1".into()],
                in_file: true,
                owner: None,
            }],
            processes: (0..n).map(row).collect(),
            ..Snapshot::default()
        }
    }

    #[test]
    fn a_large_snapshot_splits_into_frames_and_joins_back_in_order() {
        let snap = big(5000);
        assert!(codec::encode(&snap).unwrap().len() > MAX_FRAME_LEN, "the test needs an oversized snapshot");
        let chunks = split(snap.clone()).unwrap();
        assert!(chunks.len() > 1);
        let mut joiner = Joiner::default();
        let mut joined = None;
        for (i, c) in chunks.into_iter().enumerate() {
            let body = codec::encode(&c).unwrap();
            assert!(codec::fits::<Response>(&body), "chunk {i} fits a frame and the decode limit");
            let Response::SnapshotChunk { part, more } = c else { panic!("chunk {i} is not a chunk") };
            assert!(joined.is_none(), "nothing after the last chunk");
            joined = joiner.push(*part, more, body.len()).unwrap();
        }
        assert_eq!(joined, Some(snap));
    }

    #[test]
    fn the_joiner_refuses_endless_chunks() {
        let mut joiner = Joiner::default();
        for _ in 0..MAX_CHUNKS {
            assert_eq!(joiner.push(Snapshot::default(), true, 10), Ok(None));
        }
        assert_eq!(joiner.push(Snapshot::default(), true, 10), Err(JoinError::TooManyChunks));
        // It starts afresh after refusing.
        assert_eq!(joiner.push(Snapshot::default(), false, 10), Ok(Some(Snapshot::default())));
    }

    #[test]
    fn the_joiner_refuses_more_bytes_than_its_bound() {
        let mut joiner = Joiner::default();
        let frame = MAX_FRAME_LEN;
        for _ in 0..MAX_JOINED_BYTES / frame {
            assert_eq!(joiner.push(Snapshot::default(), true, frame), Ok(None));
        }
        assert_eq!(joiner.push(Snapshot::default(), true, 1), Err(JoinError::TooLarge));
    }

    #[test]
    fn joined_snapshots_do_not_leak_into_the_next() {
        let mut joiner = Joiner::default();
        let first = joiner.push(big(2), false, 100).unwrap().unwrap();
        assert_eq!(first.processes.len(), 2);
        let second = joiner.push(big(1), false, 100).unwrap().unwrap();
        assert_eq!(second.processes.len(), 1);
    }

    #[test]
    fn a_small_snapshot_is_one_chunk() {
        let chunks = split(big(3)).unwrap();
        assert!(matches!(&chunks[..], [Response::SnapshotChunk { more: false, .. }]));
    }

    #[test]
    fn a_row_larger_than_a_frame_is_an_error() {
        assert!(split_at(big(2), 200).is_err());
    }
}
