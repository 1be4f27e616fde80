//! Reading `/proc`: how a test sees the daemon's children from the outside.
//!
//! Every function tolerates processes vanishing between listing `/proc` and
//! reading their files: a process that is gone is simply not reported.

use std::path::Path;

/// What `/proc/PID/stat` says about one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    /// The process.
    pub pid: i32,
    /// The executable name, without the parentheses.
    pub comm: String,
    /// `R`, `S`, `Z`, ...
    pub state: char,
    /// Its parent.
    pub ppid: i32,
    /// Its process group.
    pub pgid: i32,
}

impl std::fmt::Display for Stat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {} ({}) state {} ppid {} pgid {}", self.pid, self.comm, self.state, self.ppid, self.pgid)
    }
}

/// The stat line of `pid`, if it exists.
pub fn stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // comm may contain spaces and parentheses: it ends at the last `)`.
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text[open + 1..close].to_string();
    let mut rest = text[close + 1..].split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    let pgid = rest.next()?.parse().ok()?;
    Some(Stat { pid, comm, state, ppid, pgid })
}

/// The CPU time (user + system) process `pid` has spent itself, not its
/// children; clock ticks taken as 10 ms (`CLK_TCK` 100).
pub fn cpu_time(pid: i32) -> Option<std::time::Duration> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields 14 and 15, counted from the state (field 3) after comm.
    let mut rest = text[text.rfind(')')? + 1..].split_whitespace().skip(11);
    let (utime, stime): (u64, u64) = (rest.next()?.parse().ok()?, rest.next()?.parse().ok()?);
    Some(std::time::Duration::from_millis((utime + stime) * 10))
}

/// Every process on the machine right now.
pub fn all() -> Vec<Stat> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok()).filter_map(stat).collect()
}

/// The direct children of `ppid`, zombies included.
pub fn children_of(ppid: i32) -> Vec<Stat> {
    all().into_iter().filter(|s| s.ppid == ppid).collect()
}

/// Each thread of `pid` as `NAME: WCHAN`: the kernel function it sleeps
/// in, for a test to say where a process that should have moved waits.
pub fn threads_waiting(pid: i32) -> Vec<String> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return Vec::new() };
    let read = |path: std::path::PathBuf| std::fs::read_to_string(path).unwrap_or_default().trim().to_string();
    tasks.flatten().map(|t| format!("{}: {}", read(t.path().join("comm")), read(t.path().join("wchan")))).collect()
}

/// The members of process group `pgid`, zombies included.
pub fn group_members(pgid: i32) -> Vec<Stat> {
    all().into_iter().filter(|s| s.pgid == pgid).collect()
}

/// One `Name:\tvalue` field of `/proc/PID/status`.
pub fn status_field(pid: i32, name: &str) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':').map(|v| v.trim().to_string()))
}

/// A hexadecimal signal-set field (`SigIgn`, `SigBlk`, ...) as a bit mask;
/// bit `n - 1` stands for signal `n`.
pub fn signal_set(pid: i32, name: &str) -> Option<u64> {
    u64::from_str_radix(&status_field(pid, name)?, 16).ok()
}

/// The bit of signal `sig` in a [`signal_set`].
pub fn signal_bit(sig: i32) -> u64 {
    1u64 << (sig - 1)
}

/// The environment `pid` was started with, as `NAME=value` strings.
pub fn environ(pid: i32) -> Vec<String> {
    match std::fs::read(format!("/proc/{pid}/environ")) {
        Ok(bytes) => bytes
            .split(|b| *b == 0)
            .filter(|v| !v.is_empty())
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Every live process whose environment contains exactly `var` (a
/// `NAME=value` string). Zombies have no readable environment and are
/// therefore not reported.
pub fn with_env(var: &str) -> Vec<Stat> {
    all().into_iter().filter(|s| environ(s.pid).iter().any(|v| v == var)).collect()
}

/// Where file descriptor `fd` of `pid` points.
pub fn fd_target(pid: i32, fd: i32) -> Option<std::path::PathBuf> {
    std::fs::read_link(Path::new(&format!("/proc/{pid}/fd/{fd}"))).ok()
}

/// The working directory of `pid`.
pub fn cwd(pid: i32) -> Option<std::path::PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/cwd")).ok()
}
