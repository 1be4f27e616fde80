//! Noticing that the log directory is full, and that it has room again.
//!
//! Children write their output themselves; when the filesystem fills up
//! their writes fail and nothing tells the daemon, while services keep
//! running and their output silently goes missing. The actor checks the
//! free space on each wake-up (one `statvfs`, no polling: writes are what
//! wake it, and the last writes before the disk fills are among them), and
//! says so once when space runs out and once when it is back — in the
//! daemon's log and as a notice in `status` and the console.

use crate::runtime::Command;
use std::path::PathBuf;
use tokio::sync::{mpsc, watch};

/// Below this many free bytes the directory counts as full (here, and for
/// the node's health: one meaning of "full").
pub(crate) const LOW: u64 = 64 * 1024;
/// From this many free bytes on it has room again (a margin, so a
/// directory hovering at the limit does not flood the notices).
const HIGH: u64 = 256 * 1024;

/// Whether the log directory was last seen full.
pub(super) struct SpaceWatch {
    logdir: PathBuf,
    full: bool,
    notices: mpsc::Sender<Command>,
    /// The same judgement, for the node's health.
    published: watch::Sender<bool>,
}

impl SpaceWatch {
    /// A watch over `logdir`, which sends its notices to the runtime.
    pub(super) fn new(logdir: PathBuf, notices: mpsc::Sender<Command>, published: watch::Sender<bool>) -> SpaceWatch {
        SpaceWatch { logdir, full: false, notices, published }
    }

    /// Checks the free space; notices a change of state.
    pub(super) fn check(&mut self) {
        let Some(free) = free_bytes(&self.logdir) else { return };
        let message = if !self.full && free < LOW {
            self.full = true;
            format!(
                "log directory {} is full ({free} bytes free): processes keep running, but their output is lost until space is freed",
                self.logdir.display()
            )
        } else if self.full && free >= HIGH {
            self.full = false;
            format!(
                "log directory {} has room again ({free} bytes free): output capture resumed",
                self.logdir.display()
            )
        } else {
            return;
        };
        self.published.send_replace(self.full);
        tracing::warn!("{message}");
        // The runtime's queue is deep; should it ever be full, the daemon's
        // log above still has the notice.
        let _ = self.notices.try_send(Command::Notice { message });
    }
}

/// Bytes the daemon's children may still write under `dir` (root may use
/// the blocks reserved for it).
pub(crate) fn free_bytes(dir: &std::path::Path) -> Option<u64> {
    let st = nix::sys::statvfs::statvfs(dir).ok()?;
    let blocks = if nix::unistd::geteuid().is_root() { st.blocks_free() } else { st.blocks_available() };
    Some(blocks.saturating_mul(st.fragment_size()))
}
