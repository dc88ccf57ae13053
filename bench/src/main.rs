//! `loyalty-bench hop`: the same GET (one group) sent directly to a regional API and
//! through the router, in alternating rounds of one run, so both see the same machine
//! noise. Prints throughput and latency percentiles of each and their ratios.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use hdrhistogram::Histogram;
use serde_json::{Value, json};

#[derive(Parser)]
#[command(about)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Direct to a regional API versus through the router.
    Hop {
        /// The router's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        router: String,
        /// Base URL of region 001's API instance.
        #[arg(long, default_value = "http://127.0.0.1:8101")]
        direct: String,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// Seconds per round.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        /// Rounds per target, alternating.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
}

/// One target's figures over all its rounds.
struct Figures {
    throughputs: Vec<f64>,
    latencies: Histogram<u64>,
    errors: u64,
}

impl Figures {
    fn new() -> anyhow::Result<Figures> {
        Ok(Figures { throughputs: Vec::new(), latencies: Histogram::new_with_bounds(1, 60_000_000, 3)?, errors: 0 })
    }

    fn median_throughput(&self) -> f64 {
        let mut t = self.throughputs.clone();
        t.sort_by(f64::total_cmp);
        t.get(t.len() / 2).copied().unwrap_or(0.0)
    }

    fn micros(&self, q: f64) -> f64 {
        self.latencies.value_at_quantile(q) as f64
    }
}

/// `concurrency` workers GET `url` for `seconds`; latencies in µs.
async fn round(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    concurrency: usize,
    seconds: u64,
    figures: &mut Figures,
) -> anyhow::Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, url, token, stop, errors) =
                (client.clone(), url.to_owned(), token.to_owned(), stop.clone(), errors.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(100_000);
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    let ok = match client.get(&url).bearer_auth(&token).send().await {
                        Ok(res) => res.status().is_success() && res.bytes().await.is_ok(),
                        Err(_) => false,
                    };
                    if ok {
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
    Ok(())
}

async fn post(client: &reqwest::Client, url: String, body: Value) -> anyhow::Result<Value> {
    let res = client.post(&url).json(&body).send().await?;
    let status = res.status();
    let body: Value = res.json().await?;
    if !status.is_success() {
        bail!("{url}: {status} {body}");
    }
    Ok(body)
}

async fn hop(router: String, direct: String, concurrency: usize, seconds: u64, rounds: usize) -> anyhow::Result<()> {
    let client =
        reqwest::Client::builder().pool_max_idle_per_host(concurrency * 2).timeout(Duration::from_secs(10)).build()?;
    // A customer of region 001 and their personal group: the GET both paths serve.
    let email = format!("bench-{}@bench.test", ulid::Ulid::new().to_string().to_lowercase());
    let password = "bench password 1";
    let user = post(
        &client,
        format!("{router}/v1/users"),
        json!({"email": email, "password": password, "full_name": "Bench", "home_region": "001"}),
    )
    .await?;
    let session = post(&client, format!("{router}/v1/sessions"), json!({"email": email, "password": password})).await?;
    let token = session["token"].as_str().context("no token")?.to_owned();
    let group = user["personal_group_id"].as_str().context("no group")?;
    let path = format!("/v1/groups/{group}");
    let targets = [("direct", format!("{direct}{path}")), ("router", format!("{router}{path}"))];

    // Warm both paths' connection pools and caches.
    let mut warm = Figures::new()?;
    for (_, url) in &targets {
        round(&client, url, &token, concurrency, 1, &mut warm).await?;
    }
    let mut figures = [Figures::new()?, Figures::new()?];
    for r in 0..rounds {
        for (i, (name, url)) in targets.iter().enumerate() {
            round(&client, url, &token, concurrency, seconds, &mut figures[i]).await?;
            eprintln!("round {} {name}: {:.0} req/s", r + 1, figures[i].throughputs.last().copied().unwrap_or(0.0));
        }
    }
    println!("GET {path}: {rounds} alternating rounds of {seconds} s per target, {concurrency} concurrent clients");
    println!("| target | median throughput (req/s) | p50 (ms) | p90 (ms) | p99 (ms) | max (ms) | errors |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for (i, (name, _)) in targets.iter().enumerate() {
        let f = &figures[i];
        println!(
            "| {name} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
            f.median_throughput(),
            f.micros(0.5) / 1000.0,
            f.micros(0.9) / 1000.0,
            f.micros(0.99) / 1000.0,
            f.latencies.max() as f64 / 1000.0,
            f.errors
        );
    }
    let (d, r) = (&figures[0], &figures[1]);
    println!(
        "router / direct: throughput {:.2}x, p50 +{:.2} ms, p99 +{:.2} ms",
        r.median_throughput() / d.median_throughput().max(1.0),
        (r.micros(0.5) - d.micros(0.5)) / 1000.0,
        (r.micros(0.99) - d.micros(0.99)) / 1000.0
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Args::parse().command {
        Command::Hop { router, direct, concurrency, seconds, rounds } => {
            hop(router, direct, concurrency, seconds, rounds).await
        }
    }
}
