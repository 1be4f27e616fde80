//! Reading what the console shows: the captured screen cut into the
//! groups table, the processes table, the picker's preview and the header.

use std::collections::BTreeMap;

/// One capture of the console's screen.
#[derive(Debug, Clone)]
pub(crate) struct Screen {
    /// Plain text, one line per row.
    pub(crate) text: String,
    /// The same with SGR escape sequences (colours, reverse video).
    pub(crate) ansi: String,
}

impl Screen {
    /// Whether the screen shows `needle` anywhere.
    pub(crate) fn has(&self, needle: &str) -> bool {
        self.text.contains(needle)
    }

    /// The cells of each row: the row split at the panels' vertical borders.
    fn cells(&self) -> impl Iterator<Item = Vec<&str>> {
        self.text.lines().map(|l| l.split('│').collect())
    }

    /// The words of the groups table row of `group` (`[name, level, state,
    /// procs]`, plus `!` when flapping), if it is on screen.
    pub(crate) fn group_row(&self, group: &str) -> Option<Vec<String>> {
        self.cells().find_map(|cells| {
            let words: Vec<String> = cells.get(1)?.split_whitespace().map(String::from).collect();
            (words.first().map(String::as_str) == Some(group)).then_some(words)
        })
    }

    /// The processes table row of `tag`, by column name (`tag`, `mode`,
    /// `levels`, `state`, `pid`, `uptime`, `↻`, `last exit`, ...), the
    /// columns cut where the header puts them. `None` if the table or the
    /// row is not on screen (e.g. covered by a popup).
    pub(crate) fn process_row(&self, tag: &str) -> Option<BTreeMap<String, String>> {
        const COLUMNS: [&str; 11] =
            ["tag", "mode", "levels", "state", "pid", "uptime", "↻", "cpu%", "rss", "last exit", "start error"];
        let rows: Vec<Vec<char>> = self.cells().filter_map(|c| Some(c.get(3)?.chars().collect())).collect();
        // The sorted column's arrow is a cell of its own: read it as a space.
        let unsorted =
            |r: &Vec<char>| r.iter().map(|&c| if c == '▲' || c == '▼' { ' ' } else { c }).collect::<String>();
        let header = rows.iter().position(|r| unsorted(r).starts_with("tag "))?;
        let head: String = unsorted(&rows[header]);
        // Column starts, in characters (the header has multi-byte `↻`).
        let mut starts: Vec<(usize, &str)> = COLUMNS
            .iter()
            .filter_map(|name| {
                let byte = format!(" {head} ").find(&format!(" {name} "))?;
                Some((head[..byte].chars().count(), *name))
            })
            .collect();
        starts.sort();
        let row = rows[header + 1..].iter().find(|r| {
            let s: String = r.iter().collect();
            s.split_whitespace().next() == Some(tag)
        })?;
        let mut fields = BTreeMap::new();
        for (i, (start, name)) in starts.iter().enumerate() {
            let end = starts.get(i + 1).map_or(row.len(), |(e, _)| *e).min(row.len());
            let value: String = row[(*start).min(end)..end].iter().collect();
            fields.insert(name.to_string(), value.trim().to_string());
        }
        Some(fields)
    }

    /// The processes table's header row (with the sort arrow, if any).
    pub(crate) fn process_header(&self) -> Option<String> {
        self.cells().find_map(|c| {
            let cell = c.get(3)?;
            let plain: String = cell.chars().map(|c| if c == '▲' || c == '▼' { ' ' } else { c }).collect();
            plain.starts_with("tag ").then(|| cell.trim_end().to_string())
        })
    }

    /// The tags of the processes table, top to bottom.
    pub(crate) fn process_tags(&self) -> Vec<String> {
        let Some(header) = self.process_header() else { return Vec::new() };
        self.cells()
            .filter_map(|c| c.get(3).map(|s| s.to_string()))
            .skip_while(|cell| cell.trim_end() != header)
            .skip(1)
            .map_while(|cell| cell.split_whitespace().next().map(String::from))
            .collect()
    }

    /// The status line (second to last row), trimmed.
    pub(crate) fn status_line(&self) -> String {
        let lines: Vec<&str> = self.text.lines().collect();
        lines.len().checked_sub(2).and_then(|i| lines.get(i)).map_or(String::new(), |l| l.trim().to_string())
    }

    /// The group whose processes the processes panel shows (its title).
    pub(crate) fn shown_group(&self) -> Option<String> {
        let at = self.text.find("processes of ")? + "processes of ".len();
        self.text[at..].split_whitespace().next().map(String::from)
    }

