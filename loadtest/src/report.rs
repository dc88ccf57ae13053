//! The run's report: a table on the terminal and in `report.md`, `summary.json`, and
//! `chart.svg` with throughput and p99 latency over time.

use std::path::Path;
use std::time::{Duration, Instant};

use plotters::prelude::*;
use serde::Serialize;

use crate::checker::{Verdict, Violation};
use crate::stats::{OpSummary, Sample, SampleOutcome, Second};

#[derive(Debug, Serialize)]
pub struct Report {
    pub seed: u64,
    pub users: usize,
    pub groups: usize,
    pub concurrency: usize,
    pub duplicate_share: f64,
    pub seconds: f64,
    pub operations: u64,
    pub per_second: f64,
    pub ops: Vec<OpSummary>,
    pub retries: u64,
    pub duplicates_sent: u64,
    pub replays_seen: u64,
    pub unknown_outcomes: u64,
    pub unknown_resolved: usize,
    /// What the client saw when an operation got no answer, and how often.
    pub unanswered: std::collections::BTreeMap<String, u64>,
    pub verdict: Verdict,
    pub midrun_violations: Vec<Violation>,
    pub timeline: Vec<Second>,
    /// When the load started (after set-up), and every operation: for figures over a
    /// stretch of the run, like the failure drills' before/during/after.
    #[serde(skip)]
    pub started: Instant,
    #[serde(skip)]
    pub samples: Vec<Sample>,
}

/// Figures of the operations that completed within a stretch of the run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub ops: usize,
    pub per_second: f64,
    pub failed: usize,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ops, {:.0} ops/s, {} failed, p99 {:.1} ms, max {:.1} ms",
            self.ops, self.per_second, self.failed, self.p99_ms, self.max_ms
        )
    }
}

impl Report {
    fn within(&self, from: Instant, to: Instant) -> impl Iterator<Item = &Sample> {
        let (from, to) = (from.saturating_duration_since(self.started), to.saturating_duration_since(self.started));
        self.samples.iter().filter(move |s| s.done >= from && s.done < to)
    }

    /// Figures of the operations that completed between `from` and `to`.
    pub fn window(&self, from: Instant, to: Instant) -> Window {
        self.window_of(from, to, |_| true)
    }

    /// Like `window`, for the operations `pick` chooses.
    pub fn window_of(&self, from: Instant, to: Instant, pick: impl Fn(&Sample) -> bool) -> Window {
        let picked: Vec<&Sample> = self.within(from, to).filter(|s| pick(s)).collect();
        let mut latencies: Vec<Duration> = picked.iter().map(|s| s.latency).collect();
        latencies.sort_unstable();
        let at = |q: f64| {
            let i = ((latencies.len() as f64 * q).ceil() as usize).saturating_sub(1);
            latencies.get(i.min(latencies.len().saturating_sub(1))).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        Window {
            ops: latencies.len(),
            per_second: latencies.len() as f64 / to.saturating_duration_since(from).as_secs_f64().max(0.001),
            failed: picked.iter().filter(|s| s.outcome == SampleOutcome::Failed).count(),
            p99_ms: at(0.99),
            max_ms: at(1.0),
        }
    }

    /// The longest stretch between `from` and `to` in which no write succeeded: how long
    /// writes were unavailable (a write retried through an outage counts when it lands).
    pub fn longest_write_gap(&self, from: Instant, to: Instant) -> Duration {
        let mut marks: Vec<Duration> =
            self.within(from, to).filter(|s| s.is_write() && s.outcome == SampleOutcome::Ok).map(|s| s.done).collect();
        marks.push(from.saturating_duration_since(self.started));
        marks.push(to.saturating_duration_since(self.started));
        marks.sort_unstable();
        marks.windows(2).map(|w| w[1] - w[0]).max().unwrap_or_default()
    }

    /// How long after `from` the last failed operation completed (zero if none did).
    pub fn last_failure_after(&self, from: Instant) -> Duration {
        let from = from.saturating_duration_since(self.started);
        self.samples
            .iter()
            .filter(|s| s.outcome == SampleOutcome::Failed && s.done >= from)
            .map(|s| s.done - from)
            .max()
            .unwrap_or_default()
    }

    pub fn passed(&self) -> bool {
        self.verdict.ok() && self.midrun_violations.is_empty()
    }

    pub fn print(&self) {
        print!("\n{}", self.markdown());
    }

    /// The figures and the verdict as Markdown: what `print` shows, and `report.md`,
    /// which docs/LOADTEST.md links to so that its figures are always a run's own.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = self.write_markdown(&mut out);
        out
    }

