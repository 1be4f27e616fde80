//! The daemon's log: stderr, and the daemon log file (`--log`, `:::log:`)
//! kept off the supervisor's thread (SPEC §15): a disk that hangs — a stopped NFS server, a stalled
//! FUSE mount — blocks whoever touches it, and that must never be the
//! runtime, at start, at `reexec`, or on any line logged.
//!
//! Lines go to the file through tracing-appender's non-blocking writer: a
//! thread of its own writes them, from a bounded queue that drops lines
//! (lossy) rather than wait when the disk does not answer. Opening the
//! file happens on a thread too, waited for [`OPEN_WAIT`] at most: a file
//! that cannot be opened is an error the caller reports as before; one
//! whose open does not finish in time is taken by the writer thread when
//! it does ([`LateFile`]), and the daemon goes on meanwhile.

use crate::Failure;
use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;
use tracing_subscriber::filter::Targets;

/// How long a fresh start waits for the log file to open.
pub const OPEN_WAIT: Duration = Duration::from_secs(1);

/// Why the log file cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("cannot open log file {path}: {source}")]
pub struct OpenError {
    path: String,
    source: std::io::Error,
}

/// The log file, or the open still under way.
pub struct LateFile {
    path: PathBuf,
    opening: Option<Receiver<std::io::Result<File>>>,
    file: Option<File>,
}

impl LateFile {
    /// Opens `path` for appending on a thread of its own, waiting `wait`
    /// at most (an error found within it is returned; zero: none is).
    pub fn open(path: &Path, wait: Duration) -> Result<LateFile, OpenError> {
        let (tx, rx) = std::sync::mpsc::channel();
        let target = path.to_owned();
        let spawned = std::thread::Builder::new().name("isinit-log-open".into()).spawn(move || {
            let _ = tx.send(std::fs::OpenOptions::new().create(true).append(true).open(&target));
        });
        let shown = path.display().to_string();
        if let Err(source) = spawned {
            return Err(OpenError { path: shown, source });
        }
        let mut late = LateFile { path: path.to_owned(), opening: None, file: None };
        match rx.recv_timeout(wait) {
            Ok(Ok(file)) => late.file = Some(file),
            Ok(Err(source)) => return Err(OpenError { path: shown, source }),
            Err(RecvTimeoutError::Timeout) => late.opening = Some(rx),
            Err(RecvTimeoutError::Disconnected) => {
                return Err(OpenError { path: shown, source: std::io::Error::other("the opening thread ended") });
            }
        }
        Ok(late)
    }

    /// Whether the open is still under way (the disk did not answer).
    pub fn pending(&self) -> bool {
        self.opening.is_some()
    }

    /// The file, once open; on the writer thread, waiting for a late open.
    fn file(&mut self) -> Option<&mut File> {
        if let Some(rx) = self.opening.take() {
            match rx.recv() {
                Ok(Ok(file)) => self.file = Some(file),
                Ok(Err(e)) => {
                    eprintln!("isinit: cannot open log file {}: {e}; logging to stderr only", self.path.display())
                }
                Err(_) => {}
            }
        }
        self.file.as_mut()
    }
}

impl Write for LateFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.file() {
            Some(file) => file.write(buf),
            None => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self.file() {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }
}

/// The daemon log file's writer thread, kept until the daemon exits.
static LOG_FILE_GUARD: std::sync::Mutex<Option<tracing_appender::non_blocking::WorkerGuard>> =
    std::sync::Mutex::new(None);

/// Writes out what the daemon log file's thread still holds and ends it
/// (tracing-appender bounds that wait to about a second: a hung disk
/// delays the exit that long, no more).
pub fn end() {
    let guard = LOG_FILE_GUARD.lock().map(|mut g| g.take()).unwrap_or_default();
    drop(guard);
}

/// Logs to stderr and, when configured, appends to the daemon log file.
/// Colour only when stderr is a terminal, never in the file (defect 3i).
///
/// `ISINIT_LOG_LEVEL` is a level (`debug`) or comma-separated
/// `target=level` directives (`isinit_daemon=debug,warn`). It is read by
/// tracing-subscriber's `Targets`, not its `EnvFilter`: that one compiles
/// regular expressions at start, and their code and tables stayed in every
/// daemon's memory for a setting read once (issue 22).
pub fn init(file: Option<PathBuf>, open_wait: Duration) -> Result<(), Failure> {
    use tracing_subscriber::fmt::writer::MakeWriterExt;
    use tracing_subscriber::prelude::*;
    let asked = std::env::var("ISINIT_LOG_LEVEL").ok().filter(|v| !v.trim().is_empty());
    let parsed = asked.as_deref().map(str::parse::<Targets>);
    let filter = match &parsed {
        Some(Ok(targets)) => targets.clone(),
        _ => Targets::new().with_default(tracing::Level::INFO),
    };
    let terminal = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let layer = tracing_subscriber::fmt::layer().with_target(false);
    match file {
        Some(path) => {
            // SPEC §15: the file is opened and written off the
            // supervisor's thread (see the module documentation). stderr stays
            // synchronous: it is a pipe or the journal, and its order is
            // what operators and tests read.
            let f = LateFile::open(&path, open_wait).map_err(|e| Failure::new(e.to_string()))?;
            let late = f.pending();
            let (file_writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
                .lossy(true)
                .thread_name("isinit-log")
                .finish(f);
            // Kept until the daemon exits: dropping it flushes and ends
            // the thread.
            if let Ok(mut kept) = LOG_FILE_GUARD.lock() {
                *kept = Some(guard);
            }
            let layer = layer.with_ansi(false).with_writer(std::io::stderr.and(file_writer));
            tracing_subscriber::registry().with(layer.with_filter(filter)).init();
            if late && !open_wait.is_zero() {
                tracing::warn!(
                    "log file {} not opened within {open_wait:?} (its file system does not answer); lines go to it once it does",
                    path.display(),
                );
            }
        }
        None => {
            let layer = layer.with_ansi(terminal).with_writer(std::io::stderr);
            tracing_subscriber::registry().with(layer.with_filter(filter)).init();
        }
    }
    if let (Some(asked), Some(Err(e))) = (asked, parsed) {
        tracing::warn!("ISINIT_LOG_LEVEL={asked:?} not understood ({e}): logging at info");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_reach_a_file_that_opened_in_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("daemon.log");
        let mut f = LateFile::open(&path, OPEN_WAIT).expect("opens");
        assert!(!f.pending());
        f.write_all(b"one line\n").expect("write");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "one line\n");
    }

    #[test]
    fn a_file_that_cannot_be_opened_is_an_error_naming_it() {
        let e = LateFile::open(Path::new("/nonexistent-dir/daemon.log"), OPEN_WAIT).err().expect("refused");
        assert!(e.to_string().starts_with("cannot open log file /nonexistent-dir/daemon.log: "), "{e}");
    }
}
