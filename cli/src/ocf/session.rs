//! Talking to the daemon within the operation's deadline.
//!
//! Pacemaker kills an agent that overruns its operation timeout and counts
//! that as a failure with no reason attached, so every request, and every
//! wait for the group to arrive somewhere, ends by one deadline derived
//! from `OCF_RESKEY_CRM_meta_timeout` — early enough to say why.
//!
//! Waiting follows the daemon's event stream (a subscription), not a
//! polling loop: each change is folded into the snapshot and the decision
//! re-evaluated; the only timer is the one a decision asks for (a respawn
//! entry becoming steady).

use super::view::Progress;
use isinit_client::{Client, ClientError};
use isinit_shared::protocol::{Asker, Owner, Request, Response, Snapshot};
use isinit_shared::time::{self, UnixMillis};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout_at};

/// Why a conversation with the daemon ended without an answer.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The deadline passed; the text is what was still awaited.
    #[error("timed out after {waited:?}: {what}")]
    TimedOut {
        /// How long the agent waited in all.
        waited: Duration,
        /// What was awaited.
        what: String,
    },
    /// The client library failed (not running, refused, lost connection).
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// The daemon on one socket, for one operation.
pub struct Session {
    socket: PathBuf,
    started: Instant,
    deadline: Instant,
}

impl Session {
    /// A session that must be over within `budget`.
    pub fn new(socket: PathBuf, budget: Duration) -> Session {
        let started = Instant::now();
        // `checked_add` because the budget comes from Pacemaker's
        // environment; an absurd one is capped at a day.
        let deadline =
            started.checked_add(budget).or_else(|| started.checked_add(Duration::from_secs(86_400))).unwrap_or(started);
        Session { socket, started, deadline }
    }

    /// When the operation must be over (less the margin to answer in).
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The socket this session talks to.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    async fn within<T>(
        &self,
        what: &str,
        fut: impl Future<Output = Result<T, ClientError>>,
    ) -> Result<T, SessionError> {
        match timeout_at(self.deadline, fut).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(self.timed_out(what)),
        }
    }

    /// What is left of the operation's time, for the client's own deadline
    /// (the session's, in [`Session::within`], is the one that counts).
    fn left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1))
    }

    fn timed_out(&self, what: &str) -> SessionError {
        SessionError::TimedOut { waited: self.started.elapsed(), what: what.to_string() }
    }

    /// One status snapshot.
    pub async fn snapshot(&self) -> Result<Snapshot, SessionError> {
        let (_, reply) = self
            .within("a status reply", Client::connect_and_request(&self.socket, &Request::Status, self.left()))
            .await?;
        match reply {
            Response::Snapshot(s) => Ok(*s),
            other => Err(unexpected(other)),
        }
    }

    /// A subscription and its first snapshot; later changes are read by
    /// [`Session::follow`].
    pub async fn subscribe(&self) -> Result<(Events, Snapshot), SessionError> {
        let (client, reply) = self
            .within("a subscription", Client::connect_and_request(&self.socket, &Request::Subscribe, self.left()))
            .await?;
        match reply {
            Response::Snapshot(s) => Ok((Events::spawn(client), *s)),
            other => Err(unexpected(other)),
        }
    }

    /// `tell GROUP LEVEL` on behalf of the resource `owner` (its stop:
    /// `release`), on a connection of its own (the subscription's
    /// connection carries only events).
    pub async fn tell(&self, group: &str, level: &str, owner: &Owner, release: bool) -> Result<String, SessionError> {
        let asker = Asker::Manager { owner: owner.clone(), release };
        let request = Request::TellAs { group: group.to_string(), level: level.to_string(), asker };
        let (_, reply) =
            self.within("the reply to tell", Client::connect_and_request(&self.socket, &request, self.left())).await?;
        match reply {
            Response::Ok { message } => Ok(message),
            other => Err(unexpected(other)),
        }
    }

    /// Folds the subscription's events into `snap` until `judge` says the
    /// wait is over ([`Progress::Reached`] or [`Progress::Failed`]), the
    /// deadline passes, or the connection ends. `judge` also gets the
    /// wall-clock time, and is asked again at the `recheck_at` it names
    /// even when no event arrives.
    pub async fn follow(
        &self,
        events: &mut Events,
        snap: &mut Snapshot,
        judge: impl Fn(&Snapshot, UnixMillis) -> Progress,
    ) -> Result<Progress, SessionError> {
        loop {
            let now = time::now_ms();
            let (awaited, recheck_at) = match judge(snap, now) {
                Progress::Pending { why, recheck_at } => (why, recheck_at),
                done => return Ok(done),
            };
            let wake = recheck_at
                .and_then(|at| Instant::now().checked_add(Duration::from_millis(at.saturating_sub(now))))
                .map_or(self.deadline, |at| at.min(self.deadline));
            tokio::select! {
                message = events.rx.recv() => match message {
                    // A `false` from apply (new isinittab) is followed by a
                    // fresh snapshot, which replaces ours below.
                    Some(Ok(Response::Update(update))) => {
                        snap.apply(&update);
                    }
                    Some(Ok(Response::Snapshot(fresh))) => *snap = *fresh,
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e.into()),
                    None => return Err(ClientError::Unexpected("the event reader stopped".to_string()).into()),
                },
                () = tokio::time::sleep_until(wake) => {
                    if Instant::now() >= self.deadline {
                        return Err(self.timed_out(&awaited));
                    }
                }
            }
        }
    }
}

/// A subscription's messages, read by a task of their own so that waiting
/// for one can be abandoned (for a timer) without cutting a frame in half.
pub struct Events {
    rx: mpsc::Receiver<Result<Response, ClientError>>,
    reader: JoinHandle<()>,
}

/// How many messages may wait unread; beyond that the reader pauses and
/// the daemon resynchronises us with a fresh snapshot, as for any slow
/// subscriber.
const EVENTS_BUFFERED: usize = 64;

impl Events {
    fn spawn(mut client: Client) -> Events {
        let (tx, rx) = mpsc::channel(EVENTS_BUFFERED);
        let reader = tokio::spawn(async move {
            loop {
                let message = client.recv().await;
                let end = message.is_err();
                if tx.send(message).await.is_err() || end {
                    return;
                }
            }
        });
        Events { rx, reader }
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

fn unexpected(reply: Response) -> SessionError {
    SessionError::Client(ClientError::Unexpected(format!("{reply:?}")))
}
