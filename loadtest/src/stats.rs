//! Figures of a run: per operation throughput, latency histograms and errors by code;
//! retries and replays; and a per-second timeline for the chart.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

pub const OPS: [&str; 8] = ["bill", "redeem", "catalogue", "balance", "activity", "quote", "return", "offer"];

struct OpFigures {
    latencies: Histogram<u64>,
    statuses: BTreeMap<String, u64>,
}

pub struct Stats {
    started: Instant,
    ops: Mutex<BTreeMap<&'static str, OpFigures>>,
    samples: Mutex<Vec<Sample>>,
    pub retries: AtomicU64,
    pub duplicates_sent: AtomicU64,
    pub replays_seen: AtomicU64,
    pub unknown_outcomes: AtomicU64,
    unanswered: Mutex<BTreeMap<String, u64>>,
}

#[derive(Debug, Serialize)]
pub struct OpSummary {
    pub op: String,
    pub count: u64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Answers by status or contract error code.
    pub outcomes: BTreeMap<String, u64>,
}

/// One operation, for figures over a stretch of the run (the failure drills').
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub op: &'static str,
    /// When it completed, since the start of the load.
    pub done: Duration,
    pub latency: Duration,
    pub outcome: SampleOutcome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleOutcome {
    Ok,
    /// Refused on the merits (insufficient_points and the like).
    Refused,
    /// The platform failed it (see [`is_failure`]).
    Failed,
}

impl Sample {
    pub fn is_write(&self) -> bool {
        matches!(self.op, "bill" | "redeem" | "return" | "offer")
    }
}

#[derive(Debug, Serialize)]
pub struct Second {
    pub second: u32,
    pub ops: u64,
    /// Operations the platform failed (not business refusals like insufficient_points).
    pub errors: u64,
    pub p99_ms: f64,
}

/// Answers that are the platform failing, as opposed to it refusing on the merits.
pub fn is_failure(outcome: &str) -> bool {
    matches!(outcome, "lost" | "region_unavailable" | "timeout" | "internal" | "unknown" | "idempotency_in_progress")
}

impl Stats {
    pub fn new() -> Stats {
        Stats {
            started: Instant::now(),
            ops: Mutex::new(BTreeMap::new()),
            samples: Mutex::new(Vec::new()),
            retries: AtomicU64::new(0),
            duplicates_sent: AtomicU64::new(0),
            replays_seen: AtomicU64::new(0),
            unknown_outcomes: AtomicU64::new(0),
            unanswered: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// `outcome` is "ok" or the contract error code (or the transport failure).
    pub fn record(&self, op: &'static str, latency: Duration, outcome: &str) {
        let micros = (latency.as_micros() as u64).max(1);
        if let Ok(mut ops) = self.ops.lock() {
            let figures = ops.entry(op).or_insert_with(|| OpFigures {
                latencies: Histogram::new_with_bounds(1, 600_000_000, 3)
                    .unwrap_or_else(|_| unreachable!("constant bounds are valid")),
                statuses: BTreeMap::new(),
            });
            let _ = figures.latencies.record(micros.min(600_000_000));
            *figures.statuses.entry(outcome.to_owned()).or_default() += 1;
        }
        let outcome = match outcome {
            "ok" => SampleOutcome::Ok,
            failure if is_failure(failure) => SampleOutcome::Failed,
            _ => SampleOutcome::Refused,
        };
        if let Ok(mut samples) = self.samples.lock() {
            samples.push(Sample { op, done: self.started.elapsed(), latency, outcome });
        }
    }

    /// Why an operation got no answer (or one that is not the contract's): a "lost" in
    /// the table says that it happened, this says what the client saw.
    pub fn unanswered(&self, op: &str, why: &str) {
        const DISTINCT: usize = 20;
        if let Ok(mut seen) = self.unanswered.lock() {
            let key = format!("{op}: {why}");
            if seen.len() < DISTINCT || seen.contains_key(&key) {
                *seen.entry(key).or_default() += 1;
            }
        }
    }

    pub fn unanswered_reasons(&self) -> BTreeMap<String, u64> {
        self.unanswered.lock().map(|seen| seen.clone()).unwrap_or_default()
    }

    pub fn total_ops(&self) -> u64 {
        self.ops.lock().map(|ops| ops.values().map(|f| f.latencies.len()).sum()).unwrap_or(0)
    }

    pub fn summaries(&self, seconds: f64) -> Vec<OpSummary> {
        let Ok(ops) = self.ops.lock() else { return Vec::new() };
        OPS.iter()
            .filter_map(|op| ops.get(op).map(|f| (op, f)))
            .map(|(op, f)| OpSummary {
                op: (*op).to_owned(),
                count: f.latencies.len(),
                per_second: f.latencies.len() as f64 / seconds.max(0.001),
                p50_ms: f.latencies.value_at_quantile(0.5) as f64 / 1000.0,
                p90_ms: f.latencies.value_at_quantile(0.9) as f64 / 1000.0,
                p99_ms: f.latencies.value_at_quantile(0.99) as f64 / 1000.0,
                max_ms: f.latencies.max() as f64 / 1000.0,
                outcomes: f.statuses.clone(),
            })
            .collect()
    }

    pub fn started(&self) -> Instant {
        self.started
    }

    pub fn samples(&self) -> Vec<Sample> {
        self.samples.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn timeline(&self) -> Vec<Second> {
        let Ok(samples) = self.samples.lock() else { return Vec::new() };
        let mut by_second: BTreeMap<u32, (Vec<u64>, u64)> = BTreeMap::new();
        for sample in samples.iter() {
            let entry = by_second.entry(sample.done.as_secs() as u32).or_default();
            entry.0.push((sample.latency.as_micros() as u64).max(1));
            entry.1 += u64::from(sample.outcome == SampleOutcome::Failed);
        }
        by_second
            .into_iter()
            .map(|(second, (mut latencies, errors))| {
                latencies.sort_unstable();
                let p99 = latencies
                    [((latencies.len() as f64 * 0.99).ceil() as usize).saturating_sub(1).min(latencies.len() - 1)];
                Second { second, ops: latencies.len() as u64, errors, p99_ms: p99 as f64 / 1000.0 }
            })
            .collect()
    }

    pub fn count(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

impl Default for Stats {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_for_no_answer_are_counted_and_their_variety_is_capped() {
        let stats = Stats::new();
        for n in 0..30 {
            stats.unanswered("redeem", &format!("reason {n}"));
        }
        stats.unanswered("redeem", "reason 0");
        let seen = stats.unanswered_reasons();
        assert_eq!(seen.len(), 20);
        assert_eq!(seen["redeem: reason 0"], 2);
        assert!(!seen.contains_key("redeem: reason 25"));
    }
}
