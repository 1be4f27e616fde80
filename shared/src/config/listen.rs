//! `:::listen:TAG ADDRESS`: a listening socket the daemon binds for one
//! entry and holds across its restarts (SPEC §17), passed to it by
//! systemd's socket-activation protocol (`LISTEN_FDS`).
//!
//! Validated here so that `isinit check` refuses an address the daemon
//! could not bind before the file reaches a cluster's hosts. Only literal
//! addresses are accepted: binding is not a place for a name lookup (a
//! slow resolver would hold up a start, and a name may resolve to an
//! address of another host), which is also systemd's rule for
//! `ListenStream=`.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::path::PathBuf;

/// Where a held socket listens.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ListenAddress {
    /// `tcp:HOST:PORT` (HOST an IPv4 address, `localhost` or `*`) or
    /// `tcp6:[ADDR]:PORT`: a TCP stream socket.
    Tcp(SocketAddr),
    /// `unix:PATH`: a UNIX stream socket at an absolute path.
    Unix(PathBuf),
}

impl std::fmt::Display for ListenAddress {
    /// As written in the isinittab (`localhost` and `*` shown as the
    /// addresses they stand for), for messages and `status`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ListenAddress::Tcp(SocketAddr::V4(a)) => write!(f, "tcp:{}:{}", a.ip(), a.port()),
            ListenAddress::Tcp(SocketAddr::V6(a)) => write!(f, "tcp6:[{}]:{}", a.ip(), a.port()),
            ListenAddress::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

impl ListenAddress {
    /// Reads an address as written after the tag (or as [`Display`]
    /// renders it: the handover and the status protocol carry that form).
    ///
    /// [`Display`]: std::fmt::Display
    pub fn parse(text: &str) -> Result<ListenAddress, String> {
        Self::read(text).map_err(|why| format!("listen address `{text}` is invalid: {why}"))
    }

    /// [`ListenAddress::parse`] with the reason alone.
    fn read(text: &str) -> Result<ListenAddress, String> {
        let port_of = |port: &str| match port.parse::<u16>() {
            Ok(p) if p > 0 && port.bytes().all(|b| b.is_ascii_digit()) => Ok(p),
            _ => Err(format!("port `{port}` is not from 1 to 65535")),
        };
        if let Some(rest) = text.strip_prefix("tcp6:") {
            let (addr, port) =
                rest.strip_prefix('[').and_then(|r| r.split_once("]:")).ok_or("expected tcp6:[ADDR]:PORT")?;
            let ip: Ipv6Addr = addr.parse().map_err(|_| format!("`{addr}` is not an IPv6 address"))?;
            return Ok(ListenAddress::Tcp(SocketAddr::V6(SocketAddrV6::new(ip, port_of(port)?, 0, 0))));
        }
        if let Some(rest) = text.strip_prefix("tcp:") {
            let (host, port) = rest.rsplit_once(':').ok_or("expected tcp:HOST:PORT")?;
            let ip = match host {
                "localhost" => Ipv4Addr::LOCALHOST,
                "*" => Ipv4Addr::UNSPECIFIED,
                _ if host.starts_with('[') => return Err(format!("an IPv6 address is written tcp6:{host}:{port}")),
                _ => host.parse().map_err(|_| {
                    format!("`{host}` is not an IPv4 address (write one, `localhost` or `*`: names are not looked up)")
                })?,
            };
            return Ok(ListenAddress::Tcp(SocketAddr::V4(SocketAddrV4::new(ip, port_of(port)?))));
        }
        if let Some(path) = text.strip_prefix("unix:") {
            if !path.starts_with('/') {
                return Err("the path is not absolute".into());
            }
            // sockaddr_un holds 108 bytes, the terminating NUL included.
            if path.len() > 107 {
                return Err("the path is longer than 107 bytes".into());
            }
            return Ok(ListenAddress::Unix(PathBuf::from(path)));
        }
        Err("expected tcp:HOST:PORT, tcp6:[ADDR]:PORT or unix:PATH".into())
    }
}

/// One `:::listen:` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listen {
    /// The entry the socket is passed to (a tag of the file).
    pub tag: String,
    /// Where it listens.
    pub address: ListenAddress,
    /// 1-based line number, for messages and duplicates.
    pub line: usize,
}

/// Parses the value part of `:::listen:` (`TAG ADDRESS`).
pub(crate) fn parse(line: usize, text: &str) -> Result<Listen, String> {
    const SHAPE: &str = "directive `listen` expects TAG ADDRESS (tcp:HOST:PORT, tcp6:[ADDR]:PORT or unix:PATH)";
    let mut words = text.split_whitespace();
    let (Some(tag), Some(address), None) = (words.next(), words.next(), words.next()) else {
        return Err(SHAPE.into());
    };
    Ok(Listen { tag: tag.to_string(), address: ListenAddress::parse(address)?, line })
}
