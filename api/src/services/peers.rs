//! Calls to other regions' `/internal` API through the typed client: one connection pool,
//! connect and request timeouts, the service token on every call, and the next instance
//! of a region tried when one does not answer.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use client::{Client, Reply, Retry};
use contract::RegionId;

use crate::config::Config;
use crate::error::ApiError;

pub struct Peers {
    instances: HashMap<RegionId, Vec<Client>>,
    configured: bool,
    next: AtomicUsize,
}

impl Peers {
    pub fn new(config: &Config) -> anyhow::Result<Peers> {
        // Failing over to the region's next instance is this type's retry: one attempt each.
        let pool = Client::builder("")
            .ca_file(config.tls.ca_file.as_deref())
            .connect_timeout(Duration::from_millis(500))
            .timeout(Duration::from_millis(config.relay.request_timeout_ms))
            .retry(Retry::never())
            .build()?;
        let pool = match &config.service_token {
            Some(token) => pool.with_service_token(token.clone()),
            None => pool,
        };
        let instances =
            config.regions.iter().map(|r| (r.id, r.urls.iter().map(|url| pool.with_base(url)).collect())).collect();
        Ok(Peers { instances, configured: config.service_token.is_some(), next: AtomicUsize::new(0) })
    }

    /// Asks `region` with `call`, trying its instances in turn until one answers. Any
    /// HTTP answer counts as an answer (an error status comes back as `client::Error::Status`);
    /// only an instance that did not answer moves on to the next.
    pub async fn ask<T, F, Fut>(&self, region: RegionId, call: F) -> Result<client::Result<Reply<T>>, ApiError>
    where
        F: Fn(Client) -> Fut,
        Fut: Future<Output = client::Result<Reply<T>>>,
    {
        let unavailable = || ApiError::region_unavailable(format!("region {region} is unavailable"));
        if !self.configured {
            return Err(ApiError::internal("service_token is not configured"));
        }
        let instances = self.instances.get(&region).filter(|i| !i.is_empty()).ok_or_else(unavailable)?;
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for i in 0..instances.len() {
            let instance = &instances[(start + i) % instances.len()];
            match call(instance.clone()).await {
                Err(client::Error::NoAnswer { message, .. }) => {
                    tracing::warn!(url = instance.base(), %message, "peer did not answer");
                }
                answered => return Ok(answered),
            }
        }
        Err(unavailable())
    }

    /// [`Peers::ask`] where every error status means the region cannot serve this now.
    pub async fn get<T, F, Fut>(&self, region: RegionId, call: F) -> Result<T, ApiError>
    where
        F: Fn(Client) -> Fut,
        Fut: Future<Output = client::Result<Reply<T>>>,
    {
        match self.ask(region, call).await? {
            Ok(reply) => Ok(reply.value),
            Err(err) => Err(ApiError::region_unavailable(format!("region {region} answered: {err}"))),
        }
    }
}
