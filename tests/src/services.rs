//! What tests that run small network services need: `python3` (the
//! services are written with its standard library) and a free port.

use std::net::{Ipv4Addr, TcpListener};

/// Whether the test must skip because `python3` is missing (says so).
pub fn skip_without_python() -> bool {
    let found = std::process::Command::new("python3").arg("-c").arg("pass").status().is_ok_and(|s| s.success());
    if !found {
        eprintln!("skipped: python3 is not installed");
    }
    !found
}

/// A free port on `addr` (bound and released: a small race another test
/// would have to lose at the same moment).
pub fn free_port_on(addr: Ipv4Addr) -> u16 {
    TcpListener::bind((addr, 0)).and_then(|l| l.local_addr()).map(|a| a.port()).expect("cannot find a free port")
}

/// A free port on 127.0.0.1.
pub fn free_port() -> u16 {
    free_port_on(Ipv4Addr::LOCALHOST)
}
