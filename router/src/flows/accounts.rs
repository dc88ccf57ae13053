//! Sign-up and login, which need the email directory: the region that owns an email's
//! entry is chosen by rendezvous hashing, so any router finds it from the email alone.
//!
//! Sign-up: reserve the email (a lease) in its directory region, create the user in the
//! home region, confirm. A refused sign-up releases the reservation; a crash or timeout
//! leaves it to lapse, and the next sign-up with that email asks the home region whether
//! the user exists before taking it over, so no email is blocked for ever and no user is
//! created twice. The home region also announces every new user to the directory
//! through its outbox, so a lost confirmation is repaired by itself.

use actix_web::HttpResponse;
use actix_web::http::{Method, StatusCode};
use contract::directory::directory_region;
use contract::dto::User;
use contract::email::Email;
use contract::internal::{Confirmation, DirectoryEntry, NewReservation, Reservation, SERVICE_TOKEN_HEADER, UserRef};
use contract::{ErrorCode, RegionId};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{json_object, region_field};
use crate::error::RouterError;
use crate::forward::{Answer, Outgoing, forward};
use crate::startup::AppState;

fn email_taken() -> RouterError {
    RouterError::new(ErrorCode::EmailTaken, "an account with this email already exists")
}

/// A call to a region's `/internal` API with the service token.
async fn internal<B: Serialize>(
    state: &AppState,
    region: RegionId,
    method: Method,
    path: String,
    body: Option<&B>,
) -> Result<Answer, RouterError> {
    let token = state
        .config
        .service_token
        .as_deref()
        .ok_or_else(|| RouterError::internal("service_token is not configured"))?;
    let mut headers = actix_web::http::header::HeaderMap::new();
    let value = |v: &str| actix_web::http::header::HeaderValue::from_str(v).map_err(RouterError::internal);
    let name = actix_web::http::header::HeaderName::from_bytes(SERVICE_TOKEN_HEADER.as_bytes())
        .map_err(RouterError::internal)?;
    headers.insert(name, value(token)?);
    headers.insert(actix_web::http::header::CONTENT_TYPE, value("application/json")?);
    let body = match body {
        Some(b) => serde_json::to_vec(b).map_err(RouterError::internal)?.into(),
        None => bytes::Bytes::new(),
    };
    forward(state, region, &Outgoing { method, path_and_query: path, headers, body }).await
}

/// A region that answered an `/internal` call with an error of its own (busy, its
/// database down, a timeout): the client's request could not be served there now, which
/// is a 503 with `Retry-After`, not a fault of the router.
fn region_busy(region: RegionId, what: &str, status: StatusCode) -> RouterError {
    tracing::warn!(%region, %status, what, "a region could not answer an internal call");
    RouterError::region_unavailable(region)
}

fn parse<T: DeserializeOwned>(answer: &Answer) -> Result<T, RouterError> {
    serde_json::from_slice(&answer.body).map_err(RouterError::internal)
}

fn email_query(email: &Email) -> String {
    serde_urlencoded::to_string([("email", email.as_str())]).unwrap_or_default()
}

async fn reserve(
    state: &AppState,
    directory: RegionId,
    email: &Email,
    home_region: RegionId,
    replaces: Option<String>,
) -> Result<Reservation, RouterError> {
    let body = NewReservation { email: email.as_str().to_owned(), home_region, replaces };
    let answer =
        internal(state, directory, Method::POST, "/internal/directory/reservations".into(), Some(&body)).await?;
    if answer.status != StatusCode::OK {
        return Err(region_busy(directory, "reservation", answer.status));
    }
    parse(&answer)
}

/// Best effort: the home region's outbox confirms too.
async fn confirm(state: &AppState, directory: RegionId, email: &Email, user: &User) {
    let body = Confirmation { email: email.as_str().to_owned(), user_id: user.id.clone() };
    if let Err(err) =
        internal(state, directory, Method::POST, "/internal/directory/confirmations".into(), Some(&body)).await
    {
        tracing::warn!(error = %err.message, "directory confirmation failed; the outbox will repeat it");
    }
}