    /// The group whose row in the groups table is highlighted (reverse
    /// video from the panel's left border on).
    pub(crate) fn highlighted_group(&self) -> Option<String> {
        self.ansi.lines().find_map(|line| {
            let at = line.find("\x1b[7m")?;
            if strip_ansi(&line[..at]) != "│" {
                return None;
            }
            strip_ansi(&line[at..]).split_whitespace().next().map(String::from)
        })
    }

    /// The level picker's preview line starting with `label` (`tell`,
    /// `stop`, `keep`, `start`, `done`): the rest of it, trimmed.
    pub(crate) fn preview(&self, label: &str) -> Option<String> {
        self.cells().find_map(|cells| {
            cells.iter().find_map(|c| {
                let rest = c.trim().strip_prefix(label)?;
                rest.starts_with(' ').then(|| rest.trim().to_string())
            })
        })
    }

    /// The daemon pid the header shows.
    pub(crate) fn header_pid(&self) -> Option<i32> {
        let first = self.text.lines().next()?;
        let mut words = first.split_whitespace();
        words.find(|w| *w == "pid")?;
        words.next()?.parse().ok()
    }
}

/// `text` without escape sequences (CSI sequences such as SGR).
pub(crate) fn strip_ansi(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if ('\x40'..='\x7e').contains(&c) {
                        break;
                    }
                }
            } else {
                chars.next();
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether the row of `tag` shows `state` and pid `pid`.
pub(crate) fn shows(s: &Screen, tag: &str, state: &str, pid: i64) -> Result<(), String> {
    let row = s.process_row(tag).ok_or_else(|| format!("no row for {tag}"))?;
    ensure(row["state"] == state && row["pid"] == pid.to_string(), format!("{tag} shows {row:?}, not {state} {pid}"))
}

/// Whether the groups table row of `group` starts with `want`.
pub(crate) fn group_is(s: &Screen, group: &str, want: &[&str]) -> Result<(), String> {
    let row = s.group_row(group).ok_or_else(|| format!("no row for group {group}"))?;
    ensure(row.len() >= want.len() && row[..want.len()] == words(want), format!("group row {row:?}, not {want:?}"))
}

fn words(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// `Ok` if `cond` holds, else `Err(why)`: the step of a screen probe.
pub(crate) fn ensure(cond: bool, why: impl std::fmt::Display) -> Result<(), String> {
    if cond { Ok(()) } else { Err(why.to_string()) }
}

/// The screen helpers themselves, on a fixed screen (no tmux needed).
#[test]
fn screen_parsing() {
    let text = "\
 isinit  vm  pid 548  v0.1.0  /tmp/x/tab sha256:9981962d
 ● connected  4 groups, 13 processes, 2 alive
┌ groups (2) ──────┐┌ processes of mail 1/4 ────────────────────────────────────────┐
│group level state ││tag    mode    levels      state       pid     uptime ↻   last exit│
│db    -     DONE  ││spool  wait    run,runmore not started -       -      0   -        │
│mail  run   DONE  ││mta    respawn run,runmore running     4242    1s     12  signal 9 │
";
    let ansi = "│db    \n│\x1b[7m\x1b[39mmail  run\x1b[0m\n";
    let s = Screen { text: text.to_string(), ansi: ansi.to_string() };
    assert_eq!(s.group_row("mail"), Some(words(&["mail", "run", "DONE"])));
    assert_eq!(group_is(&s, "db", &["db", "-"]), Ok(()));
    assert!(group_is(&s, "db", &["db", "run"]).is_err());
    let mta = s.process_row("mta").expect("mta");
    assert_eq!((mta["state"].as_str(), mta["pid"].as_str(), mta["↻"].as_str()), ("running", "4242", "12"));
    assert_eq!(mta["last exit"], "signal 9");
    assert_eq!(shows(&s, "mta", "running", 4242), Ok(()));
    assert!(shows(&s, "mta", "running", 4243).is_err());
    assert_eq!(s.process_row("spool").expect("spool")["state"], "not started");
    assert_eq!(s.shown_group().as_deref(), Some("mail"));
    assert_eq!(s.highlighted_group().as_deref(), Some("mail"));
    assert_eq!(s.header_pid(), Some(548));
    assert_eq!(strip_ansi("a\x1b[38;5;8mb\x1b[0mc"), "abc");
}
