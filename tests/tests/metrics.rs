//! Prometheus metrics: `isinit metrics` and `/metrics` of `isinit daemon
//! --metrics-listen` carry the same families, and `promtool check metrics`
//! (Debian's prometheus package) finds nothing wrong with either.

use isinit_e2e::{DEADLINE, TestDaemon, wait_for};
use isinit_shared::protocol::GroupState;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

/// Runs `promtool check metrics` on `text`; None if promtool is missing.
fn promtool(text: &str) -> Option<(bool, String)> {
    let mut child = match Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => panic!("cannot run promtool: {e}"),
    };
    child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write to promtool");
    let out = child.wait_with_output().expect("promtool");
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    Some((out.status.success() && said.trim().is_empty(), said))
}

#[track_caller]
fn assert_promtool_clean(text: &str, what: &str) {
    match promtool(text) {
        Some((true, _)) => {}
        Some((false, said)) => panic!("promtool check metrics on {what}:\n{said}\n--- input ---\n{text}"),
        None => println!("promtool not installed (apt-get install prometheus): skipping its check of {what}"),
    }
}

/// A plain HTTP/1.1 GET: the status line, the headers and the body.
fn get(port: u16, path: &str) -> (String, String, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the metrics port");
    stream.set_read_timeout(Some(DEADLINE)).expect("read timeout");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").expect("send request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read response");
    let (head, body) = response.split_once("\r\n\r\n").expect("headers end");
    let (status, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    (status.to_string(), headers.to_lowercase(), body.to_string())
}

#[test]
fn cli_and_http_metrics_are_valid_and_agree() {
    let tab =
        "mail:mta:run:respawn:exec sleep 1000\nmail:cf:run:once:exit 3\nweb:\"odd\\tag:1:respawn:exec sleep 1000\n";
    let mut d = TestDaemon::builder(tab).prepare();
    let mut cmd = d.daemon_command();
    cmd.args(["--metrics-listen", "127.0.0.1:0"]);
    d.restart_with(cmd);
    let port: u16 = wait_for(DEADLINE, "the daemon to log its metrics address", || {
        let log = d.daemon_stderr();
        log.split("serving metrics at http://127.0.0.1:")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .and_then(|p| p.parse().ok())
            .ok_or(log)
    });
    d.tell("mail", "run");
    d.wait_group("mail", "run", GroupState::Done);
    let mta = d.wait_running("mta");
    wait_for(DEADLINE, "cf to exit", || {
        let snap = d.snapshot();
        let cf = snap.processes.iter().find(|p| p.tag == "cf").cloned();
        cf.filter(|p| p.last_exit.is_some()).ok_or(format!("{snap:?}"))
    });

    let text = d.ok(&["metrics"]);
    assert_promtool_clean(&text, "`isinit metrics`");
    for line in [
        format!("isinit_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION")),
        "isinit_tells_total 1".to_string(),
        "isinit_clients_connected 1".to_string(),
        "isinit_group_level_info{group=\"mail\",level=\"run\"} 1".to_string(),
        "isinit_group_state{group=\"mail\",state=\"DONE\"} 1".to_string(),
        "isinit_group_state{group=\"mail\",state=\"STARTING\"} 0".to_string(),
        "isinit_group_state{group=\"web\",state=\"CONFIGURED\"} 1".to_string(),
        "isinit_process_up{group=\"mail\",tag=\"mta\"} 1".to_string(),
        "isinit_process_ready{group=\"mail\",tag=\"mta\"} 1".to_string(),
        "isinit_process_up{group=\"mail\",tag=\"cf\"} 0".to_string(),
        "isinit_process_last_exit_code{group=\"mail\",tag=\"cf\"} 3".to_string(),
        "isinit_process_restarts_total{group=\"mail\",tag=\"mta\"} 0".to_string(),
        "isinit_process_backoff_until_seconds{group=\"mail\",tag=\"mta\"} 0".to_string(),
        "isinit_process_up{group=\"web\",tag=\"\\\"odd\\\\tag\"} 0".to_string(),
    ] {
        assert!(text.lines().any(|l| l == line), "missing `{line}` in:\n{text}");
    }
    assert!(text.contains("isinit_process_start_time_seconds{group=\"mail\",tag=\"mta\"} 1"), "{text}");
    assert!(mta > 0);

    let (status, headers, body) = get(port, "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(headers.contains("content-type: text/plain; version=0.0.4; charset=utf-8"), "{headers}");
    assert_promtool_clean(&body, "the /metrics endpoint");
    // The same families, and the same values for what did not change.
    let families = |t: &str| t.lines().filter(|l| l.starts_with("# TYPE")).map(String::from).collect::<Vec<_>>();
    assert_eq!(families(&body), families(&text));
    assert!(body.contains("isinit_process_up{group=\"mail\",tag=\"mta\"} 1\n"), "{body}");
    assert!(body.contains("isinit_tells_total 1\n"), "{body}");

    let (status, _, _) = get(port, "/");
    assert_eq!(status, "HTTP/1.1 404 Not Found");
}

#[test]
fn no_metrics_port_unless_asked_for() {
    let d = TestDaemon::start("g:r:1:respawn:exec sleep 1000\n");
    // No socket of the daemon may be a TCP one: its own are all UNIX
    // sockets. (Sockets are matched by inode against /proc/net/tcp*.)
    let fds = std::fs::read_dir(format!("/proc/{}/fd", d.pid())).expect("daemon fds");
    let tcp_inodes: Vec<String> = std::fs::read_to_string("/proc/net/tcp")
        .unwrap_or_default()
        .lines()
        .chain(std::fs::read_to_string("/proc/net/tcp6").unwrap_or_default().lines())
        .filter_map(|l| l.split_whitespace().nth(9).map(String::from))
        .collect();
    for fd in fds.flatten() {
        let target = std::fs::read_link(fd.path()).map(|t| t.display().to_string()).unwrap_or_default();
        if let Some(inode) = target.strip_prefix("socket:[").and_then(|t| t.strip_suffix(']')) {
            assert!(!tcp_inodes.iter().any(|i| i == inode), "the daemon has a TCP socket without --metrics-listen");
        }
    }
    assert!(!d.daemon_stderr().contains("serving metrics"));
}
