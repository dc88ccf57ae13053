//! Router configuration: defaults that front the local deployment, then an optional TOML
//! file, then `LOYALTY_ROUTER_...` environment variables (`__` for nesting).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::limits::LimitsConfig;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    pub listen: String,
    /// Where `/metrics` is served (with `/healthz` and `/readyz`); never the public
    /// address. Keep it on loopback or a private network.
    pub admin_listen: String,
    pub regions: Vec<RegionConfig>,
    /// Shared secret for the regions' `/internal` API (email directory look-ups).
    pub service_token: Option<String>,
    pub workers: Option<usize>,
    pub log_json: bool,
    pub timeouts: Timeouts,
    pub health: HealthConfig,
    pub limits: LimitsConfig,
    pub auth: AuthConfig,
    /// HTTPS on the public listener (`cert_file`, `key_file`) and the CAs trusted for
    /// `https://` instance URLs (`ca_file`, on top of the system's roots).
    pub tls: tls::TlsConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegionConfig {
    pub id: String,
    pub name: String,
    /// Base URLs of the region's API instances.
    pub urls: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AuthConfig {
    /// Every region's public token keys by key id (`001k1`), retired ones too while their
    /// tokens live: the regions' own `auth.verifying_keys`. A token none of them verifies
    /// is refused here, before any region spends a call on it. Each region of the
    /// deployment needs one, or its users could not be served.
    pub verifying_keys: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Timeouts {
    pub connect_ms: u64,
    /// A forwarded request's whole exchange with one instance.
    pub request_ms: u64,
    /// Each region's share of a fan-out call.
    pub fanout_ms: u64,
    /// A request body must have arrived within this (a slow sender holds a worker's
    /// buffers and a connection).
    pub body_read_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HealthConfig {
    pub interval_ms: u64,
    pub timeout_ms: u64,
    /// Consecutive failed checks (or forwards) before an instance is taken out.
    pub failures_to_mark_down: u32,
    /// Panic threshold: when no instance of a region is healthy, those that answered a
    /// forward within this window still get requests. They are overloaded (their checks
    /// time out while they keep answering), and shedding them would turn load into an
    /// outage. Shorter than the time the checks take to mark a silent instance down
    /// (here 1.3 s), so a region cut off still fails fast.
    pub panic_window_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".to_owned(),
            admin_listen: "127.0.0.1:8081".to_owned(),
            // Region 001 alone; a deployment's regions come from its configuration file
            // (`make up` writes it from infra/local/topology.toml).
            regions: vec![RegionConfig {
                id: "001".to_owned(),
                name: "Europe".to_owned(),
                urls: vec!["http://127.0.0.1:8101".to_owned()],
            }],
            service_token: None,
            workers: None,
            log_json: false,
            timeouts: Timeouts { connect_ms: 300, request_ms: 10_000, fanout_ms: 2_000, body_read_ms: 10_000 },
            health: HealthConfig { interval_ms: 500, timeout_ms: 400, failures_to_mark_down: 2, panic_window_ms: 750 },
            limits: LimitsConfig::default(),
            auth: AuthConfig::default(),
            tls: tls::TlsConfig::default(),
        }
    }
}

impl Config {
    pub fn load(file: Option<&Path>) -> Result<Config, Box<figment::Error>> {
        observability::config::layers::<Config>(file, "LOYALTY_ROUTER_").extract().map_err(Box::new)
    }
}
