use actix_web::{HttpResponse, web};
use serde_json::json;

use std::time::Duration;

use crate::error::ApiError;
use crate::services::AppState;

#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "The process is alive")))]
pub async fn liveness() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Half the router's check interval: a check never relies on an answer from before the
/// previous check.
const READY_IF_ANSWERED_WITHIN: Duration = Duration::from_millis(250);

#[utoipa::path(get, path = "/readyz", tag = "health", responses(
    (status = 200, description = "The region's database answers"),
    (status = 503, description = "It does not", body = contract::ErrorEnvelope)))]
pub async fn readiness(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    // Under load, queries succeed all the time, and a ping would queue behind them for
    // the database gate: the router's check would time out on a region that serves.
    if !state.db.succeeded_within(READY_IF_ANSWERED_WITHIN) {
        state.db.run(|conn| Ok(crate::db::ping(conn)?)).await?;
    }
    Ok(HttpResponse::Ok().json(json!({"status": "ready", "region": state.regions.local})))
}

#[utoipa::path(get, path = "/metrics", tag = "health", responses((status = 200, description = "Prometheus text format")))]
pub async fn render_metrics(state: web::Data<AppState>) -> HttpResponse {
    let (connections, idle) = state.db.pool_state();
    metrics::gauge!("db_pool_connections").set(f64::from(connections));
    metrics::gauge!("db_pool_idle_connections").set(f64::from(idle));
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(state.metrics.render())
}
