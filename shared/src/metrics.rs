//! The text exposition format (version 0.0.4) of a status snapshot.
//!
//! Written by hand rather than with `prometheus-client`, on purpose: that
//! crate keeps metrics as live objects in a registry that the program
//! updates as things happen, while isinit has nothing to keep — a scrape
//! is one status snapshot rendered once, with no state between scrapes
//! (no scrape, no work). Feeding a registry from a snapshot would mean
//! building and dropping a registry of every family and label set per
//! scrape to print the same text. The format's escaping and ordering rules
//! are small and are pinned here by `promtool check metrics` in the tests.

use crate::protocol::{ExitStatus, GroupState, Health, ProcessUsage, Snapshot, usage_by_group};
use crate::time::UnixMillis;
use std::collections::BTreeSet;
use std::fmt::Write;

/// The signal the kernel's OOM killer sends (9 on every Linux
/// architecture): an OOM kill shows as that signal in the metrics.
const SIGKILL: i32 = 9;

/// The `Content-Type` of the text format, as Prometheus asks for it.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Every group state, each a series of `isinit_group_state` (1 for the
/// current one, 0 for the others, so `== 1` selects and `sum by (state)`
/// counts).
const STATES: [GroupState; 7] = [
    GroupState::Configured,
    GroupState::Stopping,
    GroupState::Starting,
    GroupState::Done,
    GroupState::Passed,
    GroupState::Failed,
    GroupState::Halting,
];

/// The metrics of one snapshot. Its `clients_connected` must have been
/// filled in by whoever took it (the status handler does).
pub fn render(snap: &Snapshot) -> String {
    let mut m = Exposition::default();
    let d = &snap.daemon;
    m.family("isinit_build_info", "gauge", "Version of the running isinit daemon (always 1).");
    m.sample("isinit_build_info", &[("version", &d.version)], 1);
    m.family("isinit_start_time_seconds", "gauge", "When the daemon started, in seconds since the Unix epoch.");
    m.sample("isinit_start_time_seconds", &[], Seconds(d.started_at_ms));
    m.family("isinit_tells_total", "counter", "Level switches (tells) accepted since the daemon started.");
    m.sample("isinit_tells_total", &[], d.tells_total);
    m.family("isinit_clients_connected", "gauge", "Connections the control socket is serving, this scrape's included.");
    m.sample("isinit_clients_connected", &[], d.clients_connected);

    m.family(
        "isinit_group_level_info",
        "gauge",
        "The level each group was last told (always 1; untold groups absent).",
    );
    for g in &snap.groups {
        if let Some(level) = &g.level {
            m.sample("isinit_group_level_info", &[("group", &g.name), ("level", level)], 1);
        }
    }
    m.family("isinit_group_state", "gauge", "1 for the state each group is in, 0 for the other states.");
    for g in &snap.groups {
        for state in STATES {
            m.sample(
                "isinit_group_state",
                &[("group", &g.name), ("state", state.as_str())],
                u8::from(g.state == state),
            );
        }
    }

    // A tag is unique in the file; a removed entry still being stopped
    // under the same group and tag must not make a duplicate series.
    let mut seen = BTreeSet::new();
    let procs: Vec<_> = snap.processes.iter().filter(|p| seen.insert((&p.group, &p.tag))).collect();
    let per_process =
        |m: &mut Exposition, name: &str, kind: &str, help: &str, value: &dyn Fn(usize) -> Option<String>| {
            m.family(name, kind, help);
            for (i, p) in procs.iter().enumerate() {
                if let Some(v) = value(i) {
                    m.sample(name, &[("group", &p.group), ("tag", &p.tag)], v);
                }
            }
        };
    let up = |i: usize| Some(u8::from(procs[i].pid.is_some()).to_string());
    per_process(&mut m, "isinit_process_up", "gauge", "1 while the entry's process is alive.", &up);
    per_process(
        &mut m,
        "isinit_process_ready",
        "gauge",
        "1 while the entry's process is alive and ready (a notify entry once it reported READY=1).",
        &|i| Some(u8::from(procs[i].pid.is_some() && procs[i].ready).to_string()),
    );
    per_process(
        &mut m,
        "isinit_process_healthy",
        "gauge",
        "1 if the last check of the entry's :::probe: passed, 0 if it failed (absent without a probe or before the first check of a run).",
        &|i| match procs[i].health {
            Some(Health::Healthy) => Some("1".to_string()),
            Some(Health::Unhealthy) => Some("0".to_string()),
            _ => None,
        },
    );
    per_process(
        &mut m,
        "isinit_process_restarts_total",
        "counter",
        "Times the entry's process was started again since its record was created.",
        &|i| Some(procs[i].respawns.to_string()),
    );
    per_process(
        &mut m,
        "isinit_process_last_exit_code",
        "gauge",
        "Exit code of the entry's last run (absent if it never exited, or died by a signal).",
        &|i| match procs[i].last_exit {
            Some(ExitStatus::Code(c)) => Some(c.to_string()),
            _ => None,
        },
    );
    per_process(
        &mut m,
        "isinit_process_last_exit_signal",
        "gauge",
        "Signal that ended the entry's last run (absent unless a signal ended it).",
        &|i| match procs[i].last_exit {
            Some(ExitStatus::Signal(s)) => Some(s.to_string()),
            Some(ExitStatus::OomKilled) => Some(SIGKILL.to_string()),
            _ => None,
        },
    );
    per_process(
        &mut m,
        "isinit_process_last_exit_oom_killed",
        "gauge",
        "1 if the kernel's OOM killer ended the entry's last run (seen where it has a memory-controlled cgroup), else 0.",
        &|i| Some(u8::from(procs[i].last_exit == Some(ExitStatus::OomKilled)).to_string()),
    );
    per_process(
        &mut m,
        "isinit_process_start_time_seconds",
        "gauge",
        "When the entry's current or last run started, in seconds since the Unix epoch.",
        &|i| procs[i].started_at_ms.map(|ms| Seconds(ms).to_string()),
    );
    per_process(
        &mut m,
        "isinit_process_backoff_until_seconds",
        "gauge",
        "While a respawn is throttled: when it resumes, in seconds since the Unix epoch; otherwise 0.",
        &|i| Some(procs[i].backoff_until_ms.map(|ms| Seconds(ms).to_string()).unwrap_or_else(|| "0".into())),
    );
    m.out
}

