//! The long-lived subscription: snapshot, then updates, reconnecting with a
//! capped backoff when the daemon goes away.
//!
//! The backoff sleep is the only timer that runs while the daemon is away;
//! nothing polls.

use super::ClientEvent;
use isinit_client::ClientError;
use isinit_client::fleet::{HostError, Window};
use isinit_client::transport::Endpoint;
use isinit_shared::{Request, Response};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// First retry delay after losing the daemon.
const BACKOFF_MIN: Duration = Duration::from_millis(200);
/// Longest delay between attempts: how stale "reconnecting…" can get.
const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// How long connecting (ssh included) and the hello may take on the
/// single-host console; the fleet console uses its window's timeout.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a session ended.
enum End {
    /// The daemon is unreachable or the connection broke.
    Lost(String),
    /// We missed an update (sequence gap): resubscribe at once.
    Gap,
    /// The UI is gone.
    Closed,
}

/// Subscribes, forwards, reconnects — until the UI drops its receiver.
/// `sessions` is bumped on every snapshot that starts a new connection, so
/// the dispatcher can restart the output stream.
/// Connections are opened through `window`: a fleet of hundreds of hosts
/// starts at most its fan-out of ssh at once, each within its connect
/// timeout.
pub(super) async fn run(
    socket: Endpoint,
    window: Window,
    events: mpsc::Sender<ClientEvent>,
    sessions: watch::Sender<u64>,
) {
    let mut delay = BACKOFF_MIN;
    let mut reported: Option<String> = None;
    loop {
        let mut connected = false;
        match session(&socket, &window, &events, &sessions, &mut connected).await {
            End::Closed => return,
            End::Gap => continue,
            End::Lost(reason) => {
                if connected {
                    delay = BACKOFF_MIN;
                    reported = None;
                }
                // Say it once per distinct reason: a daemon that stays away
                // must not cause a redraw on every attempt.
                if reported.as_deref() != Some(reason.as_str()) {
                    let event =
                        ClientEvent::Disconnected { at_ms: isinit_shared::time::now_ms(), reason: reason.clone() };
                    if events.send(event).await.is_err() {
                        return;
                    }
                    reported = Some(reason);
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = events.closed() => return,
        }
        delay = (delay * 2).min(BACKOFF_MAX);
    }
}

/// Why the daemon cannot be heard, short enough for the header: the full
/// `ClientError` text repeats "daemon not running" and the socket path in
/// words the banner already says.
fn reason(e: &ClientError) -> String {
    match e {
        ClientError::NotRunning { socket, source } => {
            let why = match source.kind() {
                std::io::ErrorKind::NotFound => "no socket".to_owned(),
                std::io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
                _ => source.to_string(),
            };
            format!("{}: {why}", socket.display())
        }
        ClientError::PermissionDenied { socket } => format!("{}: permission denied", socket.display()),
        other => other.to_string(),
    }
}

/// One connection: hello, subscribe, forward until something breaks.
async fn session(
    socket: &Endpoint,
    window: &Window,
    events: &mpsc::Sender<ClientEvent>,
    sessions: &watch::Sender<u64>,
    connected: &mut bool,
) -> End {
    let lost = |e: ClientError| End::Lost(reason(&e));
    // A host whose ssh hangs must not keep this one waiting forever; the
    // other hosts of a fleet have their own tasks.
    let mut client = match window.connect_in_turn(socket).await {
        Ok(c) => c,
        Err(HostError::Unreachable(e) | HostError::Failed(e)) => return lost(e),
    };
    if let Err(e) = client.send(&Request::Subscribe).await {
        return lost(e);
    }
    let mut next_seq: Option<u64> = None;
    loop {
        let response = match client.recv().await {
            Ok(r) => r,
            Err(e) => return lost(e),
        };
        let event = match response {
            Response::Snapshot(snapshot) => {
                next_seq = Some(snapshot.seq.wrapping_add(1));
                if !*connected {
                    *connected = true;
                    sessions.send_modify(|n| *n = n.wrapping_add(1));
                }
                ClientEvent::Snapshot(snapshot)
            }
            Response::Update(update) => {
                if next_seq != Some(update.seq) {
                    return End::Gap;
                }
                next_seq = Some(update.seq.wrapping_add(1));
                ClientEvent::Update(Box::new(update))
            }
            Response::Error(e) => return End::Lost(e.message),
            other => return End::Lost(format!("unexpected message on the subscription: {other:?}")),
        };
        if events.send(event).await.is_err() {
            return End::Closed;
        }
    }
}
