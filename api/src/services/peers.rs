//! Calls to other regions' `/internal` API: one shared reqwest client with connect and
//! request timeouts, the service token on every call, and the next instance of a region
//! tried when one does not answer.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use contract::RegionId;
use contract::internal::SERVICE_TOKEN_HEADER;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::Config;
use crate::error::ApiError;

pub struct Peers {
    client: reqwest::Client,
    urls: HashMap<RegionId, Vec<String>>,
    token: Option<String>,
    next: AtomicUsize,
}

/// What came back from a region, when something did.
pub struct PeerResponse {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

impl Peers {
    pub fn new(config: &Config) -> anyhow::Result<Peers> {
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(config.tls.client()?)
            .connect_timeout(Duration::from_millis(500))
            .pool_idle_timeout(Duration::from_secs(30))
            .timeout(Duration::from_millis(config.relay.request_timeout_ms))
            .build()?;
        Ok(Peers {
            client,
            urls: config.regions.iter().map(|r| (r.id, r.urls.clone())).collect(),
            token: config.service_token.clone(),
            next: AtomicUsize::new(0),
        })
    }

    /// Sends one request to `region`, trying its instances in turn until one answers.
    /// Any HTTP answer counts as an answer; only transport failures move on.
    pub async fn call<B: Serialize>(
        &self,
        region: RegionId,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<PeerResponse, ApiError> {
        let unavailable = || ApiError::region_unavailable(format!("region {region} is unavailable"));
        let token = self.token.as_deref().ok_or_else(|| ApiError::internal("service_token is not configured"))?;
        let urls = self.urls.get(&region).filter(|u| !u.is_empty()).ok_or_else(unavailable)?;
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for i in 0..urls.len() {
            let url = format!("{}{path}", urls[(start + i) % urls.len()]);
            let mut request = self
                .client
                .request(method.clone(), &url)
                .header(SERVICE_TOKEN_HEADER, token)
                .header("X-Request-Id", observability::request_id::current());
            if let Some(body) = body {
                request = request.json(body);
            }
            match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    match response.bytes().await {
                        Ok(bytes) => return Ok(PeerResponse { status, body: bytes.to_vec() }),
                        Err(err) => tracing::warn!(%url, %err, "reading a peer's answer failed"),
                    }
                }
                Err(err) => tracing::warn!(%url, %err, "peer did not answer"),
            }
        }
        Err(unavailable())
    }

    /// A GET whose 200 body is `T`; 404 is `Ok(None)`.
    pub async fn get<T: DeserializeOwned>(&self, region: RegionId, path: &str) -> Result<Option<T>, ApiError> {
        let response = self.call::<()>(region, Method::GET, path, None).await?;
        match response.status {
            StatusCode::OK => serde_json::from_slice(&response.body).map(Some).map_err(ApiError::internal),
            StatusCode::NOT_FOUND => Ok(None),
            other => Err(ApiError::region_unavailable(format!("region {region} answered {other}"))),
        }
    }
}
