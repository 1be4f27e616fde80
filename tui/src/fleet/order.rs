//! Which hosts the fleet screen shows, and in what order: the `/` filter
//! (a substring of the name, or a host set: `web[01-20]`, `db1,db3`) and
//! the sort (`s` cycles: as given, trouble first, by name). Pure, so the
//! rules are tested without a terminal.

use super::Host;
use super::summary::trouble;
use isinit_client::fleet::HostSet;

/// How the hosts table is sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HostSort {
    /// In the order given on the command line.
    #[default]
    Given,
    /// LOST, FAILED, backoff, DRIFT first, then by name.
    Trouble,
    /// By name.
    Name,
}

impl HostSort {
    /// The next sort `s` selects.
    pub fn next(self) -> HostSort {
        match self {
            HostSort::Given => HostSort::Trouble,
            HostSort::Trouble => HostSort::Name,
            HostSort::Name => HostSort::Given,
        }
    }

    /// Its word, for `sort WORD` and the title.
    pub fn word(self) -> &'static str {
        match self {
            HostSort::Given => "given",
            HostSort::Trouble => "trouble",
            HostSort::Name => "name",
        }
    }

    /// Every sort, in the order `s` cycles.
    pub const ALL: [HostSort; 3] = [HostSort::Given, HostSort::Trouble, HostSort::Name];

    /// How the title says it.
    pub fn describe(self) -> &'static str {
        match self {
            HostSort::Given => "sort: as given",
            HostSort::Trouble => "sort: trouble first",
            HostSort::Name => "sort: by name",
        }
    }
}

/// The `/` filter, parsed once per use.
#[derive(Debug)]
pub enum Filter {
    /// Every host.
    All,
    /// Hosts whose name contains this.
    Substring(String),
    /// Hosts of this set.
    Set(HostSet),
}

impl Filter {
    /// `text` as a host set when it looks like one (brackets or a comma)
    /// and parses, else as a substring; empty: every host.
    pub fn new(text: &str) -> Filter {
        let text = text.trim();
        if text.is_empty() {
            return Filter::All;
        }
        if text.contains(['[', ','])
            && let Ok(set) = HostSet::parse_plain(text)
        {
            return Filter::Set(set);
        }
        Filter::Substring(text.to_string())
    }

    /// Whether host `name` passes.
    pub fn matches(&self, name: &str) -> bool {
        match self {
            Filter::All => true,
            Filter::Substring(text) => name.contains(text.as_str()),
            Filter::Set(set) => set.contains(name),
        }
    }
}

/// The indices of the hosts shown, in the order shown; drift is judged
/// against `majority`.
pub fn order(hosts: &[Host], filter: &str, sort: HostSort, majority: Option<&str>) -> Vec<usize> {
    let filter = Filter::new(filter);
    let mut shown: Vec<usize> = (0..hosts.len()).filter(|i| filter.matches(hosts[*i].dest.as_str())).collect();
    let name = |i: &usize| hosts[*i].dest.as_str();
    match sort {
        HostSort::Given => {}
        HostSort::Name => shown.sort_by(|a, b| name(a).cmp(name(b))),
        HostSort::Trouble => shown.sort_by_cached_key(|i| (trouble(&hosts[*i], majority), name(i))),
    }
    shown
}

/// The first of `len` items to show in `rows` lines so that item `at` is
/// visible, moving `top` as little as possible.
pub fn window(top: usize, at: usize, rows: usize, len: usize) -> usize {
    let rows = rows.max(1);
    let top = top.min(len.saturating_sub(rows));
    if at < top {
        at
    } else if at >= top + rows {
        at + 1 - rows
    } else {
        top
    }
}
