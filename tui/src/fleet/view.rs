//! Drawing the fleet screen from a shared borrow of the [`Fleet`]: a host
//! table over a groups × hosts matrix (crm_mon style), or the open host's
//! single-host console.

use super::summary::{COUNT_ORDER, HostSummary, Link, majority_sha, uptime};
use super::{FLEET_COMMANDS, Fleet, View, order, roll_view};
use crate::app::Connection;
use crate::ui::theme;
use isinit_shared::protocol::{GroupState, GroupStatus};
use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget};
use std::collections::BTreeSet;

/// Width of one host's column in the matrix: a level and a state.
const CELL: u16 = 16;
/// Width of the matrix's group-name column.
const GROUP_COLUMN: u16 = 18;

/// The fleet screen's keys, as `?` shows them and tui/README.md lists them.
pub const FLEET_KEYS: &[(&str, &str)] = &[
    ("↑ ↓  k j", "select a host (the table scrolls)"),
    ("Home End  g G", "first / last host"),
    ("PgUp PgDn", "scroll the matrix's groups"),
    ("← →  h l", "scroll the matrix's hosts"),
    ("/", "filter hosts: a name part or a set, web[01-20]"),
    ("s", "sort: as given, trouble first, by name"),
    ("Enter", "open the host: its single-host console"),
    ("Esc", "clear the filter; (in a host) back to the fleet"),
    ("R", "rolling switch over the hosts shown"),
    ("S", "stop the rollout after the current wave"),
    ("P", "pulses: each host's CPU, memory, restarts; noisiest first"),
    (":", "command: host NAME, filter, sort, roll, pulses, quit"),
    ("?", "this help"),
    ("q  Ctrl-C", "quit"),
];

/// Rows of the hosts table's block: every host shown plus border and
/// header, at most half the screen.
fn hosts_height(height: u16, shown: usize) -> u16 {
    u16::try_from(shown).unwrap_or(u16::MAX).saturating_add(3).min(height / 2)
}

/// How many host rows the table shows on a screen `height` rows high.
pub fn table_rows(height: u16, shown: usize) -> usize {
    usize::from(hosts_height(height, shown).saturating_sub(3))
}

/// How many host columns the matrix shows on a screen `width` wide.
pub fn matrix_columns(width: u16) -> usize {
    usize::from(width.saturating_sub(2 + GROUP_COLUMN) / CELL)
}

/// Draws whatever is on screen.
pub fn draw(frame: &mut Frame, fleet: &Fleet) {
    frame.render_widget(fleet, frame.area());
}

impl Widget for &Fleet {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if let View::Host(i) = self.view() {
            (&self.hosts()[i].app).render(area, buf);
            return;
        }
        let majority = majority_sha(self.hosts());
        let shown = order::order(self.hosts(), self.filter(), self.sort(), majority.as_deref());
        let [title, hosts, bottom, footer] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(hosts_height(area.height, shown.len())),
            Constraint::Fill(1),
            Constraint::Length(1),
        ])
        .areas(area);
        render_title(self, majority.as_deref(), title, buf);
        render_hosts(self, majority.as_deref(), &shown, hosts, buf);
        match self.rollout() {
            Some(progress) => {
                // The rollout takes what it needs; the matrix keeps the rest.
                let want = roll_view::height(progress, bottom.width).min(bottom.height);
                let [panel, rest] = Layout::vertical([Constraint::Length(want), Constraint::Fill(1)]).areas(bottom);
                roll_view::render_progress(progress, panel, buf);
                if rest.height >= 4 {
                    render_matrix(self, &shown, rest, buf);
                }
            }
            None => render_matrix(self, &shown, bottom, buf),
        }
        render_footer(self, footer, buf);
        if self.pulses_open() {
            crate::ui::pulses::render_rows(&self.shown_pulses(), "host", area, buf);
        }
        if let Some(p) = self.palette() {
            crate::ui::palette::render(p, FLEET_COMMANDS, area, buf);
        }
        if let Some(form) = self.form() {
            roll_view::render_form(form, area, buf);
        }
        if self.view() == (View::Fleet { help: true }) {
            render_help(area, buf);
        }
    }
}

