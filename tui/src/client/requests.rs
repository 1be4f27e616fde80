//! One connection per request, and the output follow stream.

use super::{ClientEvent, Command, Failure, ProcessAction, Reply};
use isinit_client::transport::Endpoint;
use isinit_client::{Client, ClientError};
use isinit_shared::{Request, Response};
use std::time::Duration;
use tokio::sync::mpsc;

/// A request still unanswered after this long is reported as failed, so a
/// wedged daemon shows up as an error instead of a forever-pending status.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How much recent output to fetch when following a tag.
const BACKLOG_LINES: u32 = 200;

/// Runs one request on its own connection and reports the reply.
pub(super) async fn run(socket: Endpoint, command: Command, events: mpsc::Sender<ClientEvent>) {
    let reply = match command {
        Command::Tell { group, level, dry_run } => {
            let request = Request::Tell { group: group.clone(), level: level.clone(), dry_run };
            let answer = ask(&socket, &request).await;
            if dry_run {
                let outcome = answer.and_then(|r| match r {
                    Response::Plan(plan) => Ok(plan),
                    other => Err(unexpected(&other)),
                });
                Reply::Preview { group, level, outcome }
            } else {
                Reply::Told { group, level, outcome: answer.and_then(ok_message) }
            }
        }
        Command::Reload => Reply::Reloaded(ask(&socket, &Request::Reload).await.and_then(ok_message)),
        Command::Act(action) => {
            let (request, timeout) = match &action {
                ProcessAction::Restart { tag } => (Request::Restart { tag: tag.clone() }, START_TIMEOUT),
                ProcessAction::Retry { tag } => (Request::Retry { tag: tag.clone() }, START_TIMEOUT),
                ProcessAction::Signal { tag, signal } => {
                    (Request::Signal { tag: tag.clone(), signal: signal.clone() }, REQUEST_TIMEOUT)
                }
            };
            let outcome = ask_within(&socket, &request, timeout).await.and_then(ok_message);
            Reply::Acted { action, outcome }
        }
        Command::Usage => Reply::Usage(ask(&socket, &Request::Usage).await.and_then(|r| match r {
            Response::Usage(rows) => Ok(rows),
            other => Err(unexpected(&other)),
        })),
        Command::Ps { tag } => {
            let outcome = ask(&socket, &Request::Ps { name: Some(tag.clone()) }).await.and_then(|r| match r {
                Response::Ps(entries) => Ok(entries),
                other => Err(unexpected(&other)),
            });
            Reply::Ps { tag, outcome }
        }
        Command::Analyze { group } => {
            let outcome = ask(&socket, &Request::Analyze { group: group.clone() }).await.and_then(|r| match r {
                Response::Timeline(t) => Ok(t),
                other => Err(unexpected(&other)),
            });
            Reply::Timeline { group, outcome }
        }
        // Follow is served by `follow`, never here.
        Command::Follow { .. } | Command::FollowGroup { .. } => return,
    };
    // The UI may have quit meanwhile; nobody is left to tell.
    let _ = events.send(ClientEvent::Reply(reply)).await;
}

/// A restart waits for the old process to stop, which the daemon's
/// escalation bounds at 15 s by default (SIGTERM after 5 s, SIGKILL 10 s
/// later), before it answers; this leaves room for that and the start.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Connect, ask, read one reply — within the timeout.
async fn ask(socket: &Endpoint, request: &Request) -> Result<Response, Failure> {
    ask_within(socket, request, REQUEST_TIMEOUT).await
}

/// Connect, ask, read one reply — within `timeout`.
async fn ask_within(socket: &Endpoint, request: &Request, timeout: Duration) -> Result<Response, Failure> {
    let exchange = async {
        let mut client = Client::connect_to(socket).await?;
        client.request(request).await
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(result) => result.map_err(Failure::from),
        Err(_) => Err(Failure { message: format!("no reply from the daemon within {timeout:?}"), details: Vec::new() }),
    }
}

fn ok_message(response: Response) -> Result<String, Failure> {
    match response {
        Response::Ok { message } => Ok(message),
        other => Err(unexpected(&other)),
    }
}

fn unexpected(response: &Response) -> Failure {
    Failure::from(ClientError::Unexpected(format!("{response:?}")))
}

/// Streams one tag's output until the daemon ends it or the task is
/// aborted because the UI moved to another process.
pub(super) async fn follow(socket: Endpoint, id: u64, tag: String, events: mpsc::Sender<ClientEvent>) {
    let request = Request::Logs { tag, lines: BACKLOG_LINES, follow: true };
    stream(socket, id, request, events).await;
}

/// Streams every tag of one group, merged in time (`logs -g`), like
/// [`follow`] streams one tag.
pub(super) async fn follow_group(socket: Endpoint, id: u64, group: String, events: mpsc::Sender<ClientEvent>) {
    let request = Request::GroupLogs { group, lines: GROUP_BACKLOG_LINES, follow: true, since_ms: None };
    stream(socket, id, request, events).await;
}

/// How much recent output of a whole group to fetch.
const GROUP_BACKLOG_LINES: u32 = 500;

/// Sends the backlog and then every line of one followed stream.
async fn stream(socket: Endpoint, id: u64, request: Request, events: mpsc::Sender<ClientEvent>) {
    let stream = async {
        let mut client = Client::connect_to(&socket).await?;
        match client.request(&request).await? {
            Response::Logs { lines, .. } | Response::GroupLogs { lines, .. } => {
                if events.send(ClientEvent::Logs { id, lines }).await.is_err() {
                    return Ok(());
                }
            }
            other => return Err(ClientError::Unexpected(format!("{other:?}"))),
        }
        loop {
            match client.recv().await? {
                Response::Output(line) => {
                    if events.send(ClientEvent::Output { id, line }).await.is_err() {
                        return Ok(());
                    }
                }
                Response::Error(e) => return Err(ClientError::Daemon(e)),
                other => return Err(ClientError::Unexpected(format!("{other:?}"))),
            }
        }
    };
    if let Err(e) = stream.await {
        let _ = events.send(ClientEvent::OutputEnded { id, reason: e.to_string() }).await;
    }
}
