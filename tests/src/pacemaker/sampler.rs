//! [`RunSampler`]: on how many nodes a group runs, sampled every 100 ms
//! from the processes themselves — not from the daemons, which may be
//! dead or starting during the very recovery under test.

use crate::procfs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the nodes are looked at.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// One look: when, and how many nodes ran the group then.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Time since the sampler started.
    pub at: Duration,
    /// How many nodes had a live process of the group.
    pub nodes: usize,
}

/// A thread sampling until dropped or [`RunSampler::finish`]ed.
pub struct RunSampler {
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<Sample>>>,
    thread: Option<JoinHandle<()>>,
}

impl RunSampler {
    /// Samples `group` on the nodes whose daemons serve `sockets` (a
    /// process of the group carries `ISINIT_SOCKET=<socket>` and
    /// `ISINIT_GROUP=<group>`).
    pub fn start(group: &str, sockets: Vec<PathBuf>) -> RunSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let (stop2, samples2, group) = (stop.clone(), samples.clone(), format!("ISINIT_GROUP={group}"));
        let thread = std::thread::spawn(move || {
            let began = Instant::now();
            while !stop2.load(Ordering::Relaxed) {
                let nodes = running_on(&group, &sockets);
                samples2.lock().unwrap_or_else(|e| e.into_inner()).push(Sample { at: began.elapsed(), nodes });
                std::thread::sleep(SAMPLE_EVERY);
            }
        });
        RunSampler { stop, samples, thread: Some(thread) }
    }

    /// The samples so far.
    pub fn samples(&self) -> Vec<Sample> {
        self.samples.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Stops sampling and returns every sample.
    pub fn finish(mut self) -> Vec<Sample> {
        self.halt();
        self.samples()
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for RunSampler {
    fn drop(&mut self) {
        self.halt();
    }
}

/// On how many of the nodes (by socket) a live process of the group runs.
pub fn running_on(group_var: &str, sockets: &[PathBuf]) -> usize {
    let marked = procfs::with_env(group_var);
    sockets
        .iter()
        .filter(|socket| {
            let var = format!("ISINIT_SOCKET={}", socket.display());
            marked.iter().any(|s| s.state != 'Z' && procfs::environ(s.pid).contains(&var))
        })
        .count()
}
