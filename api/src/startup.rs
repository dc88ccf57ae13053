//! `Application::build` prepares everything (database, migrations, bootstrap accounts)
//! and binds the listener, so the caller learns the port before serving: tests start the
//! server on port 0, `main` only wires.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use contract::{ErrorCode, RegionId};

use crate::auth::{Hashing, Lockout, TokenKeys};
use crate::config::{Config, DbAuth};
use crate::db::Db;
use crate::db::audit_days::Claim;
use crate::domain::Regions;
use crate::error::ApiError;
use crate::routes;
use crate::services::catalogue::CatalogueCache;
use crate::services::discounts::DiscountCache;
use crate::services::group_commit;
use crate::services::peers::Peers;
use crate::services::points::PointsBatch;
use crate::services::pricing::RemoteCatalogues;
use crate::services::redeem_rights::RedeemRights;
use crate::services::revocations::{self, Revocations};
use crate::services::{AppState, accounts, directory, housekeeping, membership_audit, relay};
use observability::{request_id, telemetry};

/// Request bodies are at most 64 KiB (contract).
const MAX_BODY_BYTES: usize = 64 * 1024;

pub struct Application {
    port: u16,
    server: Server,
}

fn json_config() -> web::JsonConfig {
    use actix_web::error::JsonPayloadError;
    web::JsonConfig::default().limit(MAX_BODY_BYTES).error_handler(|err, _req| {
        let api_error = match &err {
            JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("request bodies are limited to {MAX_BODY_BYTES} bytes"),
            ),
            JsonPayloadError::ContentType => ApiError::invalid_input("Content-Type must be application/json"),
            JsonPayloadError::Deserialize(e) => ApiError::invalid_input(format!("invalid JSON body: {e}")),
            _ => ApiError::invalid_input("the request body could not be read"),
        };
        api_error.into()
    })
}

fn query_config() -> web::QueryConfig {
    web::QueryConfig::default()
        .error_handler(|err, _req| ApiError::invalid_input(format!("invalid query string: {err}")).into())
}

/// The password source for IAM database auth, or `None` when the URL is enough.
async fn database_password(config: &Config) -> anyhow::Result<Option<crate::db::connection::PasswordSource>> {
    match config.db.auth {
        DbAuth::Password => Ok(None),
        #[cfg(feature = "iam")]
        DbAuth::Iam => {
            let (host, port, user) =
                crate::db::connection::token_target(&config.database_url).map_err(anyhow::Error::msg)?;
            let auth = rds::iam_auth::IamAuth::from_environment(&host, port, &user).await?;
            let tokens = rds::iam_auth::TokenCache::start(auth, rds::iam_auth::REFRESH_EVERY).await?;
            tracing::info!(%host, %user, "database access with IAM auth tokens");
            Ok(Some(std::sync::Arc::new(move || tokens.current())))
        }
        #[cfg(not(feature = "iam"))]
        DbAuth::Iam => anyhow::bail!("DB_AUTH=iam needs a loyalty-api built with `--features iam`"),
    }
}

/// `loyalty-api --migrate`: applies pending migrations with the configured database
/// (connected as the migration role) and returns their versions.
pub async fn migrate_only(config: &Config) -> anyhow::Result<Vec<String>> {
    let db = Db::new(&config.database_url, &config.db, database_password(config).await?);
    let deadline = Instant::now() + Duration::from_secs(config.db.startup_wait_secs);
    tokio::task::spawn_blocking(move || db.migrate(deadline)).await?
}

/// What `loyalty-api --audit` checks, and how it runs.
#[derive(Debug, Default)]
pub struct AuditOptions {
    /// The membership index against every other configured region's groups too.
    pub across_regions: bool,
    /// Set right the index rows found off.
    pub repair: bool,
    /// As the daily timer runs it, on the instance so named: only if it wins today's
    /// claim (`db::audit_days`), which then records what the audit found.
    pub daily: Option<String>,
}

/// How a run of the audit went: it read the books, or another instance has today's.
#[derive(Debug)]
pub enum AuditRun {
    Read(crate::db::audit::Audit),
    Held { by: String, finished: bool },
}

