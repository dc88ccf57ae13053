//! One target's figures over its rounds, and how they are printed.

use hdrhistogram::Histogram;
use serde::Serialize;

pub struct Figures {
    pub throughputs: Vec<f64>,
    pub latencies: Histogram<u64>,
    pub errors: u64,
    /// Attempts beyond the first (retried after a refusal to wait, like a 503).
    pub retries: u64,
    /// Requests sent (answered well or not), over all rounds.
    pub requests: u64,
    /// CPU seconds over all rounds: `cpu_names[i]`'s in `cpu_seconds[i]`.
    pub cpu_names: Vec<String>,
    pub cpu_seconds: Vec<f64>,
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
    /// CPU µs per request by process (load generator first), when asked for with `--cpu`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cpu_us_per_request: Vec<(String, f64)>,
}

impl Figures {
    pub fn new() -> anyhow::Result<Figures> {
        Ok(Figures {
            throughputs: Vec::new(),
            latencies: Histogram::new_with_bounds(1, 60_000_000, 3)?,
            errors: 0,
            retries: 0,
            requests: 0,
            cpu_names: Vec::new(),
            cpu_seconds: Vec::new(),
        })
    }

    /// Adds one round's CPU seconds (from two `cpu::snapshot`s).
    pub fn add_cpu(&mut self, names: Vec<String>, before: &[f64], after: &[f64]) {
        self.cpu_seconds.resize(names.len(), 0.0);
        self.cpu_names = names;
        for (total, (b, a)) in self.cpu_seconds.iter_mut().zip(before.iter().zip(after)) {
            *total += (a - b).max(0.0);
        }
    }

    pub fn cpu_us_per_request(&self) -> Vec<(String, f64)> {
        let per = |seconds: f64| seconds * 1e6 / self.requests.max(1) as f64;
        self.cpu_names.iter().cloned().zip(self.cpu_seconds.iter().map(|s| per(*s))).collect()
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
            cpu_us_per_request: self.cpu_us_per_request(),
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
    print_cpu_table(targets);
}

/// CPU per request by process, when measured: what each component costs.
fn print_cpu_table(targets: &[(String, Figures)]) {
    let Some(names) = targets.iter().map(|(_, f)| &f.cpu_names).find(|n| !n.is_empty()) else { return };
    println!("\nCPU per request (µs of user + system time, each process with its children, over all rounds):\n");
    println!("| target | {} | total |", names.join(" | "));
    println!("| --- |{}", " --- |".repeat(names.len() + 1));
    for (name, f) in targets {
        let cells = f.cpu_us_per_request();
        let total: f64 = cells.iter().map(|(_, us)| us).sum();
        let cells: Vec<String> = cells.iter().map(|(_, us)| format!("{us:.0}")).collect();
        println!("| {name} | {} | {total:.0} |", cells.join(" | "));
    }
}
