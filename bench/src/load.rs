//! Closed-loop load: `concurrency` workers send requests back to back for a round.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::cpu::{self, Component};
use crate::figures::Figures;

/// How one request went: answered well, or failed; and how many extra attempts it took.
pub struct Attempt {
    pub ok: bool,
    pub retries: u64,
}

/// Runs `send(worker, n)` from `concurrency` workers for `seconds`, recording latencies
/// of successful requests in µs into `figures`, and the CPU time of `cpu` if any.
pub async fn round<F, Fut>(
    concurrency: usize,
    seconds: u64,
    cpu: &[Component],
    figures: &mut Figures,
    send: F,
) -> anyhow::Result<()>
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Attempt> + Send,
{
    let send = Arc::new(send);
    let stop = Arc::new(AtomicBool::new(false));
    let (errors, retries) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let cpu_before = cpu::snapshot(cpu);
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|worker| {
            let (send, stop, errors, retries) = (send.clone(), stop.clone(), errors.clone(), retries.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(100_000);
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    let attempt = send(worker, n).await;
                    n += 1;
                    retries.fetch_add(attempt.retries, Ordering::Relaxed);
                    if attempt.ok {
                        latencies.push(t.elapsed().as_micros() as u64);
                    } else {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                latencies
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut count = 0u64;
    for worker in workers {
        for micros in worker.await? {
            figures.latencies.record(micros.max(1))?;
            count += 1;
        }
    }
    figures.throughputs.push(count as f64 / started.elapsed().as_secs_f64());
    figures.errors += errors.load(Ordering::Relaxed);
    figures.requests += count + errors.load(Ordering::Relaxed);
    figures.retries += retries.load(Ordering::Relaxed);
    if !cpu.is_empty() {
        figures.add_cpu(cpu::names(cpu), &cpu_before, &cpu::snapshot(cpu));
    }
    Ok(())
}

/// A GET of a whole URL that counts as answered well on a 2xx with its whole body read.
pub async fn get(client: &client::Client, url: &str) -> Attempt {
    Attempt { ok: client.get_bytes(url).await.is_ok(), retries: 0 }
}

/// GETs of every URL at once, answered well when all are: what a fan-out costs at the
/// least on this machine, done by the client itself.
pub async fn get_all(client: &client::Client, urls: &[String]) -> Attempt {
    let attempts = futures_util::future::join_all(urls.iter().map(|url| get(client, url))).await;
    Attempt { ok: attempts.iter().all(|a| a.ok), retries: 0 }
}
