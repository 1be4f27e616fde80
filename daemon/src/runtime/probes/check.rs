//! The network checks of a `:::probe:` (SPEC §17): a TCP connect, and a
//! minimal HTTP/1.1 GET whose status line must say 2xx or 3xx. Written on
//! tokio's `TcpStream` rather than an HTTP client: a probe needs one
//! request and one status line, not a dependency.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The most of an answer read to find its status line.
const STATUS_LINE_MAX: usize = 1024;

/// Connects to `host:port` (every address it resolves to, in turn).
pub async fn tcp(host: &str, port: u16) -> Result<TcpStream, String> {
    let addrs =
        tokio::net::lookup_host(format!("{host}:{port}")).await.map_err(|e| format!("cannot resolve {host}: {e}"))?;
    let mut last = format!("{host} resolves to no address");
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => return Ok(stream),
            Err(e) => last = format!("connect to {addr}: {}", plain(&e)),
        }
    }
    Err(last)
}

/// `GET path` on `host:port`; passes on a 2xx or 3xx status.
pub async fn http(host: &str, port: u16, path: &str) -> Result<(), String> {
    let mut stream = tcp(host, port).await?;
    let host_header = if port == 80 { host.to_string() } else { format!("{host}:{port}") };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: isinit-probe\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.map_err(|e| format!("send request: {}", plain(&e)))?;
    let mut answer = Vec::with_capacity(256);
    let mut buf = [0u8; 256];
    while !answer.windows(2).any(|w| w == b"\r\n") && answer.len() < STATUS_LINE_MAX {
        let n = stream.read(&mut buf).await.map_err(|e| format!("read answer: {}", plain(&e)))?;
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
    }
    status_verdict(&answer)
}

/// Reads `HTTP/1.x NNN …` at the start of `answer`.
fn status_verdict(answer: &[u8]) -> Result<(), String> {
    if answer.is_empty() {
        return Err("connection closed without an answer".into());
    }
    let line = answer.split(|b| *b == b'\r' || *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut words = line.split(' ');
    let (Some(version), Some(code)) = (words.next(), words.next()) else {
        return Err("not an HTTP answer".into());
    };
    let code: u16 = match code.parse() {
        Ok(code) if version.starts_with("HTTP/") => code,
        _ => return Err("not an HTTP answer".into()),
    };
    if (200..400).contains(&code) { Ok(()) } else { Err(format!("HTTP {code}")) }
}

/// An I/O error in the words operators know (`connection refused`), without
/// the `(os error 111)` suffix.
fn plain(e: &std::io::Error) -> String {
    let text = e.to_string();
    let text = match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    };
    text.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_2xx_and_3xx_pass() {
        assert_eq!(status_verdict(b"HTTP/1.1 200 OK\r\n"), Ok(()));
        assert_eq!(status_verdict(b"HTTP/1.0 302 Found\r\nLocation: /"), Ok(()));
        assert_eq!(status_verdict(b"HTTP/1.1 500 Internal Server Error\r\n"), Err("HTTP 500".into()));
        assert_eq!(status_verdict(b"HTTP/1.1 404 Not Found\r\n"), Err("HTTP 404".into()));
        assert_eq!(status_verdict(b"HTTP/1.1 199 x\r\n"), Err("HTTP 199".into()));
        assert_eq!(status_verdict(b"SSH-2.0-OpenSSH\r\n"), Err("not an HTTP answer".into()));
        assert_eq!(status_verdict(b""), Err("connection closed without an answer".into()));
    }

    #[tokio::test]
    async fn a_closed_port_is_refused_in_plain_words() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let err = tcp("127.0.0.1", port).await.expect_err("nothing listens");
        assert_eq!(err, format!("connect to 127.0.0.1:{port}: connection refused"));
    }
}
