//! `:::listen:` (SPEC §17): what a valid line means, and one test per
//! error it can report, as the exact `PATH:LINE: message`.

use super::*;
use std::net::SocketAddr;

/// A valid entry for the listen lines below.
const WEB: &str = "web:srv:run:respawn:python3 -m http.server\n";

fn tcp(s: &str) -> ListenAddress {
    ListenAddress::Tcp(s.parse::<SocketAddr>().expect("a socket address"))
}

#[test]
fn every_address_kind_in_file_order() {
    let tab = valid(&format!(
        ":::listen:srv tcp:127.0.0.1:8080\n{WEB}:::listen:srv tcp6:[::1]:8081\n:::listen:srv unix:/run/srv.sock\n\
         :::listen:srv tcp:localhost:81\n:::listen:srv tcp:*:82\n"
    ));
    let got: Vec<(ListenAddress, usize)> = tab.listens_of("srv").map(|l| (l.address.clone(), l.line)).collect();
    assert_eq!(
        got,
        [
            (tcp("127.0.0.1:8080"), 1),
            (tcp("[::1]:8081"), 3),
            (ListenAddress::Unix("/run/srv.sock".into()), 4),
            (tcp("127.0.0.1:81"), 5),
            (tcp("0.0.0.0:82"), 6),
        ]
    );
    // What `status` and the handover carry reads back as the same address.
    for l in tab.listens_of("srv") {
        assert_eq!(ListenAddress::parse(&l.address.to_string()), Ok(l.address.clone()), "{}", l.address);
    }
    assert_eq!(tab.listens_of("srv").nth(1).map(|l| l.address.to_string()).as_deref(), Some("tcp6:[::1]:8081"));
}

#[test]
fn listen_without_address_or_with_too_much() {
    let shape =
        "/etc/isinittab:2: directive `listen` expects TAG ADDRESS (tcp:HOST:PORT, tcp6:[ADDR]:PORT or unix:PATH)";
    assert_one_error(&format!("{WEB}:::listen:srv\n"), shape);
    assert_one_error(&format!("{WEB}:::listen:srv tcp:127.0.0.1:1 tcp:127.0.0.1:2\n"), shape);
}

#[test]
fn bad_addresses() {
    for (address, why) in [
        (
            "tcp:example.com:80",
            "`example.com` is not an IPv4 address (write one, `localhost` or `*`: names are not looked up)",
        ),
        ("tcp:127.0.0.1", "expected tcp:HOST:PORT"),
        (
            "tcp:127.0.0.1.1:80",
            "`127.0.0.1.1` is not an IPv4 address (write one, `localhost` or `*`: names are not looked up)",
        ),
        ("tcp:8080", "expected tcp:HOST:PORT"),
        ("tcp:127.0.0.1:0", "port `0` is not from 1 to 65535"),
        ("tcp:127.0.0.1:65536", "port `65536` is not from 1 to 65535"),
        ("tcp:127.0.0.1:+80", "port `+80` is not from 1 to 65535"),
        ("tcp:[::1]:80", "an IPv6 address is written tcp6:[::1]:80"),
        ("tcp6:::1:80", "expected tcp6:[ADDR]:PORT"),
        ("tcp6:[1.2.3.4]:80", "`1.2.3.4` is not an IPv6 address"),
        ("unix:run/srv.sock", "the path is not absolute"),
        ("udp:127.0.0.1:53", "expected tcp:HOST:PORT, tcp6:[ADDR]:PORT or unix:PATH"),
    ] {
        let expected = format!("/etc/isinittab:2: listen address `{address}` is invalid: {why}");
        assert_one_error(&format!("{WEB}:::listen:srv {address}\n"), &expected);
    }
    let long = format!("unix:/{}", "x".repeat(107));
    let expected = format!("/etc/isinittab:2: listen address `{long}` is invalid: the path is longer than 107 bytes");
    assert_one_error(&format!("{WEB}:::listen:srv {long}\n"), &expected);
}

#[test]
fn listen_for_unknown_or_off_tag() {
    assert_one_error(
        &format!("{WEB}:::listen:nosuch tcp:127.0.0.1:1\n"),
        "/etc/isinittab:2: listen for unknown tag `nosuch`",
    );
    assert_one_error(
        "web:old:run:off:true\n:::listen:old unix:/run/old.sock\n",
        "/etc/isinittab:2: listen for `old`, an entry whose mode is off",
    );
}

#[test]
fn an_address_is_used_once() {
    let text = format!("{WEB}web:b:run:respawn:b\n:::listen:srv tcp:localhost:80\n:::listen:b tcp:127.0.0.1:80\n");
    assert_one_error(&text, "/etc/isinittab:4: listen address `tcp:127.0.0.1:80` is already used on line 3");
    // The same port on another address, or another port, is another socket.
    valid(&format!(
        "{WEB}:::listen:srv tcp:127.0.0.1:80\n:::listen:srv tcp:127.0.0.2:80\n:::listen:srv tcp6:[::1]:80\n"
    ));
}
