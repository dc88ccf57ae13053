//! A group's points over time as an SVG line chart, drawn on the server (plotters), so the
//! page needs no script to show it.

use chrono::{DateTime, Utc};
use plotters::prelude::*;

/// `(when, balance after)` in time order; `None` when there is too little to draw.
pub fn points_over_time(history: &[(DateTime<Utc>, i64)]) -> Option<String> {
    let (first, last) = (history.first()?, history.last()?);
    if history.len() < 2 {
        return None;
    }
    let top = history.iter().map(|(_, points)| *points).max().unwrap_or(0).max(1);
    // A pool's history may span seconds or years: the labels say what the span needs.
    let span = last.0 - first.0;
    let format = if span > chrono::Duration::days(2) {
        "%d %b %Y"
    } else if span > chrono::Duration::hours(1) {
        "%d %b %H:%M"
    } else {
        "%H:%M:%S"
    };
    let end = last.0 + (span / 50).max(chrono::Duration::milliseconds(1));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (640, 240)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size(48)
            .build_cartesian_2d(first.0..end, 0..top + top / 10 + 1)
            .ok()?;
        chart
            .configure_mesh()
            .x_labels(4)
            .y_labels(5)
            .x_label_formatter(&|t: &DateTime<Utc>| t.format(format).to_string())
            .draw()
            .ok()?;
        chart.draw_series(LineSeries::new(history.iter().copied(), BLUE.stroke_width(2))).ok()?;
        root.present().ok()?;
    }
    Some(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_history_draws_as_one_line_and_too_little_draws_nothing() {
        let t0 = Utc::now();
        let history = [(t0, 10), (t0 + chrono::Duration::minutes(5), 40), (t0 + chrono::Duration::minutes(9), 25)];
        let svg = points_over_time(&history).unwrap();
        assert!(svg.starts_with("<svg"), "{svg}");
        let lines: Vec<&str> =
            svg.lines().filter(|l| l.contains("<polyline") && l.contains("stroke=\"#0000FF\"")).collect();
        assert_eq!(lines.len(), 1, "{svg}");
        assert_eq!(
            lines[0].split("points=\"").nth(1).and_then(|p| p.split('"').next()).map(|p| p.split_whitespace().count()),
            Some(3),
            "{svg}"
        );
        assert!(points_over_time(&history[..1]).is_none());
        assert!(points_over_time(&[]).is_none());
    }
}
