//! The regions' API instances, their health, and which one serves the next request.
//! Active checks (`GET /readyz`) take instances out and put them back; a failed forward
//! counts as a failed check, so a dead instance leaves rotation without waiting for one.
//!
//! Panic threshold (as Envoy's): when every instance of a region is out, those still
//! answering forwards (within `panic_window`) keep getting requests. Checks time out
//! under load long before requests do; a region marked down for being busy would answer
//! every request with 503 where it could have answered them late.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use contract::RegionId;
use http_body_util::BodyExt;

use crate::config::Config;
use crate::forward::Client;

#[derive(Debug)]
pub struct Instance {
    pub url: String,
    healthy: AtomicBool,
    failures: AtomicU32,
    /// When a forward last got an answer, in ms on the `Upstreams` clock (0: never).
    answered_at: AtomicU64,
}

impl Instance {
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }
}

#[derive(Debug)]
pub struct Region {
    pub id: RegionId,
    pub name: String,
    pub instances: Vec<Instance>,
    next: AtomicUsize,
}

impl Region {
    pub fn is_up(&self) -> bool {
        self.instances.iter().any(Instance::is_healthy)
    }

    /// Healthy instances, starting with the next in round-robin order; with none healthy,
    /// those answering forwards lately (the panic threshold).
    fn candidates(&self, now_ms: u64, panic_window_ms: u64) -> Vec<&Instance> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let n = self.instances.len();
        let in_order = || (0..n).map(|i| &self.instances[(start + i) % n]);
        let healthy: Vec<&Instance> = in_order().filter(|i| i.is_healthy()).collect();
        if !healthy.is_empty() {
            return healthy;
        }
        let answering: Vec<&Instance> = in_order()
            .filter(|i| {
                let at = i.answered_at.load(Ordering::Relaxed);
                at != 0 && now_ms.saturating_sub(at) <= panic_window_ms
            })
            .collect();
        if !answering.is_empty() {
            metrics::counter!("router_panic_routing_total", "region" => self.id.to_string()).increment(1);
        }
        answering
    }
}

pub struct Upstreams {
    regions: BTreeMap<RegionId, Region>,
    failures_to_mark_down: u32,
    panic_window_ms: u64,
    clock: Instant,
}

impl Upstreams {
    pub fn new(config: &Config) -> anyhow::Result<Upstreams> {
        let mut regions = BTreeMap::new();
        for r in &config.regions {
            let id: RegionId = r.id.parse().map_err(|e| anyhow::anyhow!("region id {:?}: {e}", r.id))?;
            let instances = r
                .urls
                .iter()
                .map(|url| Instance {
                    url: url.trim_end_matches('/').to_owned(),
                    // Optimistic until the first check says otherwise.
                    healthy: AtomicBool::new(true),
                    failures: AtomicU32::new(0),
                    answered_at: AtomicU64::new(0),
                })
                .collect();
            regions.insert(id, Region { id, name: r.name.clone(), instances, next: AtomicUsize::new(0) });
        }
        Ok(Upstreams {
            regions,
            failures_to_mark_down: config.health.failures_to_mark_down.max(1),
            panic_window_ms: config.health.panic_window_ms,
            clock: Instant::now(),
        })
    }

    /// Milliseconds since start, never 0 (0 means "never" in `answered_at`).
    fn now_ms(&self) -> u64 {
        u64::try_from(self.clock.elapsed().as_millis()).unwrap_or(u64::MAX).max(1)
    }

    /// Where `region`'s next request may go, in order.
    pub fn candidates<'a>(&self, region: &'a Region) -> Vec<&'a Instance> {
        region.candidates(self.now_ms(), self.panic_window_ms)
    }

    /// A forward got an answer: whatever its status, the instance is serving.
    pub fn record_answer(&self, instance: &Instance) {
        instance.answered_at.store(self.now_ms(), Ordering::Relaxed);
        self.record_success(instance);
    }

    pub fn region(&self, id: RegionId) -> Option<&Region> {
        self.regions.get(&id)
    }

    pub fn regions(&self) -> impl Iterator<Item = &Region> {
        self.regions.values()
    }

    pub fn ids(&self) -> Vec<RegionId> {
        self.regions.keys().copied().collect()
    }

    pub fn record_success(&self, instance: &Instance) {
        instance.failures.store(0, Ordering::Relaxed);
        if !instance.healthy.swap(true, Ordering::Relaxed) {
            tracing::info!(url = %instance.url, "instance back in rotation");
        }
    }

    /// A forward found the instance gone (refused or reset): no need to wait for checks.
    pub fn take_out(&self, instance: &Instance) {
        strike(instance, "refused");
        // Gone, not busy: the panic threshold does not bring it back either.
        instance.answered_at.store(0, Ordering::Relaxed);
        instance.failures.store(self.failures_to_mark_down, Ordering::Relaxed);
        if instance.healthy.swap(false, Ordering::Relaxed) {
            tracing::warn!(url = %instance.url, "instance taken out of rotation after a failed forward");
        }
    }

    /// A failed check, or a forward whose answer was lost (`cause` says which).
    pub fn record_failure(&self, instance: &Instance, cause: &'static str) {
        strike(instance, cause);
        let failures = instance.failures.fetch_add(1, Ordering::Relaxed) + 1;
        if failures >= self.failures_to_mark_down && instance.healthy.swap(false, Ordering::Relaxed) {
            tracing::warn!(url = %instance.url, failures, "instance taken out of rotation");
        }
    }
}

