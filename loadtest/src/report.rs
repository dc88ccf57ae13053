//! The run's report: a table on the terminal, `summary.json`, and `chart.svg` with
//! throughput and p99 latency over time.

use std::path::Path;

use plotters::prelude::*;
use serde::Serialize;

use crate::checker::{Verdict, Violation};
use crate::stats::{OpSummary, Second};

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
    pub verdict: Verdict,
    pub midrun_violations: Vec<Violation>,
    pub timeline: Vec<Second>,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.verdict.ok() && self.midrun_violations.is_empty()
    }

    pub fn print(&self) {
        println!(
            "\n{} operations in {:.1} s: {:.0} ops/s ({} virtual users, seed {}, {:.0} % of writes sent twice)",
            self.operations,
            self.seconds,
            self.per_second,
            self.concurrency,
            self.seed,
            self.duplicate_share * 100.0
        );
        println!("| operation | count | ops/s | p50 ms | p90 ms | p99 ms | max ms | answers |");
        println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
        for op in &self.ops {
            let answers: Vec<String> = op.outcomes.iter().map(|(k, v)| format!("{k} {v}")).collect();
            println!(
                "| {} | {} | {:.1} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
                op.op,
                op.count,
                op.per_second,
                op.p50_ms,
                op.p90_ms,
                op.p99_ms,
                op.max_ms,
                answers.join(", ")
            );
        }
        println!(
            "retries with the same key: {}; writes sent twice on purpose: {}; replayed answers: {}; outcomes unknown: {} (resolved by retrying the key: {})",
            self.retries, self.duplicates_sent, self.replays_seen, self.unknown_outcomes, self.unknown_resolved
        );
        let v = &self.verdict;
        println!(
            "verdict over {} groups and {} ledger entries ({} acknowledged writes, {} refused): {}",
            v.groups,
            v.entries,
            v.acknowledged_writes,
            v.refused_writes,
            if self.passed() { "CONSISTENT: no point lost or invented" } else { "VIOLATIONS" }
        );
        for violation in v.violations.iter().chain(&self.midrun_violations) {
            println!("  - {violation}");
        }
    }

    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("summary.json"), serde_json::to_vec_pretty(self)?)?;
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
