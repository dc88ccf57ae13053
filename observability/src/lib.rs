//! What every HTTP service of the platform does alike: an `X-Request-Id` on every hop
//! and log line, tracing set-up, Prometheus metrics per route, configuration layers and
//! the client's address behind proxies.

pub mod address;
pub mod config;
pub mod request_id;
pub mod telemetry;