/// Counts what held against an instance: client input must never show here.
fn strike(instance: &Instance, cause: &'static str) {
    metrics::counter!("router_upstream_strikes_total", "instance" => instance.url.clone(), "cause" => cause)
        .increment(1);
}

/// Checks every instance every `interval`, forever.
pub async fn check_health(upstreams: Arc<Upstreams>, client: Client, interval: Duration, timeout: Duration) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let checks = upstreams.regions().flat_map(|region| {
            region.instances.iter().map(|instance| {
                let client = client.clone();
                let upstreams = upstreams.clone();
                let region = region.id;
                async move {
                    let ok = tokio::time::timeout(timeout, ready(&client, &instance.url)).await.unwrap_or(false);
                    if ok { upstreams.record_success(instance) } else { upstreams.record_failure(instance, "check") }
                    metrics::gauge!("router_upstream_healthy", "region" => region.to_string(), "instance" => instance.url.clone())
                        .set(if instance.is_healthy() { 1.0 } else { 0.0 });
                }
            })
        });
        futures_util::future::join_all(checks).await;
    }
}

/// Whether the instance at `base` answers its readiness check (its body read, so the
/// connection goes back to the pool).
async fn ready(client: &Client, base: &str) -> bool {
    let Ok(uri) = format!("{base}/readyz").parse::<http::Uri>() else { return false };
    match client.get(uri).await {
        Ok(response) => response.status().is_success() && response.into_body().collect().await.is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RegionConfig;

    fn upstreams() -> Upstreams {
        let config = Config {
            regions: vec![RegionConfig {
                id: "001".into(),
                name: "Europe".into(),
                urls: vec!["http://127.0.0.1:1".into(), "http://127.0.0.1:2".into()],
            }],
            ..Config::default()
        };
        Upstreams::new(&config).unwrap()
    }

    fn urls(instances: Vec<&Instance>) -> Vec<&str> {
        let mut urls: Vec<&str> = instances.into_iter().map(|i| i.url.as_str()).collect();
        urls.sort();
        urls
    }

    #[test]
    fn busy_instances_keep_their_traffic_when_every_check_fails() {
        let upstreams = upstreams();
        let region = upstreams.region("001".parse().unwrap()).unwrap();
        let (busy, silent) = (&region.instances[0], &region.instances[1]);
        upstreams.record_answer(busy);
        for instance in [busy, silent] {
            for _ in 0..2 {
                upstreams.record_failure(instance, "check");
            }
        }
        assert!(!region.is_up());
        // Panic: the instance that has just answered still gets requests, the silent one not.
        assert_eq!(urls(upstreams.candidates(region)), ["http://127.0.0.1:1"]);
        // Once it stops answering for longer than the window, the region fails fast.
        let later = upstreams.now_ms() + upstreams.panic_window_ms + 1;
        assert!(region.candidates(later, upstreams.panic_window_ms).is_empty());
    }

    #[test]
    fn instances_that_refuse_connections_get_nothing() {
        let upstreams = upstreams();
        let region = upstreams.region("001".parse().unwrap()).unwrap();
        upstreams.record_answer(&region.instances[1]);
        upstreams.take_out(&region.instances[1]);
        assert_eq!(urls(upstreams.candidates(region)), ["http://127.0.0.1:1"]);
        upstreams.record_answer(&region.instances[0]);
        upstreams.take_out(&region.instances[0]);
        // Both refused connections: gone, whatever they answered before.
        assert!(upstreams.candidates(region).is_empty());
    }
}