fn render_footer(fleet: &Fleet, area: Rect, buf: &mut Buffer) {
    let line = if fleet.filtering() {
        Line::from(vec![
            Span::styled(" /", theme::key()),
            Span::raw(format!("{}█", fleet.filter())),
            Span::styled("  Enter keeps · Esc clears · a name part or a set: web[01-20]", theme::muted()),
        ])
    } else if let Some(note) = fleet.note() {
        Line::styled(format!(" {note}"), theme::error())
    } else {
        let mut spans = Vec::new();
        for (key, what) in
            [("↑↓", "host"), ("/", "filter"), ("s", "sort"), ("Enter", "open"), ("R", "roll"), ("P", "pulses")]
        {
            spans.push(Span::styled(format!(" {key}"), theme::key()));
            spans.push(Span::raw(format!(" {what} ")));
        }
        if fleet.rollout().is_some_and(|p| !p.done()) {
            spans.push(Span::styled(" S", theme::key()));
            spans.push(Span::raw(" stop "));
        }
        for (key, what) in [(":", "command"), ("?", "help"), ("q", "quit")] {
            spans.push(Span::styled(format!(" {key}"), theme::key()));
            spans.push(Span::raw(format!(" {what} ")));
        }
        Line::from(spans)
    };
    line.render(area, buf);
}

fn render_title(fleet: &Fleet, majority: Option<&str>, area: Rect, buf: &mut Buffer) {
    let (mut up, mut lost, mut drift) = (0, 0, 0);
    for h in fleet.hosts() {
        match h.app.connection() {
            Connection::Connected => up += 1,
            Connection::Disconnected { .. } => lost += 1,
            Connection::Connecting => {}
        }
        drift += usize::from(h.app.snapshot().is_some_and(|s| majority.is_some_and(|m| m != s.daemon.config_sha256)));
    }
    let mut spans = vec![
        Span::styled(" isinit fleet ", Style::new().fg(Color::Black).bg(Color::Cyan).add_modifier(Modifier::BOLD)),
        Span::raw(format!("  {} hosts  ", fleet.hosts().len())),
        Span::styled(format!("{up} up"), Style::new().fg(Color::Green)),
    ];
    if lost > 0 {
        spans.push(Span::styled(format!("  {lost} LOST"), theme::error()));
    }
    if drift > 0 {
        spans.push(Span::styled(
            format!("  {drift} DRIFT"),
            Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        ));
    }
    spans.push(Span::styled(format!("  {}", fleet.sort().describe()), theme::muted()));
    Line::from(spans).render(area, buf);
}

