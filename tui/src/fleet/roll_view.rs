//! Drawing the rollout form (a popup) and the rollout's live progress (the
//! panel under the hosts table, in place of the matrix).

use super::roll::{Field, Form, GRACE, Progress};
use crate::ui::theme;
use isinit_client::fleet::rollout::drive::HostStep;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget};

/// Width of one host's cell in the progress grid.
const STEP_CELL: usize = 30;

/// The form, centred.
pub fn render_form(form: &Form, area: Rect, buf: &mut Buffer) {
    let popup = area.centered(Constraint::Length(72.min(area.width)), Constraint::Length(12.min(area.height)));
    Clear.render(popup, buf);
    let field = |f: Field, name: &str, value: String, hint: &str| {
        let on = form.field == f;
        let style = if on { theme::selected(true) } else { Style::new() };
        Line::from(vec![
            Span::styled(format!(" {name:<12}"), theme::header()),
            Span::styled(format!(" {value} "), style),
            Span::styled(format!("  {hint}"), theme::muted()),
        ])
    };
    let choose = |items: &[String], at: usize| items.get(at).map(|s| format!("‹ {s} ›")).unwrap_or_else(|| "-".into());
    let mut lines = vec![
        Line::from(vec![
            Span::styled(" hosts       ", theme::header()),
            Span::raw(format!(" {} ({}), in the order given", form.set, form.hosts.len())),
        ]),
        field(Field::Group, "group", choose(&form.groups, form.group), "← → choose"),
        field(Field::Level, "level", choose(&form.levels, form.level), "← → choose"),
        field(Field::Batch, "batch", format!("{}▏", form.batch), "hosts a wave, or P%"),
        field(Field::HealthyFor, "healthy for", format!("{}▏", form.healthy_for), "seconds without a restart"),
        Line::raw(""),
        Line::styled(
            format!(" A wave must be healthy within healthy-for + {} s; any failure stops", GRACE.as_secs()),
            theme::muted(),
        ),
        Line::styled(" the rollout after its wave, leaving the rest untold.", theme::muted()),
    ];
    match &form.error {
        Some(e) => lines.push(Line::styled(format!(" {e}"), theme::error())),
        None => lines.push(Line::from(vec![
            Span::styled(" Tab", theme::key()),
            Span::raw(" field  "),
            Span::styled("Enter", theme::key()),
            Span::raw(" start  "),
            Span::styled("Esc", theme::key()),
            Span::raw(" cancel"),
        ])),
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme::border(true))
        .title(Span::styled(" Rolling switch ", theme::title(true)));
    Paragraph::new(lines).block(block).render(popup, buf);
}

/// One host of the running wave: a mark, its name, where it stands.
fn step_span(host: &str, step: &HostStep) -> Span<'static> {
    let (mark, text, style) = match step {
        HostStep::Connecting => ("○", "connecting".to_string(), theme::muted()),
        HostStep::Waiting(why) => ("…", why.clone(), Style::new().fg(Color::Yellow)),
        HostStep::Settling => ("…", "up, settling".to_string(), Style::new().fg(Color::Cyan)),
        HostStep::Healthy => ("✓", "healthy".to_string(), Style::new().fg(Color::Green)),
        HostStep::Failed(why) => ("✕", why.clone(), theme::error()),
    };
    let cell = format!("{mark} {host} {text}");
    let cell: String = cell.chars().take(STEP_CELL - 1).collect();
    Span::styled(format!("{cell:<STEP_CELL$}"), style)
}

/// Rows the progress panel needs at `width`: its border, the state line,
/// the running wave's hosts, the wave lines and the final lines.
pub fn height(p: &Progress, width: u16) -> u16 {
    let per_row = (usize::from(width.saturating_sub(2)) / STEP_CELL).max(1);
    let steps = if p.outcome.is_some() { 0 } else { p.steps.len().div_ceil(per_row) };
    let end = p.outcome.as_ref().map_or(0, |o| 1 + usize::from(o.interrupted));
    u16::try_from(3 + steps + p.lines.len() + end).unwrap_or(u16::MAX)
}

/// The progress panel: the plan, the running wave host by host, every
/// wave line so far and, once done, the final line.
pub fn render_progress(p: &Progress, area: Rect, buf: &mut Buffer) {
    let title = format!(
        " Rollout {} → {} · {} hosts · waves of {} · healthy for {} s ",
        p.plan.group,
        p.plan.level,
        p.hosts,
        p.plan.batch.size(p.hosts),
        p.plan.healthy_for.as_secs_f64()
    );
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme::border(false))
        .title(Span::styled(title, theme::title(false)));
    let inner = block.inner(area);
    block.render(area, buf);
    let mut lines = Vec::new();
    let state = match (&p.outcome, p.stopping()) {
        (Some(o), _) if o.success => Span::styled("done", Style::new().fg(Color::Green).add_modifier(Modifier::BOLD)),
        (Some(_), _) => Span::styled("stopped", theme::error()),
        (None, true) => Span::styled("stopping after this wave…", Style::new().fg(Color::Yellow)),
        (None, false) => Span::styled("running", Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)),
    };
    let wave = match &p.wave {
        Some((n, set)) => format!(" wave {n}/{} {set}  ", p.waves),
        None => " connecting  ".to_string(),
    };
    lines.push(Line::from(vec![
        Span::styled(wave, theme::header()),
        state,
        Span::raw(format!("   rolled {} · failed {} · not told {}", p.rolled, p.failed, p.waiting())),
    ]));
    // The running wave, host by host, as many a row as fit.
    let per_row = (usize::from(inner.width) / STEP_CELL).max(1);
    if p.outcome.is_none() {
        for chunk in p.steps.chunks(per_row) {
            let mut spans = vec![Span::raw(" ")];
            spans.extend(chunk.iter().map(|(h, s)| step_span(h, s)));
            lines.push(Line::from(spans));
        }
    }
    // The latest wave lines that still fit under it, then the final line.
    let end = p.outcome.as_ref().map_or(0, |o| 1 + usize::from(o.interrupted));
    let reserved = lines.len() + end;
    let room = usize::from(inner.height).saturating_sub(reserved);
    let skip = p.lines.len().saturating_sub(room);
    for line in p.lines.iter().skip(skip) {
        let style = if line.ends_with(": ok") { Style::new() } else { theme::error() };
        lines.push(Line::styled(format!(" {line}"), style));
    }
    if let Some(o) = &p.outcome {
        if o.interrupted {
            lines.push(Line::styled(" stopped after the current wave", Style::new().fg(Color::Yellow)));
        }
        lines.push(Line::styled(format!(" {}", o.tally.line()), Style::new().add_modifier(Modifier::BOLD)));
    }
    Paragraph::new(lines).render(inner, buf);
}