/// `loyalty-api --audit`: every group's books in the configured database, 200 groups a
/// statement (`db::audit`); `across_regions`, then the membership index against every
/// other configured region's groups, over `/internal` (`services::membership_audit`),
/// setting right with `repair` the index rows it finds off.
pub async fn audit_only(config: &Config, options: &AuditOptions) -> anyhow::Result<AuditRun> {
    let db = Db::new(&config.database_url, &config.db, database_password(config).await?);
    let deadline = Instant::now() + Duration::from_secs(config.db.startup_wait_secs);
    let day = match options.daily.clone() {
        None => None,
        Some(instance) => {
            let claiming = db.clone();
            match tokio::task::spawn_blocking(move || claiming.claim_audit_day(deadline, &instance)).await?? {
                Claim::Won(day) => Some(day),
                Claim::Held { by, finished } => return Ok(AuditRun::Held { by, finished }),
            }
        }
    };
    let reading = db.clone();
    let mut audit = tokio::task::spawn_blocking(move || reading.audit(deadline, 200)).await??;
    if options.across_regions {
        let peers = Peers::new(config)?;
        let others: Vec<RegionId> = config.regions.iter().map(|r| r.id).collect();
        membership_audit::check(&db, &peers, config.region, &others, options.repair, &mut audit).await;
    }
    if let (Some(day), Some(instance)) = (day, options.daily.clone()) {
        // A region that could not be asked leaves the day open: the next try (an hour
        // on) checks the index against it again, and reads the books again.
        let checked = audit.index.regions_unreached.is_empty().then_some(audit.findings.len());
        let deadline = Instant::now() + Duration::from_secs(config.db.startup_wait_secs);
        tokio::task::spawn_blocking(move || db.end_audit_day(deadline, day, &instance, checked)).await??;
    }
    Ok(AuditRun::Read(audit))
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        contract::internal::check_service_token(config.service_token.as_deref()).map_err(anyhow::Error::msg)?;
        let tokens = TokenKeys::from_config(&config.auth, config.region)?;
        let db = Db::new(&config.database_url, &config.db, database_password(&config).await?);
        // One budget for everything start-up needs from the database.
        let ready_by = Instant::now() + Duration::from_secs(config.db.startup_wait_secs);
        let migrating = db.clone();
        let migrate = config.db.migrate;
        tokio::task::spawn_blocking(move || {
            if migrate { migrating.migrate(ready_by).map(drop) } else { migrating.check_schema(ready_by) }
        })
        .await??;

        let state = web::Data::new(AppState {
            regions: Regions::new(config.region, config.regions.iter().map(|r| r.id).collect()),
            db: db.clone(),
            tokens,
            login_lockout: Lockout::logins(
                config.auth.login_max_failures,
                Duration::from_secs(config.auth.login_lockout_secs),
            ),
            join_lockout: Lockout::joins(
                config.groups.join_max_failures,
                Duration::from_secs(config.groups.join_lockout_secs),
            ),
            hashing: Hashing::new(config.auth.hashing_concurrency, Duration::from_millis(config.auth.hashing_wait_ms)),
            catalogue: CatalogueCache::new(Duration::from_secs(config.catalogue.ttl_secs)),
            discounts: DiscountCache::new(Duration::from_secs(config.catalogue.ttl_secs)),
            batches: PointsBatch::queue(
                db.clone(),
                config.region,
                routes::answers::render,
                group_commit::Limits {
                    runners: config.points.batch_runners,
                    max_batch: config.points.max_batch,
                    max_waiting_per_lane: config.points.max_waiting_per_group,
                    deadline: db.deadline(),
                },
            ),
            metrics: telemetry::metrics_handle(),
            peers: Peers::new(&config)?,
            remote_catalogues: RemoteCatalogues::builder()
                .max_capacity(64)
                .time_to_live(Duration::from_secs(config.catalogue.ttl_secs))
                .build(),
            redeem_rights: RedeemRights::default(),
            revocations: Revocations::default(),
            config,
        });
        accounts::bootstrap(&state, ready_by).await?;
        // A restarted instance knows the denylists before it serves.
        revocations::sync(&state).await;
        tokio::spawn(revocations::run(state.clone()));
        tokio::spawn(housekeeping::run(state.clone()));
        tokio::spawn(relay::run(state.clone()));
        let replicating = state.clone();
        tokio::spawn(async move {
            match directory::replicate_existing(&replicating).await {
                Ok(0) => {}
                Ok(users) => tracing::info!(users, "directory entries of existing users sent to every replica"),
                Err(err) => {
                    tracing::warn!(error = %err.message, "replicating existing directory entries failed; the next start goes on")
                }
            }
        });

        let server_tls = state.config.tls.server()?;
        let listener =
            TcpListener::bind(&state.config.listen).with_context(|| format!("listening on {}", state.config.listen))?;
        let port = listener.local_addr()?.port();
        let workers =
            state.config.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
        tracing::info!(region = %state.regions.local, port, https = server_tls.is_some(), "regional API listening");
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(json_config())
                .app_data(query_config())
                .wrap(from_fn(telemetry::record_metrics))
                .wrap(from_fn(request_id::propagate))
                .configure(routes::configure)
                .default_service(web::to(routes::no_route))
        })
        .workers(workers)
        .keep_alive(observability::KEEP_ALIVE)
        .shutdown_timeout(10);
        let server = match server_tls {
            Some(tls) => server.listen_rustls_0_23(listener, tls)?,
            None => server.listen(listener)?,
        }
        .run();
        Ok(Application { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
