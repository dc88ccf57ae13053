//! What every HTTP service of the platform does alike: an `X-Request-Id` on every hop
//! and log line, tracing set-up, and Prometheus metrics per route.

pub mod config;
pub mod request_id;
pub mod telemetry;