    fn write_markdown(&self, out: &mut impl std::fmt::Write) -> std::fmt::Result {
        writeln!(
            out,
            "{} operations in {:.1} s: **{:.0} ops/s** ({} users, {} groups, {} virtual users, seed {}, {:.0} % of writes sent twice).\n",
            self.operations,
            self.seconds,
            self.per_second,
            self.users,
            self.groups,
            self.concurrency,
            self.seed,
            self.duplicate_share * 100.0
        )?;
        writeln!(out, "| operation | count | ops/s | p50 ms | p90 ms | p99 ms | max ms | answers |")?;
        writeln!(out, "| --- | --- | --- | --- | --- | --- | --- | --- |")?;
        for op in &self.ops {
            let answers: Vec<String> = op.outcomes.iter().map(|(k, v)| format!("{k} {v}")).collect();
            writeln!(
                out,
                "| {} | {} | {:.1} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
                op.op,
                op.count,
                op.per_second,
                op.p50_ms,
                op.p90_ms,
                op.p99_ms,
                op.max_ms,
                answers.join(", ")
            )?;
        }
        writeln!(
            out,
            "\n- Retries with the same key: {}; writes sent twice on purpose: {}; answers replayed: {}; outcomes unknown: {} (resolved by retrying the key: {}).",
            self.retries, self.duplicates_sent, self.replays_seen, self.unknown_outcomes, self.unknown_resolved
        )?;
        for (why, count) in &self.unanswered {
            writeln!(out, "- No answer ({count}×): {why}")?;
        }
        let v = &self.verdict;
        writeln!(
            out,
            "- Verdict over {} groups and {} ledger entries ({} acknowledged writes, {} refused): **{}**",
            v.groups,
            v.entries,
            v.acknowledged_writes,
            v.refused_writes,
            if self.passed() { "CONSISTENT: no point lost or invented" } else { "VIOLATIONS" }
        )?;
        for violation in v.violations.iter().chain(&self.midrun_violations) {
            writeln!(out, "  - {violation}")?;
        }
        Ok(())
    }

    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("summary.json"), serde_json::to_vec_pretty(self)?)?;
        std::fs::write(dir.join("report.md"), self.markdown())?;
        self.chart(&dir.join("chart.svg"))?;
        Ok(())
    }

    fn chart(&self, path: &Path) -> anyhow::Result<()> {
        let root = SVGBackend::new(path, (900, 600)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e}"))?;
        let (top, bottom) = root.split_vertically(300);
        let last = self.timeline.last().map_or(1, |s| s.second + 1);
        let max_ops = self.timeline.iter().map(|s| s.ops).max().unwrap_or(1) as f64;
        let max_p99 = self.timeline.iter().map(|s| s.p99_ms).fold(1.0, f64::max);
        let draw = |area: &DrawingArea<SVGBackend, plotters::coord::Shift>,
                    title: &str,
                    y_label: &str,
                    y_max: f64,
                    points: Vec<(u32, f64)>,
                    color: RGBColor|
         -> anyhow::Result<()> {
            let mut chart = ChartBuilder::on(area)
                .caption(title, ("sans-serif", 18))
                .margin(10)
                .x_label_area_size(30)
                .y_label_area_size(60)
                .build_cartesian_2d(0u32..last, 0f64..y_max * 1.1)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            chart.configure_mesh().x_desc("seconds").y_desc(y_label).draw().map_err(|e| anyhow::anyhow!("{e}"))?;
            chart.draw_series(LineSeries::new(points, &color)).map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok(())
        };
        draw(
            &top,
            "Throughput (all operations)",
            "ops/s",
            max_ops,
            self.timeline.iter().map(|s| (s.second, s.ops as f64)).collect(),
            BLUE,
        )?;
        draw(&bottom, "p99 latency", "ms", max_p99, self.timeline.iter().map(|s| (s.second, s.p99_ms)).collect(), RED)?;
        root.present().map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(violations: Vec<Violation>) -> Report {
        let op = OpSummary {
            op: "redeem".into(),
            count: 10,
            per_second: 5.0,
            p50_ms: 1.0,
            p90_ms: 2.0,
            p99_ms: 3.0,
            max_ms: 4.0,
            outcomes: [("ok".to_owned(), 9), ("insufficient_points".to_owned(), 1)].into(),
        };
        Report {
            seed: 42,
            users: 20,
            groups: 5,
            concurrency: 16,
            duplicate_share: 0.1,
            seconds: 2.0,
            operations: 10,
            per_second: 5.0,
            ops: vec![op],
            retries: 0,
            duplicates_sent: 1,
            replays_seen: 1,
            unknown_outcomes: 0,
            unknown_resolved: 0,
            unanswered: [("timed out".to_owned(), 2)].into(),
            verdict: Verdict { groups: 5, entries: 9, acknowledged_writes: 9, refused_writes: 1, violations },
            midrun_violations: vec![],
            timeline: vec![],
            started: Instant::now(),
            samples: vec![],
        }
    }

    #[test]
    fn the_markdown_report_holds_every_operation_and_the_verdict() {
        let consistent = report(vec![]).markdown();
        assert!(consistent.contains("| redeem | 10 | 5.0 | 1.00 | 2.00 | 3.00 | 4.00 | insufficient_points 1, ok 9 |"));
        assert!(consistent.contains("- No answer (2×): timed out"));
        assert!(consistent.contains("**CONSISTENT: no point lost or invented**"));
        let broken = report(vec![Violation::NegativeBalance { group: "001-a".into(), balance: -1 }]).markdown();
        assert!(broken.contains("**VIOLATIONS**"), "{broken}");
        assert!(broken.contains("001-a"), "{broken}");
    }
}
