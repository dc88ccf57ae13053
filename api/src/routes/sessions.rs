use std::net::IpAddr;

use actix_web::{HttpRequest, HttpResponse, web};
use contract::ErrorEnvelope;
use contract::dto::{NewSession, Session};

use crate::error::ApiError;
use crate::services::AppState;
use crate::services::sessions;

#[utoipa::path(post, path = "/v1/sessions", tag = "sessions", request_body = NewSession, responses(
    (status = 201, body = Session),
    (status = 401, description = "Wrong email or password (never says which)", body = ErrorEnvelope),
    (status = 429, description = "Too many failed logins for this email from this client address (backoff; \
        `Retry-After` says how long); or this email has seen more than `auth.email_failures_per_minute` failed \
        logins a minute from anywhere, and the client's network (its /24 or /64) is not one the user logged in \
        from before (`Retry-After: 60`, answered alike for an email nobody has); or too many logins at once",
        body = ErrorEnvelope)))]
pub async fn create_session(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<NewSession>,
) -> Result<HttpResponse, ApiError> {
    let session = sessions::log_in(&state, &body, client_address(&req)).await?;
    Ok(HttpResponse::Created().json(session))
}

/// The client's address: the last `X-Forwarded-For` entry (the router writes the address
/// it saw there, and only the router reaches the API; in AWS through the region's internal
/// load balancer, which passes the header on unchanged), else the connection's peer.
fn client_address(req: &HttpRequest) -> Option<IpAddr> {
    let forwarded = req.headers().get_all("x-forwarded-for").filter_map(|v| v.to_str().ok()).last();
    forwarded
        .and_then(|v| v.rsplit(',').next())
        .and_then(|last| last.trim().parse().ok())
        .or_else(|| req.peer_addr().map(|a| a.ip()))
}
