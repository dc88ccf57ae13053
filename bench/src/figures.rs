//! One target's figures over its rounds, and how they are printed.

use hdrhistogram::Histogram;
use serde::Serialize;

pub struct Figures {
    pub throughputs: Vec<f64>,
    pub latencies: Histogram<u64>,
    pub errors: u64,
    /// Attempts beyond the first (retried after a refusal to wait, like a 503).
    pub retries: u64,
}

/// What a round reports when its caller assembles the table (`redeem --json`).
#[derive(Debug, Serialize)]
pub struct Summary {
    pub throughput: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub errors: u64,
    pub retries: u64,
}

impl Figures {
    pub fn new() -> anyhow::Result<Figures> {
        Ok(Figures {
            throughputs: Vec::new(),
            latencies: Histogram::new_with_bounds(1, 60_000_000, 3)?,
            errors: 0,
            retries: 0,
        })
    }

    pub fn median_throughput(&self) -> f64 {
        let mut t = self.throughputs.clone();
        t.sort_by(f64::total_cmp);
        t.get(t.len() / 2).copied().unwrap_or(0.0)
    }

    pub fn ms(&self, q: f64) -> f64 {
        self.latencies.value_at_quantile(q) as f64 / 1000.0
    }

    pub fn summary(&self) -> Summary {
        Summary {
            throughput: self.median_throughput(),
            p50_ms: self.ms(0.5),
            p99_ms: self.ms(0.99),
            max_ms: self.latencies.max() as f64 / 1000.0,
            errors: self.errors,
            retries: self.retries,
        }
    }
}

/// A markdown table of the targets, then each target against the first.
pub fn print_table(targets: &[(String, Figures)]) {
    println!("| target | median throughput (req/s) | p50 (ms) | p90 (ms) | p99 (ms) | max (ms) | errors |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for (name, f) in targets {
        println!(
            "| {name} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
            f.median_throughput(),
            f.ms(0.5),
            f.ms(0.9),
            f.ms(0.99),
            f.latencies.max() as f64 / 1000.0,
            f.errors
        );
    }
    let Some((base_name, base)) = targets.first() else { return };
    println!();
    for (name, f) in &targets[1..] {
        println!(
            "- {name} / {base_name}: throughput {:.2}×, p50 {:+.2} ms ({:.2}×), p99 {:+.2} ms ({:.2}×)",
            f.median_throughput() / base.median_throughput().max(1e-9),
            f.ms(0.5) - base.ms(0.5),
            f.ms(0.5) / base.ms(0.5).max(1e-9),
            f.ms(0.99) - base.ms(0.99),
            f.ms(0.99) / base.ms(0.99).max(1e-9),
        );
    }
}
