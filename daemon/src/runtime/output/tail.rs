//! One tag's output as the actor knows it: how far its file has been read,
//! the line being assembled, and the recent lines. Files are read in
//! bounded chunks, and at most a bounded amount per call, so one tag with
//! a huge backlog can neither bloat the daemon nor keep the actor from
//! answering.

use isinit_shared::protocol::OutputLine;
use isinit_shared::time::now_ms;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use tokio::sync::broadcast;

use super::LINES_KEPT;

/// Longest line kept; longer ones are cut, so one runaway line cannot
/// bloat the daemon.
const MAX_LINE: usize = 4096;
/// How far back into an existing file the first read of a tag looks.
const SEED_BYTES: u64 = 64 * 1024;
/// Size of one read from a file.
pub(super) const CHUNK: usize = 64 * 1024;
/// Unread output past which the oldest is skipped rather than read: more
/// than twice what [`LINES_KEPT`] lines of [`MAX_LINE`] bytes can hold, so
/// only a process writing faster than the daemon can read ever loses
/// lines in memory (never on disk), and is told so.
const MAX_BACKLOG: u64 = 2 * (LINES_KEPT * MAX_LINE) as u64;
/// Lines a slow follower may fall behind before it is told it missed some.
const FOLLOW_BUFFER: usize = 1024;

/// What is known of one tag's file.
pub(super) struct TagOutput {
    /// How far the file has been read.
    pub(super) offset: u64,
    /// Bytes after the last newline, waiting for the rest of their line.
    partial: Vec<u8>,
    /// Set when reading started mid-line: the first line read is a fragment.
    skip_fragment: bool,
    /// The recent lines, without their tag (the map's key): a thousand
    /// tags keep a line or two each.
    lines: VecDeque<Kept>,
    /// Live followers (`logs -f`, the console); created on first follow.
    follow: Option<broadcast::Sender<OutputLine>>,
}

/// One recent line.
struct Kept {
    at_ms: isinit_shared::time::UnixMillis,
    text: Box<str>,
}

/// Whether a read reached the end of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Progress {
    /// Everything written so far has been read.
    AtEnd,
    /// The read budget ran out first: call again.
    More,
}

impl TagOutput {
    /// Starts near the end of an existing file (or just before `position`,
    /// where a previous daemon stopped reading) so history survives a
    /// daemon restart without replaying megabytes.
    pub(super) fn starting_at(path: &Path, position: Option<u64>) -> TagOutput {
        let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let start = position.unwrap_or(len).min(len).saturating_sub(SEED_BYTES);
        TagOutput { offset: start, partial: Vec::new(), skip_fragment: start > 0, lines: VecDeque::new(), follow: None }
    }

    /// The last `n` lines kept, fewer if they would take more than
    /// `budget` bytes of text (so the reply fits a frame).
    pub(super) fn last(&self, tag: &str, n: usize, budget: usize) -> Vec<OutputLine> {
        let lines: Vec<OutputLine> = self
            .lines
            .iter()
            .rev()
            .take(n)
            .map(|k| OutputLine { tag: tag.to_string(), at_ms: k.at_ms, text: k.text.to_string() })
            .collect();
        isinit_shared::protocol::group_logs::last_lines(lines.iter().rev(), n, None, budget)
    }

    /// A receiver of every line read from now on.
    pub(super) fn subscribe(&mut self) -> broadcast::Receiver<OutputLine> {
        self.follow.get_or_insert_with(|| broadcast::channel(FOLLOW_BUFFER).0).subscribe()
    }

    /// Reads what is new in `path`, at most `budget` bytes of it, through
    /// `buf`. A file shorter than what was read was truncated behind our
    /// back: reading starts over.
    pub(super) fn read_new(&mut self, tag: &str, path: &Path, buf: &mut [u8], budget: u64) -> Progress {
        let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if len < self.offset {
            self.offset = 0;
            self.partial.clear();
            self.skip_fragment = false;
        }
        let unread = len - self.offset;
        if unread > MAX_BACKLOG {
            let skipped = unread - SEED_BYTES;
            self.offset += skipped;
            self.partial.clear();
            self.skip_fragment = true;
            self.push(OutputLine {
                tag: tag.to_string(),
                at_ms: now_ms(),
                text: format!("[isinit: {skipped} bytes of output skipped: written faster than read; see the file]"),
            });
        }
        self.read_from(tag, path, buf, budget)
    }

    /// Reads `path` from `offset`, at most `budget` bytes, in chunks.
    pub(super) fn read_from(&mut self, tag: &str, path: &Path, buf: &mut [u8], budget: u64) -> Progress {
        let Some(mut file) = open_regular(path) else { return Progress::AtEnd };
        if file.seek(SeekFrom::Start(self.offset)).is_err() {
            return Progress::AtEnd;
        }
        let mut left = budget;
        while left > 0 {
            let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            match file.read(&mut buf[..want]) {
                Ok(0) => return Progress::AtEnd,
                Ok(n) => {
                    self.offset += n as u64;
                    left = left.saturating_sub(n as u64);
                    self.absorb(tag, &buf[..n]);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    tracing::debug!("cannot read {}: {e}", path.display());
                    return Progress::AtEnd;
                }
            }
        }
        Progress::More
    }

