//! Console configuration: defaults that front the local deployment (`make up`), then an
//! optional TOML file, then `LOYALTY_WEB_...` environment variables (`__` for nesting).

use std::path::Path;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port (tests).
    pub listen: String,
    /// The platform: the router's public URL.
    pub platform_url: String,
    /// Where the router serves `/metrics` (its admin address), for the admin page's
    /// figures; none hides them.
    pub router_metrics_url: Option<String>,
    /// Base64 of at least 64 random bytes: encrypts and signs the session cookie. Every
    /// instance behind one load balancer needs the same key; without one, a key is drawn
    /// at start and sessions end with the process.
    pub session_key: Option<String>,
    /// Mark the session cookie `Secure`. Set it where the console is served over HTTPS
    /// (directly or behind a load balancer that terminates TLS); on by itself with
    /// `tls.cert_file`.
    pub secure_cookies: bool,
    /// The router's proxy token (`limits.proxy_token` there): the console then names
    /// each visitor's address to the router, whose per-address limits would otherwise
    /// count every visitor as the console. Keep it secret, like the session key.
    pub proxy_token: Option<String>,
    /// Proxies in front of the console that append the visitor's address to
    /// `X-Forwarded-For` (1 behind a load balancer, 0 when browsers connect directly).
    pub trusted_proxy_hops: usize,
    /// The networks those proxies connect from (CIDRs); needed with `trusted_proxy_hops`.
    pub trusted_proxies: Vec<IpNet>,
    pub workers: Option<usize>,
    pub log_json: bool,
    /// HTTPS on the listener (`cert_file`, `key_file`) and the CAs trusted for an
    /// `https://` platform URL (`ca_file`).
    pub tls: tls::TlsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8088".to_owned(),
            platform_url: "http://127.0.0.1:8080".to_owned(),
            router_metrics_url: Some("http://127.0.0.1:8081".to_owned()),
            session_key: None,
            secure_cookies: false,
            proxy_token: None,
            trusted_proxy_hops: 0,
            trusted_proxies: Vec::new(),
            workers: None,
            log_json: false,
            tls: tls::TlsConfig::default(),
        }
    }
}

impl Config {
    pub fn load(file: Option<&Path>) -> Result<Config, Box<figment::Error>> {
        observability::config::layers::<Config>(file, "LOYALTY_WEB_").extract().map_err(Box::new)
    }
}
