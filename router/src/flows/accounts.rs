//! Sign-up and login, which need the email directory: the regions that keep an email's
//! entry (three, by rendezvous hashing; `contract::directory`) are computed from the
//! email alone, so any router finds them, and any one of them may be down.
//!
//! Sign-up: reserve the email (a lease) in a majority of its directory regions
//! (`quorum`), create the user in the home region, confirm in every directory region. A
//! refused sign-up releases the reservations; a crash or timeout leaves them to lapse,
//! and the next sign-up with that email asks the home region whether the user exists
//! before taking a lapsed one over, so no email is blocked for ever and no user is
//! created twice. The home region also announces every new user to every directory
//! region through its outbox, so a lost confirmation is repaired by itself.
//!
//! Login (and staff finding a user by email) asks every directory region at once and goes
//! to the home region the entries name; a region found without the confirmed entry is
//! sent it (read repair).

use actix_web::HttpResponse;
use actix_web::http::{Method, StatusCode};
use contract::directory::directory_regions;
use contract::dto::User;
use contract::email::Email;
use contract::internal::{Confirmation, DirectoryEntry, NewReservation, Reservation, SERVICE_TOKEN_HEADER, UserRef};
use contract::{ErrorCode, RegionId, UserId};
use serde::Serialize;
use serde::de::DeserializeOwned;

use futures_util::future::join_all;

use super::quorum::{self, Held, Replicas, Vote};
use super::{json_object, region_field};
use crate::error::RouterError;
use crate::forward::{Answer, Outgoing, forward, send};
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
    // Each directory call is small; the fan-out's deadline, not a whole request's, keeps a
    // region that stopped answering from holding up sign-ups and logins it is one of
    // three for.
    send(state, region, &Outgoing { method, path_and_query: path, headers, body }, state.fanout_timeout).await
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
async fn confirm(state: &AppState, directory: RegionId, email: &Email, user_id: &UserId) {
    let body = Confirmation { email: email.as_str().to_owned(), user_id: user_id.clone() };
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

/// The directory regions of one sign-up, over HTTP.
struct DirectoryRegions<'a> {
    state: &'a AppState,
    email: &'a Email,
    home: RegionId,
}

impl Replicas for DirectoryRegions<'_> {
    async fn hold(&self, region: RegionId) -> Vote {
        match hold_email(self.state, region, self.email, self.home).await {
            Ok(reservation_id) => Vote::Granted(reservation_id),
            Err(err) if err.code == ErrorCode::EmailTaken => Vote::Taken,
            Err(err) => {
                tracing::warn!(%region, error = %err.message, "a directory region did not answer a reservation");
                Vote::Unreachable
            }
        }
    }

    async fn release(&self, region: RegionId, reservation_id: String) {
        release(self.state, region, self.email, reservation_id).await;
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
    let directory = directory_regions(&email, &state.upstreams.ids());
    let held = match quorum::hold(&directory, &DirectoryRegions { state, email: &email, home }).await {
        Held::Yes(held) => held,
        Held::Taken => return Err(email_taken()),
        Held::Unavailable => return Err(RouterError::unavailable("too few of the email's directory regions answered")),
    };
    let answer = forward(state, home, outgoing).await?;
    if answer.status == StatusCode::CREATED {
        match parse::<User>(&answer) {
            Ok(user) => {
                join_all(directory.iter().map(|&region| confirm(state, region, &email, &user.id))).await;
            }
            Err(err) => tracing::warn!(error = %err.message, "sign-up answer unreadable; the outbox will confirm"),
        }
    } else if answer.status.is_client_error() {
        join_all(held.into_iter().map(|(region, id)| release(state, region, &email, id))).await;
    }
    Ok(answer.into_response())
}

/// What one directory region knows of an email: `Ok(None)` for nothing.
async fn look_up(state: &AppState, region: RegionId, email: &Email) -> Result<Option<DirectoryEntry>, RouterError> {
    let path = format!("/internal/directory?{}", email_query(email));
    let answer = internal::<()>(state, region, Method::GET, path, None).await?;
    match answer.status {
        StatusCode::OK => Ok(Some(parse::<DirectoryEntry>(&answer)?)),
        StatusCode::NOT_FOUND => Ok(None),
        other => Err(region_busy(region, "directory look-up", other)),
    }
}

pub async fn log_in(state: &AppState, outgoing: &Outgoing) -> Result<HttpResponse, RouterError> {
    let body = json_object(&outgoing.body)?;
    let email = body.get("email").and_then(|e| e.as_str()).and_then(Email::parse);
    Ok(forward(state, region_for(state, email).await?, outgoing).await?.into_response())
}

/// Staff finding a user by email (`GET /v1/users?email=`): routed as a login is. The
/// region answers a customer 403 before it looks, so wherever an unknown email is sent,
/// the answer says nothing of who has an account.
pub async fn find_user(state: &AppState, outgoing: &Outgoing) -> Result<HttpResponse, RouterError> {
    let query = outgoing.path_and_query.split_once('?').map_or("", |(_, query)| query);
    let email =
        serde_urlencoded::from_str::<contract::dto::EmailQuery>(query).ok().and_then(|q| Email::parse(&q.email));
    Ok(forward(state, region_for(state, email).await?, outgoing).await?.into_response())
}

/// Where a request about `email` goes: the home region its directory entries name. An
/// email no region knows, or none at all, goes to a region that answers 401 or 404 the
/// usual way (a directory region that answered checks a login's password against a dummy
/// hash, taking as long as a real check would).
async fn region_for(state: &AppState, email: Option<Email>) -> Result<RegionId, RouterError> {
    let regions = state.upstreams.ids();
    let Some(email) = email else {
        let any = state.upstreams.regions().find(|r| r.is_up()).map(|r| r.id).or(regions.first().copied());
        return any.ok_or_else(|| RouterError::internal("no regions"));
    };
    let directory = directory_regions(&email, &regions);
    let answers: Vec<(RegionId, Result<Option<DirectoryEntry>, RouterError>)> =
        join_all(directory.iter().map(|&region| {
            let email = &email;
            async move { (region, look_up(state, region, email).await) }
        }))
        .await;
    let entries = || answers.iter().filter_map(|(region, answer)| Some((*region, answer.as_ref().ok()?.as_ref()?)));
    let confirmed = entries().find(|(_, entry)| entry.confirmed).map(|(_, entry)| entry.clone());
    match (&confirmed, entries().next()) {
        (Some(entry), _) => {
            repair(state, &email, entry, &answers).await;
            Ok(entry.home_region)
        }
        // A sign-up under way, or one whose confirmations have not arrived yet.
        (None, Some((_, entry))) => Ok(entry.home_region),
        (None, None) => match answers.iter().find(|(_, answer)| answer.is_ok()) {
            Some((region, _)) => Ok(*region),
            None => Err(RouterError::unavailable("none of the email's directory regions answered")),
        },
    }
}

/// Sends the confirmed `entry` to the directory regions that answered without it.
async fn repair(
    state: &AppState,
    email: &Email,
    entry: &DirectoryEntry,
    answers: &[(RegionId, Result<Option<DirectoryEntry>, RouterError>)],
) {
    let Some(user_id) = &entry.user_id else { return };
    let behind = answers.iter().filter_map(|(region, answer)| match answer {
        Ok(None) => Some(*region),
        Ok(Some(other)) if !other.confirmed => Some(*region),
        _ => None,
    });
    join_all(behind.map(|region| {
        metrics::counter!("router_directory_repairs_total").increment(1);
        confirm(state, region, email, user_id)
    }))
    .await;
}
