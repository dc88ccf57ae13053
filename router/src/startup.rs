//! `Application::build` binds the listener and starts the health checks; the caller
//! learns the port before serving (tests use port 0).

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use contract::token::Verifier;
use contract::{ErrorCode, RegionId};
use metrics_exporter_prometheus::PrometheusHandle;
use observability::{request_id, telemetry};

use crate::config::Config;
use crate::dispatch::dispatch;
use crate::error::RouterError;
use crate::forward::{self, Client};
use crate::limits::{Limits, forget_idle_keys};
use crate::status;
use crate::upstreams::{Upstreams, check_health};

#[derive(Clone)]
pub struct AppState {
    pub config: Config,
    pub upstreams: Arc<Upstreams>,
    /// This worker's HTTP client: pooled connections to every instance, used only from
    /// this worker's thread.
    pub client: Client,
    pub request_timeout: Duration,
    pub fanout_timeout: Duration,
    pub metrics: PrometheusHandle,
    pub limits: Arc<Limits>,
    pub body_read_timeout: Duration,
    /// Every region's public token keys.
    pub tokens: Arc<Verifier>,
}

impl AppState {
    /// Regions named by clients must be part of the deployment.
    pub fn known_region(&self, region: RegionId) -> Result<RegionId, RouterError> {
        match self.upstreams.region(region) {
            Some(_) => Ok(region),
            None => Err(RouterError::new(
                ErrorCode::UnknownRegion,
                format!("region {region} is not part of this deployment"),
            )),
        }
    }
}

fn new_client(config: &Config, tls: &rustls::ClientConfig) -> Client {
    forward::client(Duration::from_millis(config.timeouts.connect_ms), tls.clone())
}

/// The verifier of the configured keys, which must include one of every region.
fn token_verifier(config: &Config, upstreams: &Upstreams) -> anyhow::Result<Verifier> {
    let verifier = Verifier::new(&config.auth.verifying_keys).map_err(|e| anyhow::anyhow!("auth: {e}"))?;
    if let Some(region) = upstreams.ids().into_iter().find(|id| !verifier.regions().any(|r| r == *id)) {
        anyhow::bail!(
            "auth.verifying_keys has no key of region {region} (e.g. {region}k1): every token of its users would be \
             refused"
        );
    }
    Ok(verifier)
}

pub struct Application {
    port: u16,
    server: Server,
    /// `/metrics` (and the health checks) on the admin address only: the public listener
    /// is the internet's, and the router's metrics name regions, instances and rates.
    admin_port: u16,
    admin: Server,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        contract::internal::check_service_token(config.service_token.as_deref()).map_err(anyhow::Error::msg)?;
        let upstreams = Arc::new(Upstreams::new(&config)?);
        let tokens = token_verifier(&config, &upstreams)?;
        let client_tls = config.tls.client()?;
        let server_tls = config.tls.server()?;
        let client = new_client(&config, &client_tls);
        tokio::spawn(check_health(
            upstreams.clone(),
            client.clone(),
            Duration::from_millis(config.health.interval_ms),
            Duration::from_millis(config.health.timeout_ms),
        ));
        let limits = Arc::new(Limits::new(&config.limits)?);
        tokio::spawn(forget_idle_keys(limits.clone()));
        let state = AppState {
            limits,
            upstreams,
            client,
            request_timeout: Duration::from_millis(config.timeouts.request_ms),
            fanout_timeout: Duration::from_millis(config.timeouts.fanout_ms),
            body_read_timeout: Duration::from_millis(config.timeouts.body_read_ms),
            metrics: telemetry::metrics_handle(),
            tokens: Arc::new(tokens),
            config,
        };
        let listener =
            TcpListener::bind(&state.config.listen).with_context(|| format!("listening on {}", state.config.listen))?;
        let port = listener.local_addr()?.port();
        let workers =
            state.config.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
        tracing::info!(port, regions = ?state.upstreams.ids(), https = server_tls.is_some(), "router listening");
        let max_connections = state.config.limits.max_connections_per_worker;
        let admin_state = state.clone();
        let server = HttpServer::new(move || {
            // A client per worker: a pooled connection lives on the runtime (thread) that
            // opened it, so with one shared pool a request on one worker would be written
            // and read by another, two thread wake-ups per forward.
            let client = new_client(&state.config, &client_tls);
            App::new()
                .app_data(web::Data::new(AppState { client, ..state.clone() }))
                .wrap(from_fn(telemetry::record_metrics))
                .wrap(from_fn(request_id::propagate))
                .route("/healthz", web::get().to(status::liveness))
                .route("/readyz", web::get().to(status::readiness))
                .route("/openapi.json", web::get().to(status::openapi))
                .default_service(web::to(dispatch))
        })
        .workers(workers)
        .keep_alive(observability::KEEP_ALIVE)
        // A client gets 5 s to send a request's head; connections per worker are capped.
        .client_request_timeout(Duration::from_secs(5))
        .max_connections(max_connections)
        .shutdown_timeout(10);
        let server = match server_tls {
            Some(tls) => server.listen_rustls_0_23(listener, tls)?,
            None => server.listen(listener)?,
        }
        .run();
        let admin_listener = TcpListener::bind(&admin_state.config.admin_listen)
            .with_context(|| format!("listening on {} (admin)", admin_state.config.admin_listen))?;
        let admin_port = admin_listener.local_addr()?.port();
        tracing::info!(port = admin_port, "router admin address listening (/metrics)");
        let admin = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(admin_state.clone()))
                .route("/healthz", web::get().to(status::liveness))
                .route("/readyz", web::get().to(status::readiness))
                .route("/metrics", web::get().to(status::render_metrics))
        })
        .workers(1)
        .shutdown_timeout(1)
        .listen(admin_listener)?
        .run();
        Ok(Application { port, server, admin_port, admin })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn admin_port(&self) -> u16 {
        self.admin_port
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let admin = self.admin.handle();
        // An actix server serves only while its future is polled.
        actix_web::rt::spawn(self.admin);
        let served = self.server.await;
        admin.stop(true).await;
        served
    }
}