/// CPU time and memory of each entry with something running, from one
/// usage sample (its cgroup's when tracking by cgroup, SPEC §14); appended
/// to [`render`]'s text. Entries of a usage row the snapshot no longer
/// has are left out (they have no group to label them with).
pub fn render_usage(snap: &Snapshot, usage: &[ProcessUsage]) -> String {
    let mut m = Exposition::default();
    let rows: Vec<(&str, &ProcessUsage)> = usage
        .iter()
        .filter_map(|u| snap.processes.iter().find(|p| p.tag == u.tag).map(|p| (p.group.as_str(), u)))
        .collect();
    m.family(
        "isinit_process_cpu_seconds_total",
        "counter",
        "CPU time used by the entry's processes (its cgroup's cpu.stat usage where tracking by cgroup).",
    );
    for (group, u) in &rows {
        m.sample("isinit_process_cpu_seconds_total", &[("group", group), ("tag", &u.tag)], Seconds(u.cpu_time_ms));
    }
    m.family(
        "isinit_process_memory_bytes",
        "gauge",
        "Memory of the entry's processes: memory.current of its cgroup where the memory controller is on, else resident memory.",
    );
    for (group, u) in &rows {
        m.sample("isinit_process_memory_bytes", &[("group", group), ("tag", &u.tag)], u.rss_bytes);
    }
    let groups = usage_by_group(&snap.processes, usage);
    m.family(
        "isinit_group_cpu_seconds",
        "gauge",
        "CPU time of the group's running entries (the sum of their isinit_process_cpu_seconds_total; falls when one stops).",
    );
    for (group, g) in &groups {
        m.sample("isinit_group_cpu_seconds", &[("group", group)], Seconds(g.cpu_time_ms));
    }
    m.family("isinit_group_memory_bytes", "gauge", "Memory of the group's running entries, summed.");
    for (group, g) in &groups {
        m.sample("isinit_group_memory_bytes", &[("group", group)], g.rss_bytes);
    }
    m.out
}

/// Milliseconds since the epoch printed as exact decimal seconds.
struct Seconds(UnixMillis);

impl std::fmt::Display for Seconds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{:03}", self.0 / 1000, self.0 % 1000)
    }
}

/// The text being built: `# HELP`/`# TYPE` per family, then its samples.
#[derive(Default)]
struct Exposition {
    out: String,
}

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (label, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{label}=\"{}\"", escape_label(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }
}

/// A label value with `\`, `"` and newlines escaped as the format requires
/// (groups and tags may contain `"`; nothing else needs escaping).
fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests;
