//! Rotation: a file that grows past the size limit loses its head without
//! disturbing the children, who keep their `O_APPEND` descriptors. The part
//! already read (whole filesystem blocks) is copied to `TAG.log.1` and cut
//! from the head of the file with `FALLOC_FL_COLLAPSE_RANGE`, which the
//! kernel performs under the inode lock, so no line is lost. On filesystems
//! without it (tmpfs) the file is copied and truncated instead, and lines
//! written in the instant between copy and truncate can be lost.
//!
//! With the log directory full, the copy cannot be written: the head is
//! then cut without a copy (it has been read, and is in memory), so the
//! file stays bounded and space is freed rather than taken.

use super::tail::TagOutput;
use std::fs::File;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

impl TagOutput {
    /// Rotates `path`, everything of which has been read.
    pub(super) fn rotate(&mut self, tag: &str, path: &Path, buf: &mut [u8]) {
        let mut old = path.as_os_str().to_owned();
        old.push(".1");
        let old = PathBuf::from(old);
        match collapse_head(path, &old, self.offset) {
            // Less than one filesystem block read: rotate once there is.
            Ok(0) => {}
            Ok(removed) => self.offset -= removed,
            Err(e) => {
                tracing::debug!("cannot collapse {} ({e}); copying and truncating instead", path.display());
                self.copy_truncate(tag, path, &old, buf);
            }
        }
    }

    /// The fallback for filesystems without `FALLOC_FL_COLLAPSE_RANGE`
    /// (tmpfs): lines written between the copy and the truncate are lost.
    fn copy_truncate(&mut self, tag: &str, path: &Path, old: &Path, buf: &mut [u8]) {
        let copied = std::fs::copy(path, old);
        if let Err(e) = &copied {
            // A partial copy only takes space.
            let _ = std::fs::remove_file(old);
            if !is_full(e) {
                tracing::warn!("cannot rotate {}: {e}", path.display());
                return;
            }
            tracing::warn!("log directory full: {tag}'s oldest output dropped instead of kept in {}", old.display());
        }
        if let Err(e) = std::fs::OpenOptions::new().write(true).open(path).and_then(|f| f.set_len(0)) {
            tracing::warn!("cannot truncate {}: {e}", path.display());
            return;
        }
        if copied.is_ok() {
            // What was written after the last read is in the copy.
            self.read_from(tag, old, buf, u64::MAX);
        }
        self.offset = 0;
    }
}

/// Whether an I/O error means the filesystem is full.
pub(super) fn is_full(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
}

/// Moves the first bytes of `path` — as many whole filesystem blocks as
/// have been `read` — into `old`, then removes them from `path` with
/// `FALLOC_FL_COLLAPSE_RANGE`. The kernel does that under the inode lock,
/// so children appending with `O_APPEND` lose nothing. Returns how many
/// bytes left the file.
fn collapse_head(path: &Path, old: &Path, read: u64) -> std::io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    let file = std::fs::OpenOptions::new().read(true).write(true).open(path)?;
    let meta = file.metadata()?;
    let block = meta.blksize().max(512);
    // The collapsed range must end before the end of the file.
    let head = read.min(meta.len().saturating_sub(1)) / block * block;
    if head == 0 {
        return Ok(0);
    }
    let len = libc::off_t::try_from(head).map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    let mut tmp = old.as_os_str().to_owned();
    tmp.push(".tmp");
    let kept = copy_head(&file, head, Path::new(&tmp));
    if let Err(e) = &kept {
        let _ = std::fs::remove_file(&tmp);
        if !is_full(e) {
            return Err(std::io::Error::new(e.kind(), e.to_string()));
        }
        tracing::warn!(
            "log directory full: {} bytes of {} dropped instead of kept in {}",
            head,
            path.display(),
            old.display()
        );
    }
    // SAFETY: fallocate on an open descriptor with in-range arguments.
    let rc = unsafe { libc::fallocate(file.as_raw_fd(), libc::FALLOC_FL_COLLAPSE_RANGE, 0, len) };
    if rc != 0 {
        let e = std::io::Error::last_os_error();
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    if kept.is_ok() {
        std::fs::rename(&tmp, old)?;
    }
    Ok(head)
}

/// Copies the first `head` bytes of `file` to a new file at `to` (in the
/// kernel where it can: `copy_file_range`).
fn copy_head(file: &File, head: u64, to: &Path) -> std::io::Result<()> {
    let mut copy = File::create(to)?;
    std::io::copy(&mut file.take(head), &mut copy).map(drop)
}
