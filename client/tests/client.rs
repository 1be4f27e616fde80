//! The client against a scripted fake daemon on a real UNIX socket: each way
//! a conversation can go wrong must reach the CLI and the console as the
//! matching [`ClientError`], not as a generic I/O failure.

use isinit_client::DEFAULT_TIMEOUT;
use isinit_client::frame::{FrameError, read_message, write_message};
use isinit_client::{Client, ClientError};
use isinit_shared::protocol::{DaemonInfo, ErrorKind, ErrorReply, PROTOCOL_VERSION, Request, Response};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::net::UnixListener;
use tokio::task::JoinHandle;

/// What the fake daemon does with each request it reads: `Some(reply)` to
/// answer, `None` to hang up.
type Script = fn(&Request) -> Option<Response>;

/// A one-connection fake daemon on a fresh socket. The handle returns every
/// request it received, in order.
fn fake_daemon(script: Script) -> (tempfile::TempDir, PathBuf, JoinHandle<Vec<Request>>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("init.s");
    let listener = UnixListener::bind(&socket).expect("bind");
    let handle = tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.expect("accept");
        let mut seen = Vec::new();
        while let Ok(req) = read_message::<_, Request>(&mut conn).await {
            let reply = script(&req);
            seen.push(req);
            match reply {
                Some(reply) => write_message(&mut conn, &reply).await.expect("write reply"),
                None => break,
            }
        }
        seen
    });
    (dir, socket, handle)
}

fn daemon_info() -> DaemonInfo {
    DaemonInfo { hostname: "node1".into(), pid: 42, protocol: PROTOCOL_VERSION, ..Default::default() }
}

fn good_hello(req: &Request) -> Option<Response> {
    match req {
        Request::Hello { .. } => Some(Response::Hello { protocol: PROTOCOL_VERSION, daemon: daemon_info() }),
        _ => None,
    }
}

#[tokio::test]
async fn version_mismatch() {
    let (_dir, socket, daemon) = fake_daemon(|req| match req {
        Request::Hello { protocol } => Some(Response::VersionMismatch { daemon: protocol + 1, client: *protocol }),
        _ => None,
    });
    let res = Client::connect(&socket).await;
    match res {
        Err(ClientError::VersionMismatch { daemon, client }) => {
            assert_eq!((daemon, client), (PROTOCOL_VERSION + 1, PROTOCOL_VERSION));
        }
        Err(e) => panic!("expected a version mismatch, got {e:?}"),
        Ok(_) => panic!("expected a version mismatch, got a connection"),
    }
    assert_eq!(daemon.await.unwrap(), [Request::Hello { protocol: PROTOCOL_VERSION }], "the client opens with hello");
}

#[tokio::test]
async fn error_reply_becomes_daemon_error() {
    let (_dir, socket, daemon) = fake_daemon(|req| match req {
        Request::Tell { group, .. } => {
            Some(Response::Error(ErrorReply::new(ErrorKind::NoSuchGroup, format!("no such group `{group}`"))))
        }
        Request::Status => Some(Response::Ok { message: "fine".into() }),
        other => good_hello(other),
    });
    let mut client = Client::connect(&socket).await.expect("hello accepted");
    assert_eq!(client.daemon, daemon_info(), "who answered the hello is kept");

    let ok = client.request(&Request::Status).await.expect("a non-error reply passes through");
    assert_eq!(ok, Response::Ok { message: "fine".into() });

    let tell = Request::Tell { group: "mial".into(), level: "run".into(), dry_run: false };
    match client.request(&tell).await {
        Err(ClientError::Daemon(reply)) => {
            assert_eq!(reply.kind, ErrorKind::NoSuchGroup);
            assert_eq!(reply.message, "no such group `mial`");
            let err = ClientError::Daemon(reply);
            assert_eq!(err.to_string(), "no such group `mial`", "shown to the operator as the daemon said it");
        }
        other => panic!("expected a daemon error, got {other:?}"),
    }
    drop(client);
    assert_eq!(daemon.await.unwrap().len(), 3);
}

