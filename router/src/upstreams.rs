//! The regions' API instances, their health, and which one serves the next request.
//! Active checks (`GET /readyz`) take instances out and put them back; a failed forward
//! counts as a failed check, so a dead instance leaves rotation without waiting for one.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use contract::RegionId;
use http_body_util::BodyExt;

use crate::config::Config;
use crate::forward::Client;

#[derive(Debug)]
pub struct Instance {
    pub url: String,
    healthy: AtomicBool,
    failures: AtomicU32,
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

    /// Healthy instances, starting with the next in round-robin order.
    pub fn candidates(&self) -> Vec<&Instance> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let n = self.instances.len();
        (0..n).map(|i| &self.instances[(start + i) % n]).filter(|i| i.is_healthy()).collect()
    }
}

pub struct Upstreams {
    regions: BTreeMap<RegionId, Region>,
    failures_to_mark_down: u32,
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
                })
                .collect();
            regions.insert(id, Region { id, name: r.name.clone(), instances, next: AtomicUsize::new(0) });
        }
        Ok(Upstreams { regions, failures_to_mark_down: config.health.failures_to_mark_down.max(1) })
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
        instance.failures.store(self.failures_to_mark_down, Ordering::Relaxed);
        if instance.healthy.swap(false, Ordering::Relaxed) {
            tracing::warn!(url = %instance.url, "instance taken out of rotation after a failed forward");
        }
    }

    pub fn record_failure(&self, instance: &Instance) {
        let failures = instance.failures.fetch_add(1, Ordering::Relaxed) + 1;
        if failures >= self.failures_to_mark_down && instance.healthy.swap(false, Ordering::Relaxed) {
            tracing::warn!(url = %instance.url, failures, "instance taken out of rotation");
        }
    }
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
                    if ok { upstreams.record_success(instance) } else { upstreams.record_failure(instance) }
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
