//! CPU and memory of each entry — of its cgroup when it has one (SPEC
//! §14: `cpu.stat`, `memory.current`, everything that ever ran there),
//! else of its process groups from `/proc` — read only when a client asks (`Request::Usage`): nothing here runs on a timer, so
//! a daemon nobody looks at spends no CPU on it.
//!
//! A CPU rate needs two readings, so the previous reading of each process
//! group is kept — by one task, the [`UsageSampler`], which owns it and
//! does the reading on a blocking thread: a scan of `/proc` with a thousand
//! children takes milliseconds that the runtime task must not spend.

use isinit_shared::protocol::ProcessUsage;
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// A previous reading older than this gives no rate: a percentage
/// averaged over minutes would mislead more than a blank.
const PREVIOUS_MAX_AGE: Duration = Duration::from_secs(10);

/// Requests queued for the sampler before askers wait.
const QUEUE: usize = 16;

/// What one entry's usage is read from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// The members of a process group, from `/proc`.
    Group(i32),
    /// An entry cgroup: every process in it, whatever its process group.
    Cgroup(PathBuf),
}

/// CPU ticks and resident memory of one process group at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GroupReading {
    /// Live members.
    pub processes: u32,
    /// utime + stime + cutime + cstime of the members, in clock ticks.
    pub ticks: u64,
    /// Resident pages of the members.
    pub rss_pages: u64,
}

/// A reading kept for the next rate.
#[derive(Debug, Clone, Copy)]
struct Previous {
    at: Instant,
    ticks: u64,
}

/// The fields of `/proc/PID/stat` the sampler needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatLine {
    /// Process group.
    pub pgid: i32,
    /// Zombies count for nothing.
    pub zombie: bool,
    /// utime + stime + cutime + cstime, in clock ticks.
    pub ticks: u64,
    /// Resident pages.
    pub rss_pages: u64,
}

/// Parses one `/proc/PID/stat` line; the command name may hold spaces
/// and parentheses, so fields are counted from the last `)`.
///
/// Hand-written, unlike the daemon's other `/proc` readers (which use the
/// `procfs` crate): this one runs for every process on the host once a
/// second while a console shows usage without cgroups, and needs four of
/// the fifty-two fields. `procfs` opens a directory descriptor per
/// process and parses every field into a struct; on this 2-core machine a
/// single read measured 15–19 µs either way, but the sampler's whole-host
/// scan is where an extra open per process would show, and a parser of
/// four fields is not worth a dependency's API churn.
pub fn parse_stat(text: &str) -> Option<StatLine> {
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state(3) ppid(4) pgrp(5) … utime(14) stime(15)
    // cutime(16) cstime(17) … rss(24), numbered as in proc(5).
    let field = |n: usize| f.get(n - 3).copied();
    let num = |n: usize| field(n)?.parse::<i64>().ok().map(|v| v.max(0) as u64);
    Some(StatLine {
        pgid: field(5)?.parse().ok()?,
        zombie: field(3)? == "Z",
        ticks: num(14)? + num(15)? + num(16)? + num(17)?,
        rss_pages: num(24)?,
    })
}

/// Sums the stat lines of every live member of the wanted process groups.
pub fn fold(lines: impl IntoIterator<Item = StatLine>, wanted: &BTreeSet<i32>) -> HashMap<i32, GroupReading> {
    let mut groups: HashMap<i32, GroupReading> = HashMap::new();
    for line in lines {
        if line.zombie || !wanted.contains(&line.pgid) {
            continue;
        }
        let g = groups.entry(line.pgid).or_default();
        g.processes += 1;
        g.ticks += line.ticks;
        g.rss_pages += line.rss_pages;
    }
    groups
}

/// The machine's constants for turning ticks and pages into units.
#[derive(Debug, Clone, Copy)]
pub struct Units {
    /// Clock ticks per second (`_SC_CLK_TCK`).
    pub ticks_per_sec: u64,
    /// Bytes per page.
    pub page_bytes: u64,
}

impl Units {
    fn of_this_machine() -> Units {
        // SAFETY: sysconf only reads system constants.
        let (tck, page) = unsafe { (libc::sysconf(libc::_SC_CLK_TCK), libc::sysconf(libc::_SC_PAGESIZE)) };
        Units {
            ticks_per_sec: u64::try_from(tck).unwrap_or(100).max(1),
            page_bytes: u64::try_from(page).unwrap_or(4096),
        }
    }
}

/// The state the sampler keeps between requests.
#[derive(Debug, Default)]
pub struct Sampler {
    previous: HashMap<Source, Previous>,
}

