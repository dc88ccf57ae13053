//! The pipeline every public request goes through: parse the route, pick the region(s),
//! forward (or run a flow that fans out and merges), shape the response.

use std::net::IpAddr;
use std::time::Duration;

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::{Bytes, BytesMut};
use contract::token::Claims;
use contract::{ErrorCode, GroupId, RegionId, Regional, UserId};
use futures_util::StreamExt;

use crate::error::RouterError;
use crate::flows::{accounts, fanout, json_object, region_field};
use crate::forward::{Outgoing, forward};
use crate::limits::Action;
use crate::routing::{Route, route};
use crate::startup::AppState;
use crate::status;

/// Request bodies are at most 64 KiB (contract).
const MAX_BODY_BYTES: usize = 64 * 1024;

async fn read_body(payload: web::Payload, within: Duration) -> Result<Bytes, RouterError> {
    tokio::time::timeout(within, read_all(payload))
        .await
        .unwrap_or_else(|_| Err(RouterError::invalid_input("the request body did not arrive in time")))
}

async fn read_all(mut payload: web::Payload) -> Result<Bytes, RouterError> {
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| RouterError::invalid_input("the request body could not be read"))?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(RouterError::new(
                ErrorCode::PayloadTooLarge,
                format!("request bodies are limited to {MAX_BODY_BYTES} bytes"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Where a bill goes: its group's region, or the user's (their personal group).
fn bill_region(state: &AppState, body: &Bytes) -> Result<RegionId, RouterError> {
    let body = json_object(body)?;
    let invalid = |what: &str, value: &str, e: contract::IdError| {
        RouterError::new(ErrorCode::InvalidId, format!("{what} {value:?} is not a valid id: {e}"))
    };
    let region = match (body.get("group_id").and_then(|v| v.as_str()), body.get("user_id").and_then(|v| v.as_str())) {
        (Some(group), _) => group.parse::<GroupId>().map_err(|e| invalid("group_id", group, e))?.region(),
        (None, Some(user)) => user.parse::<UserId>().map_err(|e| invalid("user_id", user, e))?.region(),
        (None, None) => return Err(RouterError::invalid_input("user_id is required")),
    };
    state.known_region(region)
}

/// Labels for the router's metrics: what kind of request, and which region it named.
fn labels(route: &Route) -> (&'static str, String) {
    match route {
        Route::Regions => ("regions", "-".into()),
        Route::SignUp => ("sign_up", "-".into()),
        Route::LogIn => ("log_in", "-".into()),
        Route::FindUser => ("find_user", "-".into()),
        Route::Bill => ("bill", "-".into()),
        Route::Quote => ("quote", "-".into()),
        Route::NewGroup => ("new_group", "-".into()),
        Route::Join(region) => ("join", region.to_string()),
        Route::UserGroups(user) => ("user_groups", user.region().to_string()),
        Route::UserActivity(user) => ("user_activity", user.region().to_string()),
        Route::Region(region) => ("entity", region.to_string()),
    }
}

/// Every route but sign-up, login, the region list and a region's menu needs a token
/// (a region's discounts do).
fn needs_token(route: &Route, method: &actix_web::http::Method, path: &str) -> bool {
    match route {
        Route::SignUp | Route::LogIn | Route::Regions => false,
        Route::Region(_) => {
            !(method == actix_web::http::Method::GET
                && path.starts_with("/v1/regions/")
                && path.trim_end_matches('/').ends_with("/catalogue"))
        }
        _ => true,
    }
}

/// The request's bearer token is signed by its user's home region and has not expired:
/// its claims. Checked here so that a made-up token costs no region a call, and a
/// fan-out none at all; whether it was revoked is for the regions to say.
fn check_token(state: &AppState, req: &HttpRequest) -> Result<Claims, RouterError> {
    let unauthenticated = |message: &str| RouterError::new(ErrorCode::Unauthenticated, message);
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .ok_or_else(|| unauthenticated("this needs a bearer token"))?;
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| unauthenticated("expected Authorization: Bearer <token>"))?;
    state.tokens.verify(token.trim()).map_err(|_| unauthenticated(contract::token::INVALID))
}

pub async fn dispatch(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, RouterError> {
    let started = std::time::Instant::now();
    let address = state.limits.client_address(&req);
    state.limits.check_request(address)?;
    let route = route(req.method(), req.path())?;
    let (kind, region) = labels(&route);
    let result = run(&state, route, &req, payload, address).await;
    let status = match &result {
        Ok(response) => response.status().as_u16(),
        Err(err) => err.code.http_status(),
    };
    metrics::counter!("router_requests_total", "route" => kind, "region" => region.clone(), "status" => status.to_string())
        .increment(1);
    metrics::histogram!("router_request_duration_seconds", "route" => kind, "region" => region)
        .record(started.elapsed().as_secs_f64());
    result
}

async fn run(
    state: &AppState,
    route: Route,
    req: &HttpRequest,
    payload: web::Payload,
    address: Option<IpAddr>,
) -> Result<HttpResponse, RouterError> {
    // Said before anything about the request's regions or body: a caller without a good
    // token learns nothing but that one is needed.
    let account = match needs_token(&route, req.method(), req.path()) {
        true => Some(check_token(state, req)?.sub),
        false => None,
    };
    let body = read_body(payload, state.body_read_timeout).await?;
    // Every body of the public API is a JSON object: anything else (serde would take an
    // array for a struct) is refused here, before a region spends work on it.
    if body.iter().find(|b| !b.is_ascii_whitespace()).is_some_and(|&first| first != b'{') {
        return Err(RouterError::invalid_input("the body must be a JSON object"));
    }
    let mut outgoing = Outgoing::from_request(req, body);
    check_action(state, &route, &outgoing.body, address, account.as_deref())?;
    // The API's login lockout is per (email, client address): the address is the one the
    // router found, never a client's own X-Forwarded-For.
    outgoing.headers.remove("x-forwarded-for");
    outgoing.headers.remove(contract::secret::PROXY_TOKEN_HEADER);
    outgoing.headers.remove(contract::secret::PROXY_CLIENT_HEADER);
    if let Some(value) = address.and_then(|a| HeaderValue::from_str(&a.to_string()).ok()) {
        outgoing.headers.insert(HeaderName::from_static("x-forwarded-for"), value);
    }
    let response = match route {
        Route::Regions => status::list_regions(state),
        Route::SignUp => accounts::sign_up(state, &outgoing).await?,
        Route::LogIn => accounts::log_in(state, &outgoing).await?,
        Route::FindUser => accounts::find_user(state, &outgoing).await?,
        Route::UserGroups(user) => fanout::user_groups(state, user, &outgoing).await?,
        Route::UserActivity(user) => fanout::user_activity(state, user, &outgoing).await?,
        Route::Bill | Route::Quote => {
            forward(state, bill_region(state, &outgoing.body)?, &outgoing).await?.into_response()
        }
        Route::NewGroup => {
            let region = region_field(state, &json_object(&outgoing.body)?, "region")?;
            forward(state, region, &outgoing).await?.into_response()
        }
        Route::Region(region) | Route::Join(region) => {
            forward(state, state.known_region(region)?, &outgoing).await?.into_response()
        }
    };
    Ok(response)
}

/// The limits of a sign-up, login or join: by client address, and for sign-ups by the
/// email the body names; of a look-up by email: by the account the token names.
fn check_action(
    state: &AppState,
    route: &Route,
    body: &Bytes,
    address: Option<IpAddr>,
    account: Option<&str>,
) -> Result<(), RouterError> {
    let email = || -> Option<String> {
        let body: serde_json::Value = serde_json::from_slice(body).ok()?;
        body.get("email")?.as_str().map(str::to_owned)
    };
    let action = match route {
        Route::SignUp => return state.limits.check_action(address, &Action::SignUp { email: email().as_deref() }),
        Route::LogIn => Action::LogIn,
        Route::Join(_) => Action::Join,
        Route::FindUser => match account {
            Some(account) => Action::Lookup { account },
            None => return Ok(()),
        },
        _ => return Ok(()),
    };
    state.limits.check_action(address, &action)
}
