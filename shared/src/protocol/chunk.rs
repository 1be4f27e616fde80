//! Snapshots larger than one frame.
//!
//! A daemon with many thousands of entries (or very long commands) has a
//! snapshot whose encoding exceeds [`MAX_FRAME_LEN`]. Rather than failing
//! `status` and the console, the daemon sends it as a run of
//! [`Response::SnapshotChunk`]s, each a frame of its own, which the client
//! joins back. Each chunk is a [`Snapshot`]: the first with the daemon,
//! groups, audit and notices and as many processes as fit; the others with
//! processes only.

use super::codec::{self, CodecError};
use super::{MAX_FRAME_LEN, Response, Snapshot};

/// Room kept in every chunk for the frame's enum tag and the chunk's own
/// fields.
const SLACK: usize = 4096;

/// Splits `snapshot` into chunks whose encodings each fit a frame.
///
/// Fails only if one process row alone exceeds a frame, which the
/// isinittab's line lengths make impossible in practice.
pub fn split(snapshot: Snapshot) -> Result<Vec<Response>, CodecError> {
    split_at(snapshot, MAX_FRAME_LEN - SLACK)
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

/// Joins chunks back into one snapshot.
#[derive(Debug, Default)]
pub struct Joiner {
    whole: Option<Snapshot>,
}

impl Joiner {
    /// Adds one chunk; returns the whole snapshot after the last one.
    pub fn push(&mut self, part: Snapshot, more: bool) -> Option<Snapshot> {
        match &mut self.whole {
            None => self.whole = Some(part),
            Some(whole) => whole.processes.extend(part.processes),
        }
        if more { None } else { self.whole.take() }
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
            assert!(codec::encode(&c).unwrap().len() <= MAX_FRAME_LEN, "chunk {i} fits a frame");
            let Response::SnapshotChunk { part, more } = c else { panic!("chunk {i} is not a chunk") };
            assert!(joined.is_none(), "nothing after the last chunk");
            joined = joiner.push(*part, more);
        }
        assert_eq!(joined, Some(snap));
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