impl Sampler {
    /// One row per entry from a fresh reading of its process groups; CPU
    /// rates against the previous reading of each group when there is one
    /// recent enough. Forgets groups not asked about (they are gone).
    pub fn rows(
        &mut self,
        entries: &[(String, Vec<Source>)],
        readings: &HashMap<Source, GroupReading>,
        at: Instant,
        units: Units,
    ) -> Vec<ProcessUsage> {
        let mut rows = Vec::with_capacity(entries.len());
        let mut next = HashMap::new();
        for (tag, sources) in entries {
            let mut row =
                ProcessUsage { tag: tag.clone(), processes: 0, cpu_time_ms: 0, cpu_percent: None, rss_bytes: 0 };
            for source in sources {
                let Some(r) = readings.get(source) else { continue };
                row.processes += r.processes;
                row.cpu_time_ms += r.ticks.saturating_mul(1000) / units.ticks_per_sec;
                row.rss_bytes += r.rss_pages.saturating_mul(units.page_bytes);
                if let Some(prev) = self.previous.get(source) {
                    let elapsed = at.saturating_duration_since(prev.at);
                    if !elapsed.is_zero() && elapsed <= PREVIOUS_MAX_AGE {
                        // Members that left take their ticks along: never below 0.
                        let used = r.ticks.saturating_sub(prev.ticks) as f64 / units.ticks_per_sec as f64;
                        *row.cpu_percent.get_or_insert(0.0) += 100.0 * used / elapsed.as_secs_f64();
                    }
                }
                next.insert(source.clone(), Previous { at, ticks: r.ticks });
            }
            rows.push(row);
        }
        self.previous = next;
        rows
    }
}

/// Reads every source: process groups in one scan of `/proc`, each
/// cgroup from its own files.
fn read_sources(entries: &[(String, Vec<Source>)], units: Units) -> HashMap<Source, GroupReading> {
    let sources: BTreeSet<&Source> = entries.iter().flat_map(|(_, s)| s.iter()).collect();
    let groups: BTreeSet<i32> = sources
        .iter()
        .filter_map(|s| match s {
            Source::Group(pgid) => Some(*pgid),
            Source::Cgroup(_) => None,
        })
        .collect();
    let mut readings: HashMap<Source, GroupReading> =
        read_proc(&groups).into_iter().map(|(pgid, r)| (Source::Group(pgid), r)).collect();
    for s in sources {
        if let Source::Cgroup(dir) = s
            && let Some(r) = read_cgroup(dir, units)
        {
            readings.insert(s.clone(), r);
        }
    }
    readings
}

/// One cgroup as a reading: CPU time from `cpu.stat` (in ticks, the unit
/// readings share), memory from `memory.current`, or where the memory
/// controller is off, the resident pages of its processes.
fn read_cgroup(dir: &std::path::Path, units: Units) -> Option<GroupReading> {
    let usage = crate::cgroup::read_usage(dir)?;
    let ticks = usage.cpu_usec.saturating_mul(units.ticks_per_sec) / 1_000_000;
    let rss_pages = match usage.memory_bytes {
        Some(bytes) => bytes / units.page_bytes.max(1),
        None => crate::cgroup::procs(dir)
            .into_iter()
            .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
            .filter_map(|text| parse_stat(&text))
            .map(|s| s.rss_pages)
            .sum(),
    };
    Some(GroupReading { processes: usage.processes, ticks, rss_pages })
}

/// Reads `/proc` for the members of `wanted`.
fn read_proc(wanted: &BTreeSet<i32>) -> HashMap<i32, GroupReading> {
    if wanted.is_empty() {
        return HashMap::new();
    }
    let Ok(dir) = std::fs::read_dir("/proc") else { return HashMap::new() };
    let lines = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        // A process that exited since the listing is simply not counted.
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .filter_map(|text| parse_stat(&text));
    fold(lines, wanted)
}

struct Job {
    entries: Vec<(String, Vec<Source>)>,
    reply: oneshot::Sender<Vec<ProcessUsage>>,
}

/// The handle connections use to ask for a sample; cheap to clone.
#[derive(Clone)]
pub struct UsageSampler {
    jobs: mpsc::Sender<Job>,
}

impl UsageSampler {
    /// Starts the sampler task; it ends when every handle is dropped.
    pub fn start() -> UsageSampler {
        let (jobs, mut rx) = mpsc::channel::<Job>(QUEUE);
        tokio::spawn(async move {
            let units = Units::of_this_machine();
            let mut sampler = Sampler::default();
            while let Some(job) = rx.recv().await {
                let owned = std::mem::take(&mut sampler);
                let work = tokio::task::spawn_blocking(move || {
                    let mut owned = owned;
                    let readings = read_sources(&job.entries, units);
                    let rows = owned.rows(&job.entries, &readings, Instant::now(), units);
                    (owned, rows, job.reply)
                });
                match work.await {
                    Ok((owned, rows, reply)) => {
                        sampler = owned;
                        let _ = reply.send(rows);
                    }
                    // A panic in the reading loses one answer, not the sampler.
                    Err(e) => tracing::warn!("usage sample failed: {e}"),
                }
            }
        });
        UsageSampler { jobs }
    }