    /// Splits bytes into lines, cutting each at [`MAX_LINE`].
    fn absorb(&mut self, tag: &str, bytes: &[u8]) {
        let at_ms = now_ms();
        let mut rest = bytes;
        while let Some(nl) = rest.iter().position(|b| *b == b'\n') {
            let (line, tail) = rest.split_at(nl);
            rest = &tail[1..];
            if std::mem::take(&mut self.skip_fragment) {
                self.partial.clear();
                continue;
            }
            let room = MAX_LINE.saturating_sub(self.partial.len());
            self.partial.extend_from_slice(&line[..line.len().min(room)]);
            let text = String::from_utf8_lossy(&self.partial).into_owned();
            self.partial.clear();
            self.push(OutputLine { tag: tag.to_string(), at_ms, text });
        }
        let room = MAX_LINE.saturating_sub(self.partial.len());
        self.partial.extend_from_slice(&rest[..rest.len().min(room)]);
        if self.partial.is_empty() {
            // Its room is given back: most output ends in a newline.
            self.partial = Vec::new();
        }
    }

    fn push(&mut self, line: OutputLine) {
        if let Some(tx) = &self.follow {
            if tx.receiver_count() == 0 {
                self.follow = None;
            } else {
                let _ = tx.send(line.clone());
            }
        }
        self.lines.push_back(Kept { at_ms: line.at_ms, text: line.text.into_boxed_str() });
        if self.lines.len() > LINES_KEPT {
            self.lines.pop_front();
        }
    }
}

/// Opens `path` for reading if it is a regular file. Never blocks: a FIFO
/// or device put where an output file belongs would otherwise hang the
/// actor on `open` or `read`.
fn open_regular(path: &Path) -> Option<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path).ok()?;
    file.metadata().ok()?.is_file().then_some(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_with(bytes: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.log");
        std::fs::File::create(&path).unwrap().write_all(bytes).unwrap();
        (dir, path)
    }

    fn texts(out: &TagOutput) -> Vec<String> {
        out.last("t", LINES_KEPT, usize::MAX).into_iter().map(|l| l.text).collect()
    }

    #[test]
    fn a_read_stops_at_its_budget_and_resumes() {
        let (_dir, path) = file_with(&b"0123456789\n".repeat(100));
        let mut out = TagOutput::starting_at(&path, Some(0));
        let mut buf = vec![0; 16];
        assert_eq!(out.read_new("t", &path, &mut buf, 500), Progress::More);
        assert_eq!(out.offset, 500);
        assert_eq!(texts(&out).len(), 45);
        assert_eq!(out.read_new("t", &path, &mut buf, 10_000), Progress::AtEnd);
        assert_eq!(texts(&out).len(), 100);
        assert!(texts(&out).iter().all(|t| t == "0123456789"));
    }

    #[test]
    fn a_huge_backlog_is_skipped_not_read() {
        let big = vec![b'x'; (MAX_BACKLOG + SEED_BYTES * 2) as usize];
        let (_dir, path) = file_with(&big);
        let mut out = TagOutput::starting_at(&path, Some(0));
        let mut buf = vec![0; CHUNK];
        out.read_new("t", &path, &mut buf, u64::MAX);
        let t = texts(&out);
        assert_eq!(t.len(), 1);
        assert!(t[0].contains("bytes of output skipped"), "{t:?}");
        assert_eq!(out.offset, big.len() as u64);
    }

    #[test]
    fn long_lines_are_cut_and_nothing_grows_past_the_bounds() {
        let mut bytes = vec![b'y'; MAX_LINE * 3];
        bytes.push(b'\n');
        for i in 0..LINES_KEPT + 50 {
            bytes.extend(format!("line {i}\n").as_bytes());
        }
        bytes.extend(vec![b'z'; MAX_LINE * 2]);
        let (_dir, path) = file_with(&bytes);
        let mut out = TagOutput::starting_at(&path, Some(0));
        let mut buf = vec![0; 1000];
        out.read_new("t", &path, &mut buf, u64::MAX);
        let t = texts(&out);
        assert_eq!(t.len(), LINES_KEPT);
        assert_eq!(t.last().map(String::as_str), Some(format!("line {}", LINES_KEPT + 49).as_str()));
        assert!(out.partial.len() <= MAX_LINE);
        let (_dir2, path2) = file_with(&bytes[..MAX_LINE * 3 + 1]);
        let mut first = TagOutput::starting_at(&path2, Some(0));
        first.read_new("t", &path2, &mut buf, u64::MAX);
        assert_eq!(texts(&first)[0].len(), MAX_LINE);
    }

    #[test]
    fn a_reply_is_trimmed_to_its_byte_budget() {
        let (_dir, path) = file_with(&b"abcdefghij\n".repeat(10));
        let mut out = TagOutput::starting_at(&path, Some(0));
        out.read_new("t", &path, &mut [0; 64], u64::MAX);
        assert_eq!(out.last("t", 5, usize::MAX).len(), 5);
        // Each line costs 10 + 1 + 32 bytes of budget: two fit in 100.
        assert_eq!(out.last("t", 10, 100).len(), 2);
    }

    #[test]
    fn the_seed_starts_mid_file_and_drops_the_fragment() {
        let mut bytes = Vec::new();
        for i in 0..20_000 {
            bytes.extend(format!("l{i}\n").as_bytes());
        }
        let (_dir, path) = file_with(&bytes);
        let mut out = TagOutput::starting_at(&path, None);
        out.read_new("t", &path, &mut [0; 4096], u64::MAX);
        let t = texts(&out);
        assert_eq!(t.len(), LINES_KEPT);
        assert_eq!(t.last().map(String::as_str), Some("l19999"));
        assert!(t.iter().all(|l| l.starts_with('l')));
    }
}
