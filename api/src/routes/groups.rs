use actix_web::{HttpResponse, web};
use contract::dto::{Group, LedgerEntry, Membership, NewGroup, NewMember, Page};
use contract::{ErrorEnvelope, GroupId, UserId};

use crate::auth::Caller;
use crate::domain::{PageParams, PageRequest};
use crate::error::ApiError;
use crate::services::groups;
use crate::startup::AppState;

#[utoipa::path(post, path = "/v1/groups", tag = "groups", security(("bearer" = [])), request_body = NewGroup, responses(
    (status = 201, body = Group), (status = 400, body = ErrorEnvelope), (status = 421, body = ErrorEnvelope)))]
pub async fn create_group(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<NewGroup>,
) -> Result<HttpResponse, ApiError> {
    let group = groups::create(&state, &caller, &body).await?;
    Ok(HttpResponse::Created().json(group))
}

#[utoipa::path(get, path = "/v1/groups/{gid}", tag = "groups", security(("bearer" = [])), responses(
    (status = 200, body = Group), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn read_group(
    state: web::Data<AppState>,
    caller: Caller,
    gid: web::Path<String>,
) -> Result<web::Json<Group>, ApiError> {
    let gid: GroupId = state.regions.parse_local_id("group", &gid)?;
    Ok(web::Json(groups::read(&state, &caller, gid).await?))
}

#[utoipa::path(post, path = "/v1/groups/{gid}/members", tag = "groups", security(("bearer" = [])), request_body = NewMember, responses(
    (status = 201, body = Membership), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
    (status = 409, description = "already_member", body = ErrorEnvelope)))]
pub async fn add_member(
    state: web::Data<AppState>,
    caller: Caller,
    gid: web::Path<String>,
    body: web::Json<NewMember>,
) -> Result<HttpResponse, ApiError> {
    let gid: GroupId = state.regions.parse_local_id("group", &gid)?;
    let uid: UserId = state.regions.parse_id("user_id", &body.user_id)?;
    let membership = groups::join(&state, &caller, gid, uid).await?;
    Ok(HttpResponse::Created().json(membership))
}

#[utoipa::path(delete, path = "/v1/groups/{gid}/members/{uid}", tag = "groups", security(("bearer" = [])), responses(
    (status = 204, description = "Left the group"), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn remove_member(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (gid, uid) = path.into_inner();
    let gid: GroupId = state.regions.parse_local_id("group", &gid)?;
    let uid: UserId = state.regions.parse_id("user", &uid)?;
    groups::leave(&state, &caller, gid, uid).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(get, path = "/v1/groups/{gid}/transactions", tag = "groups", security(("bearer" = [])),
    params(("limit" = Option<i64>, Query, description = "1..=200, default 50"), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = Page<LedgerEntry>), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn list_group_transactions(
    state: web::Data<AppState>,
    caller: Caller,
    gid: web::Path<String>,
    params: web::Query<PageParams>,
) -> Result<web::Json<Page<LedgerEntry>>, ApiError> {
    let gid: GroupId = state.regions.parse_local_id("group", &gid)?;
    let page = PageRequest::parse(&params)?;
    Ok(web::Json(groups::transactions(&state, &caller, gid, page).await?))
}
