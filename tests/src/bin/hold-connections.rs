//! `hold-connections SOCKET N [hello|silent]`: opens N connections to an
//! isinit daemon (saying hello on each, or nothing), prints `held K` (with
//! hello: how many the daemon answered; silent: how many connected), and
//! holds them until stdin is closed.
//!
//! A separate process, so that the e2e tests can run it as another user
//! (`setpriv --reuid=65534 ...`) and flood the daemon with *unprivileged*
//! idle readers, which SPEC §7 lets anyone who can open the socket be.

use isinit_client::frame::encode_frame;
use isinit_shared::protocol::{PROTOCOL_VERSION, Request};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// How long all the hellos together may take: a daemon that accepts but
/// never answers must not hold the test up for N times a timeout.
const BUDGET: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(socket), Some(Ok(n))) = (args.get(1), args.get(2).map(|n| n.parse::<usize>())) else {
        eprintln!("usage: hold-connections SOCKET N [hello|silent]");
        return ExitCode::FAILURE;
    };
    let hello = args.get(3).is_none_or(|m| m == "hello");
    let frame = match encode_frame(&Request::Hello { protocol: PROTOCOL_VERSION }) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("cannot encode hello: {e}");
            return ExitCode::FAILURE;
        }
    };
    let deadline = Instant::now() + BUDGET;
    let open = || -> std::io::Result<UnixStream> {
        let mut s = UnixStream::connect(socket)?;
        if hello {
            let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
            s.set_read_timeout(Some(left))?;
            s.write_all(&frame)?;
            let mut len = [0u8; 4];
            s.read_exact(&mut len)?; // the daemon's hello: we are in
        }
        Ok(s)
    };
    let held: Vec<UnixStream> = (0..n).filter_map(|_| open().ok()).collect();
    println!("held {}", held.len());
    let _ = std::io::stdout().flush();
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    drop(held);
    ExitCode::SUCCESS
}
