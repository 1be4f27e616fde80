//! What one daemon image hands to the next on `isinit reexec` (SPEC §10):
//! the format, its version, and the memfd it travels in.
//!
//! The bytes are `(version, body)` through the shared codec, so a reader
//! learns the version before it tries to read a body of another shape:
//! an image that does not know the version refuses it with a clear reason
//! (and the old daemon, which asked it first, carries on).

use isinit_core::SupervisorState;
use isinit_shared::protocol::codec::{self, CodecError};
use isinit_shared::protocol::{AuditRecord, NoticeRecord};
use serde::{Deserialize, Serialize};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

/// Version of [`Handover`]; bumped on any change to its shape.
/// 3: `owners` appended. 4: `held` and `followed` appended.
pub const HANDOVER_VERSION: u32 = 4;
/// The version before `held`, still read (see [`decode`]).
const HANDOVER_V3: u32 = 3;
/// The version before `owners`, still read (see [`decode`]).
const HANDOVER_V2: u32 = 2;
/// The previous version (no [`HandedSettings`]), still read so that a
/// daemon of that version can re-execute into this binary.
const HANDOVER_V1: u32 = 1;
/// The most memory a handover may claim while decoded.
const MAX_HANDOVER: usize = 64 * 1024 * 1024;
/// Environment variable naming the memfd with the handover.
pub const ENV_HANDOVER: &str = "ISINIT_HANDOVER_FD";

/// The whole state of a daemon image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Handover {
    /// The version of the image that wrote it, for the log.
    pub from_version: String,
    /// The isinittab in force (which may differ from the file on disk).
    pub config_path: String,
    /// Its entries re-rendered as isinittab text, line numbers kept.
    pub config_text: String,
    /// Its digest, as the file had it.
    pub config_sha256: String,
    /// The supervisor: groups, process table, history, deadlines.
    pub supervisor: SupervisorState,
    /// Subscribers' sequence number.
    pub seq: u64,
    /// When the daemon first started (the pid's age).
    pub started_at_ms: u64,
    /// The audit trail.
    pub audit: Vec<AuditRecord>,
    /// Notices.
    pub notices: Vec<NoticeRecord>,
    /// How far each tag's output file had been read.
    pub output: Vec<(String, u64)>,
    /// The listening socket's descriptor.
    pub listener_fd: i32,
    /// The connection of the `reexec` request, answered by the new image.
    pub reply_fd: Option<i32>,
    /// The settings the old image runs with; `None` from a version 1 image.
    pub settings: Option<HandedSettings>,
    /// The groups a cluster manager owns (SPEC §18); empty from a version
    /// 1 or 2 image. Appended: bincode orders fields.
    pub owners: Vec<(String, isinit_shared::protocol::Owner)>,
    /// The listening sockets held for entries (`:::listen:`, SPEC §17),
    /// inherited through `execve` like the control socket; empty from an
    /// older image. Appended: bincode orders fields.
    pub held: Vec<HandedSocket>,
    /// `(tag, process group)` of the records that follow a `MAINPID=`
    /// (SPEC §17; the process table has their pid); empty from an older
    /// image. Appended with `held`.
    pub followed: Vec<(String, i32)>,
}

/// One held listening socket as it crosses a `reexec`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandedSocket {
    /// The entry it is held for.
    pub tag: String,
    /// Its address as `status` shows it (`ListenAddress`'s text).
    pub address: String,
    /// The descriptor number, open across the `execve`.
    pub fd: i32,
}

/// The settings the old image resolved at its start, carried over as they
/// are: the new image must not resolve them again from the file on disk,
/// which may be invalid or name another socket since (a reload does not
/// move the socket, state or log files either). The timing and the output
/// size cap come from the daemon's arguments, which the new image gets
/// unchanged, so they need no place here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandedSettings {
    /// The control socket the inherited listener is bound to.
    pub socket: PathBuf,
    /// The status file.
    pub initstat: PathBuf,
    /// The state file.
    pub state: PathBuf,
    /// Where each tag's output file lives.
    pub logdir: PathBuf,
    /// The daemon's own log file, if any.
    pub log: Option<PathBuf>,
    /// ROOT of the entry cgroups and whether the daemon made it; `None`:
    /// process groups only.
    pub cgroup: Option<(PathBuf, bool)>,
}

/// A version 1 handover: [`Handover`] without its settings.
#[derive(Deserialize)]
struct HandoverV1 {
    from_version: String,
    config_path: String,
    config_text: String,
    config_sha256: String,
    supervisor: SupervisorState,
    seq: u64,
    started_at_ms: u64,
    audit: Vec<AuditRecord>,
    notices: Vec<NoticeRecord>,
    output: Vec<(String, u64)>,
    listener_fd: i32,
    reply_fd: Option<i32>,
}