#[tokio::test]
async fn error_reply_to_hello_becomes_daemon_error() {
    let (_dir, socket, _daemon) =
        fake_daemon(|_| Some(Response::Error(ErrorReply::new(ErrorKind::Rejected, "daemon is shutting down"))));
    match Client::connect(&socket).await {
        Err(ClientError::Daemon(reply)) => assert_eq!(reply.kind, ErrorKind::Rejected),
        Err(e) => panic!("expected a daemon error, got {e:?}"),
        Ok(_) => panic!("expected a daemon error, got a connection"),
    }
}

#[tokio::test]
async fn daemon_hanging_up_is_a_lost_connection() {
    let (_dir, socket, _daemon) = fake_daemon(good_hello);
    let mut client = Client::connect(&socket).await.expect("hello accepted");
    // The script hangs up on anything but a hello.
    match client.request(&Request::Status).await {
        Err(ClientError::Frame(FrameError::Closed)) => {}
        other => panic!("expected a closed connection, got {other:?}"),
    }
}

#[tokio::test]
async fn unexpected_reply_to_hello() {
    let (_dir, socket, _daemon) = fake_daemon(|_| Some(Response::Ok { message: "hi".into() }));
    match Client::connect(&socket).await {
        Err(ClientError::Unexpected(what)) => assert!(what.contains("Ok"), "{what}"),
        Err(e) => panic!("expected an unexpected reply, got {e:?}"),
        Ok(_) => panic!("expected an unexpected reply, got a connection"),
    }
}

#[tokio::test]
async fn missing_socket_is_not_running() {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("init.s");
    match Client::connect(&socket).await {
        Err(ClientError::NotRunning { socket: s, source }) => {
            assert_eq!(s, socket);
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            let err = ClientError::NotRunning { socket: s, source };
            assert!(err.to_string().starts_with("daemon not running (cannot connect to "), "{err}");
            assert!(err.to_string().contains(&socket.display().to_string()), "{err}");
        }
        Err(e) => panic!("expected not running, got {e:?}"),
        Ok(_) => panic!("connected to a socket that does not exist"),
    }
}

#[tokio::test]
async fn hello_and_request_in_one_round_trip() {
    let (_dir, socket, daemon) = fake_daemon(|req| match req {
        Request::Status => Some(Response::Ok { message: "fine".into() }),
        Request::Reload => Some(Response::Error(ErrorReply::new(ErrorKind::InvalidConfig, "bad file"))),
        other => good_hello(other),
    });
    let (client, reply) =
        Client::connect_and_request(&socket, &Request::Status, DEFAULT_TIMEOUT).await.expect("both replies");
    assert_eq!(client.daemon, daemon_info());
    assert_eq!(reply, Response::Ok { message: "fine".into() });
    drop(client);
    assert_eq!(daemon.await.unwrap(), [Request::Hello { protocol: PROTOCOL_VERSION }, Request::Status]);

    let (_dir, socket, _daemon) = fake_daemon(|req| match req {
        Request::Reload => Some(Response::Error(ErrorReply::new(ErrorKind::InvalidConfig, "bad file"))),
        other => good_hello(other),
    });
    match Client::connect_and_request(&socket, &Request::Reload, DEFAULT_TIMEOUT).await {
        Err(ClientError::Daemon(e)) => assert_eq!(e.kind, ErrorKind::InvalidConfig),
        Err(e) => panic!("expected the daemon's error, got {e:?}"),
        Ok((_, reply)) => panic!("expected the daemon's error, got {reply:?}"),
    }
}

/// A daemon that accepts (the kernel does that even for a stopped process)
/// but never answers: every way of asking ends at the deadline, with the
/// socket in the message.
#[tokio::test]
async fn a_silent_daemon_times_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("init.s");
    let _listener = UnixListener::bind(&socket).expect("bind");
    let after = Duration::from_millis(300);
    let started = Instant::now();
    let err = Client::connect_and_request(&socket, &Request::Status, after).await.err().expect("no reply");
    assert!(started.elapsed() >= after);
    match &err {
        ClientError::Timeout { socket: s, after: a } => assert_eq!((s, *a), (&socket, after)),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert_eq!(err.to_string(), format!("daemon at {} did not answer within 0.3 s", socket.display()));
    match Client::connect_within(&socket, after).await {
        Err(ClientError::Timeout { .. }) => {}
        Err(e) => panic!("expected a timeout, got {e:?}"),
        Ok(_) => panic!("a silent daemon said hello"),
    }
}
