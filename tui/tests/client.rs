//! The client task against a fake daemon that speaks the real protocol over
//! a real UNIX socket: subscription, reconnection, one connection per
//! request, and output following.

use isinit_client::frame::{read_message, write_message};
use isinit_shared::{
    DaemonInfo, ErrorKind, ErrorReply, Event, OutputLine, PROTOCOL_VERSION, Plan, Request, Response, Snapshot, Update,
};
use isinit_tui::client::{self, ClientEvent, ClientHandle, Command, Failure, Reply};
use std::path::PathBuf;
use std::time::Duration;
use tokio::net::{UnixListener, UnixStream};

/// Every wait in these tests is bounded: a hang is a failure, not a stall.
const LIMIT: Duration = Duration::from_secs(5);

/// A socket path unique to this test run, removed when the test ends.
struct SocketFile(PathBuf);

impl SocketFile {
    fn new(name: &str) -> SocketFile {
        let path = std::env::temp_dir().join(format!("isinit-tui-test-{}-{name}.s", std::process::id()));
        let _ = std::fs::remove_file(&path);
        SocketFile(path)
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// One accepted connection, past the hello.
struct Conn(UnixStream);

impl Conn {
    async fn accept(listener: &UnixListener) -> Conn {
        let (stream, _) = tokio::time::timeout(LIMIT, listener.accept()).await.expect("a connection").expect("accept");
        let mut conn = Conn(stream);
        assert_eq!(conn.recv().await, Request::Hello { protocol: PROTOCOL_VERSION });
        conn.send(Response::Hello { protocol: PROTOCOL_VERSION, daemon: DaemonInfo::default() }).await;
        conn
    }

    async fn recv(&mut self) -> Request {
        tokio::time::timeout(LIMIT, read_message(&mut self.0)).await.expect("a request").expect("a readable request")
    }

    async fn send(&mut self, response: Response) {
        write_message(&mut self.0, &response).await.expect("send");
    }

    /// Whether the client hung up.
    async fn closed(&mut self) -> bool {
        let r: Result<Result<Request, _>, _> = tokio::time::timeout(LIMIT, read_message(&mut self.0)).await;
        matches!(r, Ok(Err(_)))
    }
}

async fn next(client: &mut ClientHandle) -> ClientEvent {
    tokio::time::timeout(LIMIT, client.events.recv()).await.expect("an event").expect("the client task is alive")
}

fn snapshot(seq: u64) -> Response {
    Response::Snapshot(Box::new(Snapshot { seq, ..Snapshot::default() }))
}

/// A fake daemon with one subscriber connected and its snapshot delivered.
async fn subscribed(name: &str) -> (SocketFile, UnixListener, ClientHandle, Conn) {
    let path = SocketFile::new(name);
    let listener = UnixListener::bind(&path.0).expect("bind");
    let mut client = client::spawn(isinit_client::transport::Endpoint::Socket(path.0.clone()));
    let mut sub = Conn::accept(&listener).await;
    assert_eq!(sub.recv().await, Request::Subscribe);
    sub.send(snapshot(1)).await;
    assert!(matches!(next(&mut client).await, ClientEvent::Snapshot(s) if s.seq == 1));
    (path, listener, client, sub)
}

#[tokio::test]
async fn subscription_forwards_updates_and_reconnects() {
    let (_path, listener, mut client, mut sub) = subscribed("reconnect").await;
    let notice = Update { seq: 2, event: Event::Notice { at_ms: 5, message: "hello".into() } };
    sub.send(Response::Update(notice.clone())).await;
    assert_eq!(next(&mut client).await, ClientEvent::Update(Box::new(notice)));

    drop(sub);
    assert!(matches!(next(&mut client).await, ClientEvent::Disconnected { .. }));
    let mut again = Conn::accept(&listener).await;
    assert_eq!(again.recv().await, Request::Subscribe);
    again.send(snapshot(9)).await;
    assert!(matches!(next(&mut client).await, ClientEvent::Snapshot(s) if s.seq == 9));
}

#[tokio::test]
async fn a_missed_update_resubscribes_at_once() {
    let (_path, listener, mut client, mut sub) = subscribed("gap").await;
    sub.send(Response::Update(Update { seq: 5, event: Event::Halting })).await;
    let mut again = Conn::accept(&listener).await;
    assert_eq!(again.recv().await, Request::Subscribe);
    again.send(snapshot(5)).await;
    // No Disconnected in between: a resync is not an outage.
    assert!(matches!(next(&mut client).await, ClientEvent::Snapshot(s) if s.seq == 5));
}

#[tokio::test]
async fn no_daemon_is_reported_then_found() {
    let path = SocketFile::new("late");
    let mut client = client::spawn(isinit_client::transport::Endpoint::Socket(path.0.clone()));
    match next(&mut client).await {
        ClientEvent::Disconnected { reason, .. } => assert!(reason.ends_with(": no socket"), "{reason}"),
        other => panic!("expected Disconnected, got {other:?}"),
    }
    let listener = UnixListener::bind(&path.0).expect("bind");
    let mut sub = Conn::accept(&listener).await;
    assert_eq!(sub.recv().await, Request::Subscribe);
    sub.send(snapshot(1)).await;
    assert!(matches!(next(&mut client).await, ClientEvent::Snapshot(_)));
}

#[tokio::test]
async fn each_request_gets_its_own_connection() {
    let (_path, listener, mut client, _sub) = subscribed("requests").await;

    client.send(Command::Tell { group: "mail".into(), level: "runmore".into(), dry_run: true }).expect("send");
    let mut conn = Conn::accept(&listener).await;
    assert_eq!(conn.recv().await, Request::Tell { group: "mail".into(), level: "runmore".into(), dry_run: true });
    let plan = Plan { group: "mail".into(), level: "runmore".into(), start: vec!["extra".into()], ..Plan::default() };
    conn.send(Response::Plan(plan.clone())).await;
    let preview = Reply::Preview { group: "mail".into(), level: "runmore".into(), outcome: Ok(plan) };
    assert_eq!(next(&mut client).await, ClientEvent::Reply(preview));

    client.send(Command::Reload).expect("send");
    let mut conn = Conn::accept(&listener).await;
    assert_eq!(conn.recv().await, Request::Reload);
    let details = vec!["/etc/isinittab:3: unknown mode \"respwan\"".to_owned()];
    let error = ErrorReply { kind: ErrorKind::InvalidConfig, message: "invalid isinittab".into(), details };
    conn.send(Response::Error(error.clone())).await;
    let failure = Failure { message: error.message, details: error.details };
    assert_eq!(next(&mut client).await, ClientEvent::Reply(Reply::Reloaded(Err(failure))));
}

#[tokio::test]
async fn output_follows_the_selected_tag() {
    let (_path, listener, mut client, _sub) = subscribed("follow").await;
    client.send(Command::Follow { id: 7, tag: Some("mta".into()) }).expect("send");
    let mut logs = Conn::accept(&listener).await;
    assert_eq!(logs.recv().await, Request::Logs { tag: "mta".into(), lines: 200, follow: true });
    let line = |text: &str| OutputLine { tag: "mta".into(), at_ms: 1, text: text.into() };
    logs.send(Response::Logs { tag: "mta".into(), lines: vec![line("old")] }).await;
    logs.send(Response::Output(line("new"))).await;
    assert_eq!(next(&mut client).await, ClientEvent::Logs { id: 7, lines: vec![line("old")] });
    assert_eq!(next(&mut client).await, ClientEvent::Output { id: 7, line: line("new") });

    // Moving away closes the stream.
    client.send(Command::Follow { id: 8, tag: None }).expect("send");
    assert!(logs.closed().await, "the old stream must be closed");
}

#[tokio::test]
async fn output_following_resumes_after_a_reconnect() {
    let (_path, listener, mut client, sub) = subscribed("refollow").await;
    client.send(Command::Follow { id: 3, tag: Some("mta".into()) }).expect("send");
    let mut logs = Conn::accept(&listener).await;
    assert!(matches!(logs.recv().await, Request::Logs { .. }));

    // The daemon restarts: both connections die.
    drop((sub, logs));
    assert!(matches!(next(&mut client).await, ClientEvent::Disconnected { .. } | ClientEvent::OutputEnded { .. }));
    let mut sub = Conn::accept(&listener).await;
    assert_eq!(sub.recv().await, Request::Subscribe);
    sub.send(snapshot(1)).await;
    let mut logs = Conn::accept(&listener).await;
    assert_eq!(logs.recv().await, Request::Logs { tag: "mta".into(), lines: 200, follow: true });
}
