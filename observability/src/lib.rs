//! What every HTTP service of the platform does alike: an `X-Request-Id` on every hop
//! and log line, tracing set-up, Prometheus metrics per route, configuration layers and
//! the client's address behind proxies.

use std::time::Duration;

pub mod address;
pub mod config;
pub mod open_files;
pub mod request_id;
pub mod telemetry;

/// How long every service keeps an idle client connection open: longer than whatever
/// keeps connections to it idle (an AWS load balancer 60 s, the platform's own clients
/// 30 s), so the other side never sends a request on a connection this side has just
/// closed. Behind a load balancer that race is a 502 for whoever's request it was.
pub const KEEP_ALIVE: Duration = Duration::from_secs(75);
