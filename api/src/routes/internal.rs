//! Region-to-region endpoints (service token only; the router never forwards these).

use actix_web::{HttpResponse, web};
use contract::dto::{Discounts, EmailQuery};
use contract::internal::{
    Confirmation, EventBatch, MemberGroups, MemberQuery, MembershipKeys, MembershipStates, MembershipsQuery,
    NewReservation, Reservation, UserRef,
};
use serde::Deserialize;

use crate::db::users;
use crate::domain::parse_email;
use crate::error::ApiError;
use crate::routes::extract::ServiceCaller;
use crate::services::AppState;
use crate::services::{catalogue, directory, discounts, erasure, events, membership_audit, revocations};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Release {
    email: String,
    reservation_id: String,
}

#[derive(Deserialize)]
pub struct RevocationsQuery {
    #[serde(default)]
    after: i64,
}

/// This region's token denylist after a sequence number (services::revocations).
pub async fn revocations(
    state: web::Data<AppState>,
    _: ServiceCaller,
    query: web::Query<RevocationsQuery>,
) -> Result<web::Json<contract::internal::Revocations>, ApiError> {
    Ok(web::Json(revocations::page(&state.db, query.after).await?))
}

pub async fn receive_events(
    state: web::Data<AppState>,
    _: ServiceCaller,
    batch: web::Json<EventBatch>,
) -> Result<HttpResponse, ApiError> {
    events::apply(&state, batch.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn reserve_email(
    state: web::Data<AppState>,
    _: ServiceCaller,
    body: web::Json<NewReservation>,
) -> Result<web::Json<Reservation>, ApiError> {
    Ok(web::Json(directory::reserve(&state, body.into_inner()).await?))
}

pub async fn confirm_email(
    state: web::Data<AppState>,
    _: ServiceCaller,
    body: web::Json<Confirmation>,
) -> Result<HttpResponse, ApiError> {
    directory::confirm(&state, body.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn release_email(
    state: web::Data<AppState>,
    _: ServiceCaller,
    body: web::Json<Release>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    directory::release(&state, &body.email, body.reservation_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn look_up_email(
    state: web::Data<AppState>,
    _: ServiceCaller,
    query: web::Query<EmailQuery>,
) -> Result<HttpResponse, ApiError> {
    match directory::look_up(&state, &query.email).await? {
        Some(entry) => Ok(HttpResponse::Ok().json(entry)),
        None => Err(ApiError::not_found("no directory entry for this email")),
    }
}

/// Whether this (home) region has a user with the email: decides stale reservations.
pub async fn find_user_by_email(
    state: web::Data<AppState>,
    _: ServiceCaller,
    query: web::Query<EmailQuery>,
) -> Result<web::Json<UserRef>, ApiError> {
    let email = parse_email(&query.email)?;
    let row = state.db.run(move |conn| Ok(users::find_by_email(conn, email.as_str())?)).await?;
    let row = row.ok_or_else(|| ApiError::not_found("no user with this email here"))?;
    Ok(web::Json(UserRef { user_id: row.id }))
}

/// The whole catalogue, for pricing bills in other regions.
pub async fn full_catalogue(state: web::Data<AppState>, _: ServiceCaller) -> Result<HttpResponse, ApiError> {
    let cached = catalogue::list(&state, state.regions.local).await?;
    Ok(HttpResponse::Ok().content_type("application/json").body(cached.body.clone()))
}

/// Every discount, for pricing bills of this region's menu in other regions.
pub async fn all_discounts(state: web::Data<AppState>, _: ServiceCaller) -> Result<web::Json<Discounts>, ApiError> {
    Ok(web::Json(Discounts { items: discounts::list(&state, state.regions.local).await? }))
}

/// This region's memberships of another region's users, a page: what that region's
/// audit checks its index against (services::membership_audit).
pub async fn memberships(
    state: web::Data<AppState>,
    _: ServiceCaller,
    query: web::Query<MembershipsQuery>,
) -> Result<web::Json<MembershipStates>, ApiError> {
    Ok(web::Json(membership_audit::memberships_of(&state.db, query.into_inner()).await?))
}

/// The groups of this region a user is an active member of: what their home region asks
/// before closing their account.
pub async fn member_groups(
    state: web::Data<AppState>,
    _: ServiceCaller,
    query: web::Query<MemberQuery>,
) -> Result<web::Json<MemberGroups>, ApiError> {
    Ok(web::Json(MemberGroups { items: erasure::groups_here(&state, query.into_inner().user_id).await? }))
}

/// Those of the named memberships that exist here, as they stand now.
pub async fn memberships_at(
    state: web::Data<AppState>,
    _: ServiceCaller,
    keys: web::Json<MembershipKeys>,
) -> Result<web::Json<MembershipStates>, ApiError> {
    Ok(web::Json(membership_audit::memberships_at(&state.db, keys.into_inner()).await?))
}
