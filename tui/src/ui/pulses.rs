//! The `P` view: one row per group, noisiest first, with sparklines of
//! its CPU, memory and restarts over the samples kept (one a second while
//! the view is open) and the latest figure of each.

use super::processes::{cpu_text, rss_text};
use super::{popup_area, theme};
use crate::app::{PULSE_SAMPLES, Pulses};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget};

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The last `width` values as bars scaled to their own largest (a flat
/// series is a flat low line).
pub fn sparkline(values: &[f64], width: usize) -> String {
    let shown = &values[values.len().saturating_sub(width)..];
    let top = shown.iter().copied().fold(0.0_f64, f64::max);
    let bars: String = shown
        .iter()
        .map(|v| if top <= 0.0 { BARS[0] } else { BARS[((v / top) * 7.0).round().clamp(0.0, 7.0) as usize] })
        .collect();
    format!("{bars:>width$}")
}

pub(super) fn render(pulses: &Pulses, area: Rect, buf: &mut Buffer) {
    render_rows(pulses, "group", area, buf);
}

/// The pulses popup over `area`, one row per entry of `pulses` (groups of
/// one host, or hosts of a fleet: `label` heads the first column).
pub fn render_rows(pulses: &Pulses, label: &str, area: Rect, buf: &mut Buffer) {
    let popup = popup_area(area, area.width.saturating_sub(4), area.height.saturating_sub(2));
    Clear.render(popup, buf);
    let names = pulses.loudest_first();
    let name_width = names.iter().map(|n| n.chars().count()).max().unwrap_or(5).clamp(5, 16);
    // name, three figures of ~6 and their labels, three sparklines.
    let inner = usize::from(popup.width.saturating_sub(2));
    let spark = (inner.saturating_sub(name_width + 3 * 8 + 6) / 3).clamp(4, PULSE_SAMPLES);
    let mut lines = vec![Line::styled(
        format!(
            "{:<name_width$}  {:<w$} {:>6}  {:<w$} {:>6}  {:<w$} {:>6}",
            label,
            "cpu",
            "",
            "memory",
            "",
            "restarts",
            "",
            w = spark
        ),
        theme::header(),
    )];
    for name in names {
        let p = &pulses.groups[name];
        let cpu: Vec<f64> = p.cpu.iter().copied().collect();
        let rss: Vec<f64> = p.rss.iter().map(|b| *b as f64).collect();
        let restarts: Vec<f64> =
            p.restarts.iter().zip(p.restarts.iter().skip(1)).map(|(a, b)| b.saturating_sub(*a) as f64).collect();
        lines.push(Line::from(vec![
            Span::raw(format!("{name:<name_width$}  ")),
            Span::styled(sparkline(&cpu, spark), Style::new().fg(Color::Green)),
            Span::raw(format!(" {:>6}  ", cpu_text(p.cpu.back().copied().unwrap_or(0.0)))),
            Span::styled(sparkline(&rss, spark), Style::new().fg(Color::Cyan)),
            Span::raw(format!(" {:>6}  ", rss_text(p.rss.back().copied().unwrap_or(0)))),
            Span::styled(sparkline(&restarts, spark), Style::new().fg(Color::Red)),
            Span::raw(format!(" {:>6}", p.recent_restarts())),
        ]));
    }
    if pulses.groups.is_empty() {
        lines.push(Line::styled("sampling… (one sample a second while this is open)", theme::muted()));
    }
    let block = Block::bordered()
        .border_style(theme::border(true))
        .title(Line::styled(" pulses: last 3 minutes, noisiest first ", theme::title(true)))
        .title_bottom(Line::styled(" P or Esc closes ", theme::muted()));
    Paragraph::new(lines).block(block).render(popup, buf);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparklines_scale_to_their_top_and_pad_on_the_left() {
        assert_eq!(sparkline(&[0.0, 1.0, 2.0, 4.0], 4), "▁▃▅█");
        assert_eq!(sparkline(&[0.0, 0.0], 4), "  ▁▁");
        assert_eq!(sparkline(&[5.0, 1.0, 2.0, 4.0], 2), "▅█", "only the newest that fit");
    }
}