    /// Samples the sources of `entries`; `None` if the sampler is gone.
    pub async fn sample(&self, entries: Vec<(String, Vec<Source>)>) -> Option<Vec<ProcessUsage>> {
        let (reply, rx) = oneshot::channel();
        self.jobs.send(Job { entries, reply }).await.ok()?;
        rx.await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNITS: Units = Units { ticks_per_sec: 100, page_bytes: 4096 };

    #[test]
    fn stat_lines_with_odd_names() {
        let text = "4242 (my (odd) name) S 1 4240 4240 0 -1 4194560 100 0 0 0 150 50 7 3 20 0 1 0 12345 9000000 250 18446744073709551615";
        let s = parse_stat(text).expect("parses");
        assert_eq!(s, StatLine { pgid: 4240, zombie: false, ticks: 210, rss_pages: 250 });
        assert!(parse_stat("12 (z) Z 1 12 12 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 1 0 0").expect("zombie").zombie);
        assert_eq!(parse_stat("garbage"), None);
    }

    fn line(pgid: i32, ticks: u64, rss_pages: u64) -> StatLine {
        StatLine { pgid, zombie: false, ticks, rss_pages }
    }

    #[test]
    fn members_are_summed_per_group_zombies_and_strangers_left_out() {
        let wanted: BTreeSet<i32> = [10, 20].into();
        let lines = [line(10, 5, 1), line(10, 7, 2), line(30, 100, 100), StatLine { zombie: true, ..line(20, 9, 9) }];
        let groups = fold(lines, &wanted);
        assert_eq!(groups[&10], GroupReading { processes: 2, ticks: 12, rss_pages: 3 });
        assert!(!groups.contains_key(&20) && !groups.contains_key(&30));
    }

    #[test]
    fn the_first_sample_has_no_rate_the_second_has() {
        let mut s = Sampler::default();
        let entries = vec![("mta".to_string(), vec![Source::Group(10), Source::Group(11)])];
        let t0 = Instant::now();
        let r0: HashMap<Source, GroupReading> =
            [(Source::Group(10), GroupReading { processes: 2, ticks: 100, rss_pages: 10 })].into();
        let first = s.rows(&entries, &r0, t0, UNITS);
        assert_eq!(first[0].cpu_percent, None);
        assert_eq!((first[0].processes, first[0].cpu_time_ms, first[0].rss_bytes), (2, 1000, 40960));

        // 50 ticks (0.5 s of CPU) in 2 s is 25 %; group 11 appears, no rate yet.
        let r1: HashMap<Source, GroupReading> = [
            (Source::Group(10), GroupReading { processes: 2, ticks: 150, rss_pages: 10 }),
            (Source::Group(11), GroupReading { processes: 1, ticks: 40, rss_pages: 5 }),
        ]
        .into();
        let second = s.rows(&entries, &r1, t0 + Duration::from_secs(2), UNITS);
        assert_eq!(second[0].cpu_percent, Some(25.0));
        assert_eq!(second[0].processes, 3);

        // A member left with its ticks: the rate is 0, never negative.
        let r2: HashMap<Source, GroupReading> =
            [(Source::Group(10), GroupReading { processes: 1, ticks: 20, rss_pages: 5 })].into();
        let third = s.rows(&entries, &r2, t0 + Duration::from_secs(3), UNITS);
        assert_eq!(third[0].cpu_percent, Some(0.0));
    }

    #[test]
    fn an_old_previous_reading_gives_no_rate_and_gone_groups_are_forgotten() {
        let mut s = Sampler::default();
        let entries = vec![("a".to_string(), vec![Source::Cgroup("/sys/fs/cgroup/x/g/a".into())])];
        let t0 = Instant::now();
        let r: HashMap<Source, GroupReading> =
            [(Source::Cgroup("/sys/fs/cgroup/x/g/a".into()), GroupReading { processes: 1, ticks: 100, rss_pages: 1 })]
                .into();
        s.rows(&entries, &r, t0, UNITS);
        let late = s.rows(&entries, &r, t0 + PREVIOUS_MAX_AGE + Duration::from_secs(1), UNITS);
        assert_eq!(late[0].cpu_percent, None);
        s.rows(&[], &HashMap::new(), t0, UNITS);
        assert!(s.previous.is_empty());
    }
}