fn render_hosts(fleet: &Fleet, majority: Option<&str>, shown: &[usize], area: Rect, buf: &mut Buffer) {
    let visible = usize::from(area.height.saturating_sub(3));
    let at = shown.iter().position(|i| *i == fleet.selected()).unwrap_or(0);
    let top = order::window(fleet.top(), at, visible, shown.len());
    let mut title = format!(" Hosts {}", shown.len());
    if shown.len() < fleet.hosts().len() {
        title.push_str(&format!(" of {}", fleet.hosts().len()));
    }
    if !fleet.filter().is_empty() {
        title.push_str(&format!(" · filter {}", fleet.filter()));
    }
    if shown.len() > visible {
        title.push_str(&format!(" · {}-{}", top + 1, (top + visible).min(shown.len())));
    }
    title.push(' ');
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme::border(true))
        .title(Span::styled(title, theme::title(true)));
    let inner = block.inner(area);
    block.render(area, buf);
    let name_width = shown.iter().map(|i| fleet.hosts()[*i].dest.chars().count()).max().unwrap_or(4).clamp(4, 32);
    let header =
        format!(" {:<name_width$}  {:<10} {:<8} {:>6}  {:<15} GROUPS", "HOST", "LINK", "VERSION", "UP", "CONFIG");
    let mut lines = vec![Line::styled(header, theme::header())];
    for &i in shown.iter().skip(top).take(visible) {
        let host = &fleet.hosts()[i];
        // Only the rows on screen are summarised.
        let row = &HostSummary::of(host, majority);
        let mark = if i == fleet.selected() { "›" } else { " " };
        let mut spans = vec![Span::raw(format!("{mark}{:<name_width$}  ", clip(&host.dest, name_width)))];
        match &row.link {
            Link::Connecting => {
                spans.push(Span::styled(format!("{:<10} ", "connecting"), Style::new().fg(Color::Yellow)))
            }
            Link::Up => spans.push(Span::styled(format!("{:<10} ", "● up"), Style::new().fg(Color::Green))),
            Link::Lost { .. } => spans.push(Span::styled(format!("{:<10} ", "✕ LOST"), theme::error())),
        }
        spans.push(Span::raw(format!(
            "{:<8} {:>6}  ",
            row.version.as_deref().unwrap_or("-"),
            row.uptime_ms.map(uptime).unwrap_or_else(|| "-".into())
        )));
        let sha = row.sha256.as_deref().map(|s| s.get(..8).unwrap_or(s)).unwrap_or("-");
        spans.push(Span::raw(format!("{sha:<8} ")));
        if row.drift {
            spans.push(Span::styled("DRIFT  ", Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)));
        } else {
            spans.push(Span::raw("       "));
        }
        let lost = matches!(row.link, Link::Lost { .. });
        for (state, n) in &row.counts {
            // A lost host's counts are its last known ones: dimmed.
            let style = if lost { theme::stale() } else { theme::group_state(*state) };
            spans.push(Span::styled(format!("{n} {} ", state.as_str()), style));
        }
        if row.alert {
            spans.push(Span::styled(" ! ", Style::new().fg(Color::White).bg(Color::Red).add_modifier(Modifier::BOLD)));
        }
        if let Link::Lost { since_ms, reason } = &row.link {
            spans.push(Span::styled(format!(" since {} {reason}", fleet.time_zone().hms(*since_ms)), theme::error()));
        }
        let mut line = Line::from(spans);
        if i == fleet.selected() {
            // Shaded, not inverted: the row's colours (up, LOST, DRIFT)
            // must read the same whether it is selected or not.
            line = line.style(theme::selected(false));
        }
        lines.push(line);
    }
    Paragraph::new(lines).render(inner, buf);
}

fn render_matrix(fleet: &Fleet, shown: &[usize], area: Rect, buf: &mut Buffer) {
    let groups = group_names(fleet, shown);
    let columns = usize::from(area.width.saturating_sub(2 + GROUP_COLUMN) / CELL);
    let first = fleet.column().min(shown.len().saturating_sub(columns));
    let hosts: Vec<usize> = shown.iter().skip(first).take(columns).copied().collect();
    let rows = usize::from(area.height.saturating_sub(3));
    let skip = fleet.scroll().min(groups.len().saturating_sub(rows));
    let mut title =
        format!(" Groups × hosts · groups {}-{} of {}", skip + 1, (skip + rows).min(groups.len()), groups.len());
    if shown.len() > columns {
        title.push_str(&format!(" · hosts {}-{} of {} ← →", first + 1, first + hosts.len(), shown.len()));
    }
    title.push(' ');
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme::border(false))
        .title(Span::styled(title, theme::title(false)));
    let inner = block.inner(area);
    block.render(area, buf);
    let mut header =
        vec![Span::styled(format!(" {:<w$}", "GROUP", w = usize::from(GROUP_COLUMN) - 1), theme::header())];
    for &i in &hosts {
        let h = &fleet.hosts()[i];
        let style = if i == fleet.selected() { theme::header().fg(Color::Cyan) } else { theme::header() };
        header
            .push(Span::styled(format!("{:<w$}", clip(&h.dest, usize::from(CELL) - 1), w = usize::from(CELL)), style));
    }
    let mut lines = vec![Line::from(header)];
    for name in groups.iter().skip(skip).take(rows) {
        let mut spans = vec![Span::raw(format!(
            " {:<w$}",
            clip(name, usize::from(GROUP_COLUMN) - 2),
            w = usize::from(GROUP_COLUMN) - 1
        ))];
        for h in hosts.iter().map(|i| &fleet.hosts()[*i]) {
            let lost = !matches!(h.app.connection(), crate::app::Connection::Connected);
            let group = h.app.snapshot().and_then(|s| s.group(name));
            spans.push(cell(group, lost));
        }
        lines.push(Line::from(spans));
    }
    Paragraph::new(lines).render(inner, buf);
}