impl From<HandoverV1> for Handover {
    fn from(h: HandoverV1) -> Handover {
        Handover {
            from_version: h.from_version,
            config_path: h.config_path,
            config_text: h.config_text,
            config_sha256: h.config_sha256,
            supervisor: h.supervisor,
            seq: h.seq,
            started_at_ms: h.started_at_ms,
            audit: h.audit,
            notices: h.notices,
            output: h.output,
            listener_fd: h.listener_fd,
            reply_fd: h.reply_fd,
            settings: None,
            owners: Vec::new(),
            held: Vec::new(),
            followed: Vec::new(),
        }
    }
}

/// Why a handover could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HandoverError {
    /// Not a handover at all.
    #[error("unreadable handover: {0}")]
    Codec(#[from] CodecError),
    /// From an image with another format.
    #[error("handover format version {0}, this binary reads version {HANDOVER_VERSION}")]
    Version(u32),
    /// The isinittab handed over does not parse back.
    #[error("the isinittab handed over does not parse: {0}")]
    Config(String),
    /// The descriptor could not be read.
    #[error("cannot read the handover: {0}")]
    Io(#[from] std::io::Error),
}

/// Encodes a handover with its version in front.
pub fn encode(h: &Handover) -> Result<Vec<u8>, CodecError> {
    codec::encode_value(&(HANDOVER_VERSION, codec::encode_value(h)?))
}

/// Decodes handover bytes, refusing another version. Pure and total: any
/// input gives a value or an error, never a panic (a fuzz target runs it).
pub fn decode(bytes: &[u8]) -> Result<Handover, HandoverError> {
    let (version, body): (u32, Vec<u8>) = codec::decode_value::<_, MAX_HANDOVER>(bytes)?;
    match version {
        HANDOVER_VERSION => Ok(codec::decode_value::<_, MAX_HANDOVER>(&body)?),
        // Version 2 is version 4 without its last three fields, `owners`,
        // `held` and `followed`: bincode writes fields in order and nothing
        // after them, so the body with three empty lists' encodings (count
        // 0, one zero byte each) appended is a version 4 body with none.
        HANDOVER_V2 => {
            let mut body = body;
            body.extend([0, 0, 0]);
            Ok(codec::decode_value::<_, MAX_HANDOVER>(&body)?)
        }
        // Version 3 is version 4 without `held` and `followed`: likewise
        // two empty lists.
        HANDOVER_V3 => {
            let mut body = body;
            body.extend([0, 0]);
            Ok(codec::decode_value::<_, MAX_HANDOVER>(&body)?)
        }
        HANDOVER_V1 => Ok(codec::decode_value::<HandoverV1, MAX_HANDOVER>(&body)?.into()),
        _ => Err(HandoverError::Version(version)),
    }
}

/// A memfd holding `bytes`, positioned at its start, close-on-exec (the
/// caller clears that on the one `execve` it is meant for).
pub fn to_memfd(bytes: &[u8]) -> std::io::Result<std::fs::File> {
    // SAFETY: memfd_create takes a NUL-terminated name and flags.
    let fd = unsafe { libc::memfd_create(c"isinit-handover".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the descriptor was just created and is owned by nobody else.
    let mut f = unsafe { std::fs::File::from_raw_fd(fd) };
    f.write_all(bytes)?;
    f.seek(SeekFrom::Start(0))?;
    Ok(f)
}

/// Reads the handover from descriptor `fd` (inherited through `execve`)
/// and closes it.
pub fn read_fd(fd: RawFd) -> Result<Handover, HandoverError> {
    // Owned only if open: closing a number that is not would abort (an
    // I/O safety violation) instead of letting the caller carry on.
    // SAFETY: F_GETFD only reads the descriptor's flags.
    if fd < 0 || unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(HandoverError::Io(std::io::Error::from_raw_os_error(libc::EBADF)));
    }
    // SAFETY: fd came from the environment the old image set for us, and
    // is open; it is ours alone from here on.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut f = std::fs::File::from(owned);
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)?;
    decode(&bytes)
}

/// `isinit handover-check`: reads a handover on stdin and says whether
/// this binary can take over from it. Run by the old image before it
/// execs this one.
pub fn check_stdin() -> Result<String, HandoverError> {
    let mut bytes = Vec::new();
    std::io::stdin().lock().read_to_end(&mut bytes)?;
    let h = decode(&bytes)?;
    let tab =
        isinit_shared::config::Inittab::from_bytes(std::path::Path::new(&h.config_path), h.config_text.as_bytes())
            .map_err(|e| HandoverError::Config(e.lines().join("; ")))?;
    Ok(format!(
        "handover from isinit {} readable: {} groups, {} processes, {} entries",
        h.from_version,
        h.supervisor.groups.len(),
        h.supervisor.procs.len(),
        tab.entries.len()
    ))
}

/// Sets or clears close-on-exec on `fd`.
pub fn set_cloexec(fd: &(impl AsRawFd + ?Sized), on: bool) -> std::io::Result<()> {
    let fd = fd.as_raw_fd();
    // SAFETY: F_GETFD/F_SETFD on a descriptor we hold.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFD);
        if flags < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let flags = if on { flags | libc::FD_CLOEXEC } else { flags & !libc::FD_CLOEXEC };
        if libc::fcntl(fd, libc::F_SETFD, flags) < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The isinittab's entries (and `:::limit:`, `:::probe:`, `:::watchdog:` and `:::listen:` lines) as text,
/// each on its original line, so that the next image parses the very entries in force.
pub fn render_config(tab: &isinit_shared::config::Inittab) -> String {
    let entries = tab
        .entries
        .iter()
        .map(|e| (e.line, format!("{}:{}:{}:{}:{}", e.group, e.tag, e.levels.raw(), e.mode.as_str(), e.command)));
    let limits = tab.directives.limits.iter().map(|l| (l.line, format!(":::limit:{} {}={}", l.group, l.key, l.value)));
    let probes = tab.directives.probes.iter().map(|p| {
        let (every, timeout) = (p.every.as_secs_f64(), p.timeout.as_secs_f64());
        (p.line, format!(":::probe:{} every={every} timeout={timeout} failures={} {}", p.tag, p.failures, p.check))
    });
    let watchdogs = tab
        .directives
        .watchdogs
        .iter()
        .map(|w| (w.line, format!(":::watchdog:{} {}", w.tag, w.interval.as_secs_f64())));
    let listens = tab.directives.listens.iter().map(|l| (l.line, format!(":::listen:{} {}", l.tag, l.address)));
    let mut lines: Vec<(usize, String)> = entries.chain(limits).chain(probes).chain(watchdogs).chain(listens).collect();
    lines.sort_by_key(|(n, _)| *n);
    let mut text = String::new();
    let mut line = 1usize;
    for (n, content) in lines {
        while line < n {
            text.push('\n');
            line += 1;
        }
        text.push_str(&content);
        text.push('\n');
        line += 1;
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use isinit_core::{Now, Supervisor, Timing};
    use isinit_shared::config::Inittab;
    use std::path::Path;

    fn sample() -> Handover {
        let text = "# c\ng:a:1:respawn:sleep 1\n\ng:b:1,2:once:echo x: y\nh:t:1:test:true\n";
        let tab = Inittab::from_bytes(Path::new("/etc/isinittab"), text.as_bytes()).unwrap();
        let mut sup = Supervisor::new(tab.clone(), Timing::default(), Now::real());
        sup.tell(Now::real(), "g", "1").unwrap();
        let _ = sup.take_effects();
        sup.spawned(Now::real(), "a", Ok(4242));
        Handover {
            from_version: "0.1.0".into(),
            config_path: "/etc/isinittab".into(),
            config_text: render_config(&tab),
            config_sha256: tab.sha256.clone(),
            supervisor: sup.export(Now::real()),
            seq: 7,
            started_at_ms: 1,
            audit: vec![],
            notices: vec![],
            output: vec![("a".into(), 99)],
            listener_fd: 3,
            reply_fd: Some(9),
            settings: Some(HandedSettings {
                socket: "/run/is/sock".into(),
                initstat: "/run/is/initstat".into(),
                state: "/run/is/state".into(),
                logdir: "/var/log/is".into(),
                log: None,
                cgroup: Some(("/sys/fs/cgroup/isinit-x".into(), true)),
            }),
            owners: vec![("g".into(), isinit_shared::protocol::Owner::pacemaker("web", "node3"))],
            held: vec![HandedSocket { tag: "a".into(), address: "tcp:127.0.0.1:8080".into(), fd: 11 }],
            followed: vec![("a".into(), 4000)],
        }
    }

    #[test]
    fn roundtrip() {
        let h = sample();
        let back = decode(&encode(&h).unwrap()).unwrap();
        assert_eq!(back, h);
        assert_eq!(back.supervisor.procs.iter().find(|p| p.entry.tag == "a").and_then(|p| p.pid), Some(4242));
    }

    #[test]
    fn rendered_config_has_the_same_entries() {
        let text = "# c\n:::limit:g memory.max=1G\ng:a:1:respawn:sleep 1\n\ng:b:1,2:once:echo x: y\n:::socket:/x\nh:t:1:test:true\n:::limit:h cpu.max=max 20000\n";
        let tab = Inittab::from_bytes(Path::new("/p"), text.as_bytes()).unwrap();
        let again = Inittab::from_bytes(Path::new("/p"), render_config(&tab).as_bytes()).unwrap();
        assert_eq!(again.entries, tab.entries);
        assert_eq!(again.directives.limits, tab.directives.limits, "a reexec keeps the limits");
    }

    #[test]
    fn rendered_config_keeps_probes_and_watchdogs() {
        let text = r#"g:a:1:respawn:sleep 1
:::probe:a every=0.2 timeout=1.5 failures=4 http://[::1]/x?y=1
g:b:1:notify:serve
:::probe:b exec:test -e /tmp/ok && echo "a: b"
:::watchdog:b 0.25
:::probe:g tcp:localhost:22
g:g:1:once:x
"#;
        let tab = Inittab::from_bytes(Path::new("/p"), text.as_bytes()).unwrap();
        let again = Inittab::from_bytes(Path::new("/p"), render_config(&tab).as_bytes()).unwrap();
        assert_eq!(again.directives.probes, tab.directives.probes, "a reexec keeps the probes");
        assert_eq!(again.directives.watchdogs, tab.directives.watchdogs, "and the watchdogs");
        let text =
            "g:a:1:respawn:x\n:::listen:a tcp:localhost:81\n:::listen:a tcp6:[::1]:82\n:::listen:a unix:/run/a.s\n";
        let tab = Inittab::from_bytes(Path::new("/p"), text.as_bytes()).unwrap();
        let again = Inittab::from_bytes(Path::new("/p"), render_config(&tab).as_bytes()).unwrap();
        assert_eq!(again.directives.listens, tab.directives.listens, "and the held sockets' lines");
    }

    #[test]
    fn another_version_is_refused() {
        let h = sample();
        let bytes = codec::encode_value(&(HANDOVER_VERSION + 1, codec::encode_value(&h).unwrap())).unwrap();
        assert!(matches!(decode(&bytes), Err(HandoverError::Version(v)) if v == HANDOVER_VERSION + 1));
    }

    /// A daemon of the previous format can still re-execute into this one.
    #[test]
    fn version_1_is_read_without_settings() {
        let h = sample();
        let v1 = (
            &h.from_version,
            &h.config_path,
            &h.config_text,
            &h.config_sha256,
            &h.supervisor,
            h.seq,
            h.started_at_ms,
            &h.audit,
            &h.notices,
            &h.output,
            h.listener_fd,
            h.reply_fd,
        );
        let bytes = codec::encode_value(&(HANDOVER_V1, codec::encode_value(&v1).unwrap())).unwrap();
        let back = decode(&bytes).unwrap();
        assert_eq!(back, Handover { settings: None, owners: Vec::new(), held: Vec::new(), followed: Vec::new(), ..h });
    }

    /// A daemon of version 2 (no owners) can still re-execute into this one.
    #[test]
    fn version_2_is_read_without_owners() {
        let h = Handover { owners: Vec::new(), held: Vec::new(), followed: Vec::new(), ..sample() };
        let mut body = codec::encode_value(&h).unwrap();
        assert_eq!(body.pop(), Some(0), "an empty followed list is one zero byte at the end");
        assert_eq!(body.pop(), Some(0), "so is an empty held list");
        assert_eq!(body.pop(), Some(0), "and so is an empty owners list");
        let bytes = codec::encode_value(&(HANDOVER_V2, body)).unwrap();
        assert_eq!(decode(&bytes).unwrap(), h);
    }

    /// A daemon of version 3 (no held sockets) can still re-execute into this one.
    #[test]
    fn version_3_is_read_without_held_sockets() {
        let h = Handover { held: Vec::new(), followed: Vec::new(), ..sample() };
        let mut body = codec::encode_value(&h).unwrap();
        assert_eq!(body.pop(), Some(0), "an empty followed list is one zero byte at the end");
        assert_eq!(body.pop(), Some(0), "and so is an empty held list");
        let bytes = codec::encode_value(&(HANDOVER_V3, body)).unwrap();
        assert_eq!(decode(&bytes).unwrap(), h);
    }

    /// A number that is not an open descriptor is an error, not an abort.
    #[test]
    fn a_descriptor_that_is_not_open_is_an_error() {
        // Never a number another test thread may have open meanwhile.
        for fd in [-1, i32::MAX] {
            assert!(matches!(read_fd(fd), Err(HandoverError::Io(_))), "fd {fd}");
        }
    }

    #[test]
    fn garbage_is_refused_without_panic() {
        for bytes in [&b""[..], b"\x01", b"\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff", &[0u8; 64]] {
            assert!(decode(bytes).is_err());
        }
        let good = encode(&sample()).unwrap();
        for cut in 0..good.len() {
            assert!(decode(&good[..cut]).is_err());
        }
    }
}
