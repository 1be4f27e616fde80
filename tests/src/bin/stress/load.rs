//! The tell load: concurrent clients, each on its own connection, each
//! telling random groups random levels, timing every reply.

use crate::daemon::{LEVELS, Layout};
use isinit_client::{Client, ClientError};
use isinit_shared::protocol::{Request, Response};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How long one tell may take, reconnection included, before the run
/// counts it as failed: long enough to ride out a daemon restart.
const TELL_DEADLINE: Duration = Duration::from_secs(60);

/// What one client measured.
#[derive(Debug, Default)]
pub struct ClientReport {
    /// Round-trip time of each accepted tell.
    pub latencies: Vec<Duration>,
    /// Tells the daemon refused or that never got an answer.
    pub failures: Vec<String>,
    /// Connections that had to be opened again (a daemon restart).
    pub reconnects: usize,
}

/// A tiny xorshift generator: the load needs variety, not quality, and a
/// seed per client makes a run repeatable.
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` (any value).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// A number below `n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

/// Runs `count` tells from one client; `done` counts tells of every client,
/// for the phases that act in the middle of the load.
pub async fn run_client(
    socket: PathBuf,
    layout: Arc<Layout>,
    seed: u64,
    count: usize,
    done: watch::Sender<usize>,
) -> ClientReport {
    let mut report = ClientReport::default();
    let mut rng = Rng::new(seed);
    let mut conn: Option<Client> = None;
    for _ in 0..count {
        let group = layout.group(rng.below(layout.groups));
        let level = LEVELS[rng.below(LEVELS.len())];
        let request = Request::Tell { group, level: level.to_string(), dry_run: false };
        match tell(&socket, &mut conn, &request, &mut report).await {
            Ok(rtt) => report.latencies.push(rtt),
            Err(e) => report.failures.push(e),
        }
        done.send_modify(|n| *n += 1);
    }
    report
}

/// One tell, reconnecting (within [`TELL_DEADLINE`]) if the connection is
/// gone: a daemon being re-executed or restarted is not a failure, a tell
/// it refuses or never answers is.
async fn tell(
    socket: &Path,
    conn: &mut Option<Client>,
    request: &Request,
    report: &mut ClientReport,
) -> Result<Duration, String> {
    let deadline = Instant::now() + TELL_DEADLINE;
    loop {
        if conn.is_none() {
            match Client::connect(socket).await {
                Ok(c) => *conn = Some(c),
                Err(e) => {
                    if Instant::now() > deadline {
                        return Err(format!("cannot reconnect: {e}"));
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        let start = Instant::now();
        let reply = tokio::time::timeout(TELL_DEADLINE, c.request(request)).await;
        match reply {
            Ok(Ok(Response::Ok { .. })) => return Ok(start.elapsed()),
            Ok(Ok(other)) => return Err(format!("{request:?}: unexpected reply {other:?}")),
            Ok(Err(ClientError::Daemon(e))) => return Err(format!("{request:?}: refused: {}", e.message)),
            Ok(Err(_lost)) => {
                // The daemon went away mid-request (re-exec, restart):
                // whether it took the tell is unknown; tell it again.
                *conn = None;
                report.reconnects += 1;
                if Instant::now() > deadline {
                    return Err(format!("{request:?}: connection lost for good"));
                }
            }
            Err(_) => return Err(format!("{request:?}: no reply within {TELL_DEADLINE:?}")),
        }
    }
}

/// The `q`-quantile (0..=1) of sorted latencies.
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// A load in progress: the clients' tasks and the count of tells done.
pub struct Load {
    clients: Vec<tokio::task::JoinHandle<ClientReport>>,
    /// Tells done so far, by every client.
    pub done: watch::Receiver<usize>,
    started: Instant,
}

/// What a whole load measured.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Round-trip times of the accepted tells, sorted.
    pub latencies: Vec<Duration>,
    /// Tells refused or unanswered.
    pub failures: Vec<String>,
    /// Connections opened again.
    pub reconnects: usize,
    /// From the first tell to the last reply.
    pub elapsed: Duration,
}

/// Starts `clients` clients sharing `tells` tells.
pub fn start(socket: &Path, layout: &Arc<Layout>, clients: usize, tells: usize, seed: u64) -> Load {
    let clients = clients.max(1);
    let (done_tx, done) = watch::channel(0usize);
    let started = Instant::now();
    let handles = (0..clients)
        .map(|c| {
            let count = tells / clients + usize::from(c < tells % clients);
            let seed = seed.wrapping_mul(1000).wrapping_add(c as u64);
            tokio::spawn(run_client(socket.to_owned(), layout.clone(), seed, count, done_tx.clone()))
        })
        .collect();
    Load { clients: handles, done, started }
}

impl Load {
    /// Waits for every client and sums up.
    pub async fn finish(self) -> Result<LoadReport, String> {
        let mut report = LoadReport::default();
        for c in self.clients {
            let r = c.await.map_err(|e| format!("a client task failed: {e}"))?;
            report.latencies.extend(r.latencies);
            report.failures.extend(r.failures);
            report.reconnects += r.reconnects;
        }
        report.elapsed = self.started.elapsed();
        report.latencies.sort();
        Ok(report)
    }
}
