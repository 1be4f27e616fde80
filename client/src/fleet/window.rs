//! The fan-out window (SPEC §16): at most `--fanout` ssh sessions at once,
//! the rest waiting for a slot in the order the hosts were given; and a
//! connect timeout that bounds reaching a host (ssh and the daemon's
//! hello) apart from the command's own `--timeout`.
//!
//! Opening one ssh per host all at once is what breaks at a few hundred
//! hosts (file descriptors, sshd's `MaxStartups`, the client's CPU); a
//! host that hangs must cost its connect timeout, not the whole command
//! deadline. The command line and the console share this window, so
//! both behave the same at scale.

use crate::transport::Endpoint;
use crate::{Client, ClientError};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// `--fanout` when not given: clush's default.
pub const DEFAULT_FANOUT: usize = 64;
/// `--connect-timeout` when not given.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why one host did not answer: it could not be reached at all, or it was
/// reached and the command failed. The summary counts them apart.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// ssh failed, or the daemon did not answer the hello within the
    /// connect timeout.
    #[error("{0}")]
    Unreachable(ClientError),
    /// The daemon was reached; the command failed or timed out.
    #[error("{0}")]
    Failed(ClientError),
}

/// At most `fanout` sessions at once, each reached within `connect_timeout`.
#[derive(Debug, Clone)]
pub struct Window {
    slots: Arc<Semaphore>,
    fanout: usize,
    connect_timeout: Duration,
}

impl Default for Window {
    fn default() -> Window {
        Window::new(DEFAULT_FANOUT, DEFAULT_CONNECT_TIMEOUT)
    }
}

impl Window {
    /// A window of `fanout` slots (at least one).
    pub fn new(fanout: usize, connect_timeout: Duration) -> Window {
        let fanout = fanout.clamp(1, Semaphore::MAX_PERMITS);
        Window { slots: Arc::new(Semaphore::new(fanout)), fanout, connect_timeout }
    }

    /// How many sessions may run at once.
    pub fn fanout(&self) -> usize {
        self.fanout
    }

    /// How long reaching one host may take.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// Runs every job, each holding a slot while it runs, so that at most
    /// `fanout` run at once; jobs take their slots in the order given.
    /// `done(finished, total)` is called as each ends (for progress).
    /// Results come back in the order given; `None` for a job that
    /// panicked.
    pub async fn each<T, F>(&self, jobs: Vec<F>, mut done: impl FnMut(usize, usize)) -> Vec<Option<T>>
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let total = jobs.len();
        let mut set = JoinSet::new();
        for (i, job) in jobs.into_iter().enumerate() {
            let slots = self.slots.clone();
            set.spawn(async move {
                // Never closed: an error here cannot happen, and a job
                // without its slot still runs rather than being lost.
                let _slot = slots.acquire_owned().await.ok();
                (i, job.await)
            });
        }
        let mut results: Vec<Option<T>> = (0..total).map(|_| None).collect();
        let mut finished = 0;
        while let Some(joined) = set.join_next().await {
            finished += 1;
            if let Ok((i, value)) = joined {
                results[i] = Some(value);
            }
            done(finished, total);
        }
        results
    }

    /// Reaches `endpoint` and exchanges hellos within the connect
    /// timeout. Takes no slot: called from a job of [`Window::each`],
    /// which holds one.
    pub async fn connect(&self, endpoint: &Endpoint) -> Result<Client, HostError> {
        Client::connect_to_within(endpoint, self.connect_timeout).await.map_err(HostError::Unreachable)
    }

    /// [`Window::connect`] holding a slot only while connecting: for a
    /// long-lived session (the console's subscription), so that hundreds
    /// of hosts do not start ssh all at once, yet every host stays
    /// connected once reached.
    pub async fn connect_in_turn(&self, endpoint: &Endpoint) -> Result<Client, HostError> {
        let _slot = self.slots.acquire().await.ok();
        self.connect(endpoint).await
    }

    /// One slot of the window, held until dropped: for a caller that runs
    /// a session of its own inside the window (`logs -g`: the request and
    /// the backlog inside it, a followed stream then outside).
    pub async fn slot(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.slots.clone().acquire_owned().await.ok()
    }

    /// Reaches `endpoint` within the connect timeout and has `request`
    /// answered within `after`; the hello and the request go in one write,
    /// so over ssh a one-shot command costs one round trip. An error reply
    /// is [`HostError::Failed`].
    pub async fn request(
        &self,
        endpoint: &Endpoint,
        request: &isinit_shared::protocol::Request,
        after: Duration,
    ) -> Result<(Client, isinit_shared::protocol::Response), HostError> {
        Client::connect_and_request_split(endpoint, request, self.connect_timeout, after)
            .await
            .map_err(|(reached, e)| if reached { HostError::Failed(e) } else { HostError::Unreachable(e) })
    }
}

#[cfg(test)]
mod tests;