/// Best effort: an unreleased reservation lapses with its lease.
async fn release(state: &AppState, directory: RegionId, email: &Email, reservation_id: String) {
    let body = serde_json::json!({"email": email.as_str(), "reservation_id": reservation_id});
    if let Err(err) = internal(state, directory, Method::POST, "/internal/directory/releases".into(), Some(&body)).await
    {
        tracing::warn!(error = %err.message, "releasing a reservation failed; it will lapse");
    }
}

/// Holds the email for this sign-up, taking over a lapsed reservation only when its
/// home region confirms that no such user was created.
async fn hold_email(
    state: &AppState,
    directory: RegionId,
    email: &Email,
    home: RegionId,
) -> Result<String, RouterError> {
    match reserve(state, directory, email, home, None).await? {
        Reservation::Reserved { reservation_id, .. } => Ok(reservation_id),
        Reservation::Taken => Err(email_taken()),
        Reservation::Stale { reservation_id, home_region } => {
            let path = format!("/internal/users?{}", email_query(email));
            let answer = internal::<()>(state, home_region, Method::GET, path, None).await?;
            match answer.status {
                StatusCode::OK => {
                    let user: UserRef = parse(&answer)?;
                    let body = Confirmation { email: email.as_str().to_owned(), user_id: user.user_id };
                    let _ = internal(
                        state,
                        directory,
                        Method::POST,
                        "/internal/directory/confirmations".into(),
                        Some(&body),
                    )
                    .await;
                    Err(email_taken())
                }
                StatusCode::NOT_FOUND => match reserve(state, directory, email, home, Some(reservation_id)).await? {
                    Reservation::Reserved { reservation_id, .. } => Ok(reservation_id),
                    _ => Err(email_taken()),
                },
                other => Err(region_busy(home_region, "user look-up", other)),
            }
        }
    }
}

pub async fn sign_up(state: &AppState, outgoing: &Outgoing) -> Result<HttpResponse, RouterError> {
    let body = json_object(&outgoing.body)?;
    let home = region_field(state, &body, "home_region")?;
    let email = body.get("email").and_then(|e| e.as_str()).and_then(Email::parse);
    let Some(email) = email else {
        // Let the home region explain what is wrong with the input.
        return Ok(forward(state, home, outgoing).await?.into_response());
    };
    let directory =
        directory_region(&email, &state.upstreams.ids()).ok_or_else(|| RouterError::internal("no regions"))?;
    let reservation_id = hold_email(state, directory, &email, home).await?;
    let answer = forward(state, home, outgoing).await?;
    if answer.status == StatusCode::CREATED {
        match parse::<User>(&answer) {
            Ok(user) => confirm(state, directory, &email, &user).await,
            Err(err) => tracing::warn!(error = %err.message, "sign-up answer unreadable; the outbox will confirm"),
        }
    } else if answer.status.is_client_error() {
        release(state, directory, &email, reservation_id).await;
    }
    Ok(answer.into_response())
}

pub async fn log_in(state: &AppState, outgoing: &Outgoing) -> Result<HttpResponse, RouterError> {
    let body = json_object(&outgoing.body)?;
    let email = body.get("email").and_then(|e| e.as_str()).and_then(Email::parse);
    let regions = state.upstreams.ids();
    let Some(email) = email else {
        // No such account can exist; any region answers 401 the usual way.
        let any = state.upstreams.regions().find(|r| r.is_up()).map(|r| r.id).or(regions.first().copied());
        let any = any.ok_or_else(|| RouterError::internal("no regions"))?;
        return Ok(forward(state, any, outgoing).await?.into_response());
    };
    let directory = directory_region(&email, &regions).ok_or_else(|| RouterError::internal("no regions"))?;
    let path = format!("/internal/directory?{}", email_query(&email));
    let answer = internal::<()>(state, directory, Method::GET, path, None).await?;
    let home = match answer.status {
        StatusCode::OK => parse::<DirectoryEntry>(&answer)?.home_region,
        // Unknown email: the directory region checks the password against a dummy hash
        // and says 401, taking as long as a real check would.
        StatusCode::NOT_FOUND => directory,
        other => return Err(region_busy(directory, "directory look-up", other)),
    };
    Ok(forward(state, home, outgoing).await?.into_response())
}
