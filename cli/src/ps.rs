//! `isinit ps [GROUP|TAG] [--json]`: every live process of each entry as
//! a tree (SPEC §19). The daemon reads `/proc` and orders the rows; this
//! only lays them out.

use super::Failure;
use isinit_client::blocking::Connection;
use isinit_shared::protocol::{EntryProcesses, Request, Response};
use std::path::Path;
use std::time::Duration;

/// The request for `ps NAME`.
pub fn request(name: Option<String>) -> Request {
    Request::Ps { name }
}

/// `ps` against the local daemon.
pub fn run(socket: &Path, name: Option<String>, json: bool, after: Duration) -> Result<(), Failure> {
    let (_, reply) = Connection::open_and_request(socket, &request(name), after)?;
    super::fleet::out(&shape(reply, json)?);
    Ok(())
}

/// A reply as the text `ps` prints.
pub fn shape(reply: Response, json: bool) -> Result<String, Failure> {
    let Response::Ps(entries) = reply else {
        return Err(match reply {
            Response::Error(e) => Failure { reason: e.message, details: e.details },
            other => Failure::new(format!("unexpected reply from the daemon: {other:?}")),
        });
    };
    if json {
        let text = serde_json::to_string_pretty(&entries).map_err(|e| Failure::new(e.to_string()))?;
        return Ok(format!("{text}\n"));
    }
    Ok(table(&entries))
}

/// `GROUP TAG PID PPID RSS CPU% COMMAND`, columns aligned; children
/// indented under their parent with `\_ `, strays marked `(stray)`.
pub fn table(entries: &[EntryProcesses]) -> String {
    let mut rows = vec![["GROUP", "TAG", "PID", "PPID", "RSS", "CPU%", "COMMAND"].map(String::from)];
    for e in entries {
        for p in &e.processes {
            let indent =
                if p.depth == 0 { String::new() } else { format!("{}\\_ ", "  ".repeat(p.depth as usize - 1)) };
            let mark = if p.stray { "(stray) " } else { "" };
            rows.push([
                e.group.clone(),
                e.tag.clone(),
                p.pid.to_string(),
                p.ppid.to_string(),
                isinit_shared::protocol::rss_text(p.rss_bytes),
                format!("{:.1}", p.cpu_percent),
                format!("{mark}{indent}{}", p.command),
            ]);
        }
        if e.omitted > 0 {
            let note = format!("… {} more processes not shown", e.omitted);
            rows.push([e.group.clone(), e.tag.clone(), "-".into(), "-".into(), "-".into(), "-".into(), note]);
        }
    }
    let mut widths = [0usize; 7];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            let pad = widths[i].saturating_sub(cell.chars().count());
            match i {
                // Numbers right-aligned, the command last and unpadded.
                2..=5 => line.push_str(&format!("{}{cell} ", " ".repeat(pad))),
                6 => line.push_str(cell),
                _ => line.push_str(&format!("{cell}{} ", " ".repeat(pad))),
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use isinit_shared::protocol::{PsRow, Tracking};

    fn row(pid: u32, ppid: u32, depth: u32, stray: bool, command: &str) -> PsRow {
        PsRow { pid, ppid, depth, stray, rss_bytes: 2 << 20, cpu_time_ms: 0, cpu_percent: 1.5, command: command.into() }
    }

    #[test]
    fn a_tree_with_a_stray() {
        let entries = [EntryProcesses {
            group: "web".into(),
            tag: "app".into(),
            main_pid: Some(100),
            tracking: Tracking::Cgroup,
            processes: vec![
                row(100, 1, 0, false, "sh -c worker"),
                row(101, 100, 1, false, "sleep 100"),
                row(102, 101, 2, false, "sleep 200"),
                row(300, 1, 0, true, "sleep 300"),
            ],
            omitted: 0,
        }];
        assert_eq!(
            table(&entries),
            "\
GROUP TAG PID PPID  RSS CPU% COMMAND
web   app 100    1 2.0M  1.5 sh -c worker
web   app 101  100 2.0M  1.5 \\_ sleep 100
web   app 102  101 2.0M  1.5   \\_ sleep 200
web   app 300    1 2.0M  1.5 (stray) sleep 300
"
        );
    }
}
