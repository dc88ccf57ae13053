//! What the router answers itself: the regions and their state, its own health, and the
//! OpenAPI document of the platform as seen through it.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use contract::dto::{Region, RegionStatus, Regions};
use serde_json::json;

use crate::error::RouterError;
use crate::forward::{Outgoing, forward};
use crate::startup::AppState;

pub fn list_regions(state: &AppState) -> HttpResponse {
    let items = state
        .upstreams
        .regions()
        .map(|r| Region {
            id: r.id,
            name: r.name.clone(),
            status: if r.is_up() { RegionStatus::Up } else { RegionStatus::Down },
        })
        .collect();
    HttpResponse::Ok().json(Regions { items })
}

pub async fn liveness() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Ready while at least one region can be reached: a router that can serve some
/// regions should stay in the load balancer (the others answer 503 on their own).
pub async fn readiness(state: web::Data<AppState>) -> HttpResponse {
    let regions: serde_json::Map<String, serde_json::Value> =
        state.upstreams.regions().map(|r| (r.id.to_string(), json!(if r.is_up() { "up" } else { "down" }))).collect();
    let any_up = state.upstreams.regions().any(|r| r.is_up());
    let status = if any_up { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    HttpResponse::build(status)
        .json(json!({"status": if any_up { "ready" } else { "no region reachable" }, "regions": regions}))
}

pub async fn render_metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(state.metrics.render())
}

/// The regional document (one region serves it), retitled, with what the router adds.
pub async fn openapi(state: web::Data<AppState>) -> Result<HttpResponse, RouterError> {
    let region = state.upstreams.regions().find(|r| r.is_up()).map(|r| r.id);
    let region =
        region.ok_or_else(|| RouterError::new(contract::ErrorCode::RegionUnavailable, "no region reachable"))?;
    let request = Outgoing {
        method: actix_web::http::Method::GET,
        path_and_query: "/openapi.json".into(),
        headers: Default::default(),
        body: Default::default(),
    };
    let answer = forward(&state, region, &request).await?;
    let mut doc: serde_json::Value = serde_json::from_slice(&answer.body).map_err(RouterError::internal)?;
    doc["info"]["title"] = json!("Loyalty platform (through the router)");
    // The router serves its metrics on its admin address only, never here.
    if let Some(paths) = doc["paths"].as_object_mut() {
        paths.remove("/metrics");
    }
    doc["info"]["description"] = json!(
        "The public contract (shared/CONTRACT.md) served by the router, which routes by the region in each id \
         (or by home_region, group_id/user_id, region in bodies, and by the email directory for sign-up and login). \
         Additions: GET /v1/users/{uid}/groups and /activity merge every region of the user's groups; activity pages \
         also list `unavailable` regions that did not answer (their entries come on later pages once they do). \
         /internal/* is never forwarded. Error codes added: `misdirected` (421, only when calling a region directly), \
         `item_unavailable` (409), `method_not_allowed` (405, with `Allow`). Request bodies are JSON objects."
    );
    Ok(HttpResponse::Ok().json(doc))
}
