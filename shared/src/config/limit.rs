//! `:::limit:GROUP KEY=VALUE`: a cgroup v2 resource limit on a resource
//! group (SPEC §14), validated here so that `isinit check` refuses a value
//! the kernel would refuse, before the file reaches a cluster's hosts.

/// The cgroup interface files a limit may set.
///
/// A closed list: these are the limits operators ask a supervisor for
/// (memory, CPU, process count), and each needs a controller that a host
/// may or may not delegate, which the daemon reports per limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LimitKey {
    /// `memory.max`: the hard memory limit (the OOM killer acts past it).
    MemoryMax,
    /// `memory.high`: the throttling threshold below `memory.max`.
    MemoryHigh,
    /// `cpu.max`: a bandwidth quota per period.
    CpuMax,
    /// `cpu.weight`: the share of CPU against sibling groups.
    CpuWeight,
    /// `pids.max`: how many processes and threads the group may have.
    PidsMax,
}

impl LimitKey {
    /// Every key, in the order messages list them.
    pub const ALL: [LimitKey; 5] =
        [LimitKey::MemoryMax, LimitKey::MemoryHigh, LimitKey::CpuMax, LimitKey::CpuWeight, LimitKey::PidsMax];

    /// The interface file, as written in the isinittab.
    pub fn file(self) -> &'static str {
        match self {
            LimitKey::MemoryMax => "memory.max",
            LimitKey::MemoryHigh => "memory.high",
            LimitKey::CpuMax => "cpu.max",
            LimitKey::CpuWeight => "cpu.weight",
            LimitKey::PidsMax => "pids.max",
        }
    }

    /// The controller that must be enabled for the file to exist.
    pub fn controller(self) -> &'static str {
        match self {
            LimitKey::MemoryMax | LimitKey::MemoryHigh => "memory",
            LimitKey::CpuMax | LimitKey::CpuWeight => "cpu",
            LimitKey::PidsMax => "pids",
        }
    }

    /// The kernel's default, written back when a limit leaves the file.
    pub fn default_value(self) -> &'static str {
        match self {
            LimitKey::CpuMax => "max 100000",
            LimitKey::CpuWeight => "100",
            _ => "max",
        }
    }

    fn parse(s: &str) -> Option<LimitKey> {
        LimitKey::ALL.into_iter().find(|k| k.file() == s)
    }
}

impl std::fmt::Display for LimitKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.file())
    }
}

/// One `:::limit:` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    /// The resource group it applies to (a group of the file).
    pub group: String,
    /// Which limit.
    pub key: LimitKey,
    /// The value as written, for messages (`512M`).
    pub value: String,
    /// The value as the kernel takes it (`536870912`).
    pub kernel: String,
    /// 1-based line number, for messages and duplicates.
    pub line: usize,
}

impl std::fmt::Display for Limit {
    /// `GROUP KEY=VALUE`, as in the file and in the daemon's reports.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}={}", self.group, self.key, self.value)
    }
}

/// Parses the value part of `:::limit:` (`GROUP KEY=VALUE`) into a limit
/// on `line`, or the message an operator reads.
pub(crate) fn parse(line: usize, text: &str) -> Result<Limit, String> {
    const SHAPE: &str = "directive `limit` expects GROUP KEY=VALUE";
    let (group, rest) = text.trim().split_once(char::is_whitespace).ok_or(SHAPE)?;
    let (key, value) = rest.trim().split_once('=').ok_or(SHAPE)?;
    let (key, value) = (key.trim(), value.trim());
    if value.is_empty() {
        return Err(SHAPE.to_string());
    }
    let key = LimitKey::parse(key).ok_or_else(|| {
        format!("unknown limit `{key}` (expected memory.max, memory.high, cpu.max, cpu.weight or pids.max)")
    })?;
    let kernel = match key {
        LimitKey::MemoryMax | LimitKey::MemoryHigh => bytes(value),
        LimitKey::CpuMax => cpu_max(value),
        LimitKey::CpuWeight => cpu_weight(value),
        LimitKey::PidsMax => pids_max(value),
    }
    .ok_or_else(|| format!("limit {key} value `{value}` is invalid: expected {}", expected(key)))?;
    Ok(Limit { group: group.to_string(), key, value: value.to_string(), kernel, line })
}

fn expected(key: LimitKey) -> &'static str {
    match key {
        LimitKey::MemoryMax | LimitKey::MemoryHigh => "bytes with an optional K, M, G or T suffix, or max",
        LimitKey::CpuMax => "QUOTA PERIOD, max PERIOD or max (microseconds, period 1000 to 1000000, quota from 1000)",
        LimitKey::CpuWeight => "an integer from 1 to 10000",
        LimitKey::PidsMax => "a positive integer or max",
    }
}

/// Plain decimal digits only: `+5` or ` 5` are not numbers to the kernel.
fn number(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn bytes(value: &str) -> Option<String> {
    if value == "max" {
        return Some("max".to_string());
    }
    let (digits, shift) = match value.as_bytes().last()? {
        b'K' | b'k' => (&value[..value.len() - 1], 10),
        b'M' | b'm' => (&value[..value.len() - 1], 20),
        b'G' | b'g' => (&value[..value.len() - 1], 30),
        b'T' | b't' => (&value[..value.len() - 1], 40),
        _ => (value, 0),
    };
    number(digits)?.checked_mul(1u64 << shift).map(|n| n.to_string())
}

fn cpu_max(value: &str) -> Option<String> {
    if value == "max" {
        return Some("max".to_string());
    }
    let mut parts = value.split_whitespace();
    let (quota, period) = (parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let period = number(period).filter(|p| (1000..=1_000_000).contains(p))?;
    if quota == "max" {
        return Some(format!("max {period}"));
    }
    let quota = number(quota).filter(|q| *q >= 1000)?;
    Some(format!("{quota} {period}"))
}

fn cpu_weight(value: &str) -> Option<String> {
    number(value).filter(|w| (1..=10_000).contains(w)).map(|w| w.to_string())
}

fn pids_max(value: &str) -> Option<String> {
    if value == "max" {
        return Some("max".to_string());
    }
    number(value).filter(|n| *n > 0).map(|n| n.to_string())
}
