//! The daemon both benches run (`daemon` and `scale`): started on an
//! isinittab of the bench's making, with its socket, status file, state
//! file and log directory in a temporary directory of its own (never a
//! default path), its stderr in `daemon.err` there, and shut down when
//! dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The binary under measure.
pub const ISINIT: &str = env!("CARGO_BIN_EXE_isinit");

/// A running daemon of a bench.
pub struct Daemon {
    child: Child,
    dir: tempfile::TempDir,
}

impl Daemon {
    /// Starts a daemon on `tab` and waits (at most `up_within`) until it
    /// answers `status`.
    pub fn start(tab: &str, up_within: Duration) -> Daemon {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("tab"), tab).expect("write isinittab");
        let child = Command::new(ISINIT)
            .arg("daemon")
            .envs(env(dir.path()))
            .stderr(std::fs::File::create(dir.path().join("daemon.err")).map_or(Stdio::null(), Stdio::from))
            .spawn()
            .expect("start daemon");
        let d = Daemon { child, dir };
        let deadline = Instant::now() + up_within;
        while !d.cli(&["status"]).status.success() {
            assert!(Instant::now() < deadline, "daemon did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
        d
    }

    /// Its control socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("sock")
    }

    /// Runs `isinit ARGS` against it.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        Command::new(ISINIT).args(args).envs(env(self.dir.path())).output().expect("run isinit")
    }

    /// Its pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.cli(&["shutdown", "--wait"]);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every path the daemon and its command line use, inside `dir`.
fn env(dir: &Path) -> Vec<(&'static str, PathBuf)> {
    vec![
        ("ISINIT_CONFIG", dir.join("tab")),
        ("ISINIT_SOCKET", dir.join("sock")),
        ("ISINIT_INITSTAT", dir.join("initstat")),
        ("ISINIT_STATE", dir.join("state")),
        ("ISINIT_LOGDIR", dir.join("logs")),
        ("ISINIT_TERM_AFTER", "2".into()),
        ("ISINIT_KILL_AFTER", "2".into()),
    ]
}

/// A duration in milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