/// Every group name of the hosts shown, sorted. Hosts of one fleet mostly
/// run the same groups: a host whose names are those of the host before
/// adds nothing and costs one comparison a name, not a set lookup.
fn group_names<'a>(fleet: &'a Fleet, shown: &[usize]) -> BTreeSet<&'a str> {
    let mut names = BTreeSet::new();
    let mut previous: Option<&[GroupStatus]> = None;
    for s in shown.iter().filter_map(|i| fleet.hosts()[*i].app.snapshot()) {
        let same = previous
            .is_some_and(|p| p.len() == s.groups.len() && p.iter().zip(&s.groups).all(|(a, b)| a.name == b.name));
        if !same {
            names.extend(s.groups.iter().map(|g| g.name.as_str()));
            previous = Some(&s.groups);
        }
    }
    names
}

/// One matrix cell: `LEVEL STATE`, coloured by state; dimmed when the host
/// is not live; `·` where the host has no such group.
fn cell(group: Option<&GroupStatus>, stale: bool) -> Span<'static> {
    let width = usize::from(CELL);
    let Some(g) = group else {
        return Span::styled(format!("{:<width$}", "·"), theme::muted());
    };
    let text = format!("{} {}", g.level.as_deref().unwrap_or("-"), short_state(g.state));
    let style = if stale { theme::stale() } else { theme::group_state(g.state) };
    Span::styled(format!("{:<width$}", clip(&text, width - 1)), style)
}

/// State names that fit a cell.
fn short_state(state: GroupState) -> &'static str {
    match state {
        GroupState::Configured => "CONF",
        GroupState::Stopping => "STOPPING",
        GroupState::Starting => "STARTING",
        GroupState::Done => "DONE",
        GroupState::Passed => "PASSED",
        GroupState::Failed => "FAILED",
        GroupState::Halting => "HALTING",
    }
}

fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut s: String = text.chars().take(width.saturating_sub(1)).collect();
    s.push('…');
    s
}

fn render_help(area: Rect, buf: &mut Buffer) {
    let height = u16::try_from(FLEET_KEYS.len()).unwrap_or(u16::MAX).saturating_add(2);
    let popup = area.centered(Constraint::Length(62.min(area.width)), Constraint::Length(height.min(area.height)));
    Clear.render(popup, buf);
    let lines: Vec<Line> = FLEET_KEYS
        .iter()
        .map(|(key, what)| Line::from(vec![Span::styled(format!(" {key:<15}"), theme::key()), Span::raw(*what)]))
        .collect();
    let block = Block::default().borders(Borders::ALL).title(" Fleet keys (Esc closes) ");
    Paragraph::new(lines).block(block).render(popup, buf);
}

/// Group counts in the order the hosts table shows them, for tests.
pub fn count_order() -> &'static [GroupState] {
    &COUNT_ORDER
}
