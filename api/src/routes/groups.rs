use actix_web::{HttpResponse, web};
use contract::dto::{
    Group, GroupPatch, Invitation, InvitationSummary, LedgerEntry, MemberPatch, Membership, NewGroup, NewInvitation,
    NewMember, Page,
};
use contract::{ErrorEnvelope, GroupId, InvitationId, UserId};

use crate::auth::Caller;
use crate::domain::{PageParams, PageRequest};
use crate::error::ApiError;
use crate::routes::extract::{Anywhere, Here};
use crate::services::AppState;
use crate::services::groups::{self, GroupUpdate};
use crate::services::invitations::{self, InvitationRequest};
use crate::services::{ledger, members};

#[utoipa::path(post, path = "/v1/groups", tag = "groups", security(("bearer" = [])), request_body = NewGroup,
    description = "The caller becomes the group's owner. A user owns at most `groups.max_owned` groups (default 100) \
        in one region, their personal group not counted and those they left alone counted: `409 limit_reached` beyond.",
    responses((status = 201, body = Group), (status = 409, description = "limit_reached", body = ErrorEnvelope),
    (status = 421, body = ErrorEnvelope)))]
pub async fn create_group(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<NewGroup>,
) -> Result<HttpResponse, ApiError> {
    let group = groups::create(&state, &caller, &body).await?;
    Ok(HttpResponse::Created().json(group))
}

#[utoipa::path(get, path = "/v1/groups/{gid}", tag = "groups", security(("bearer" = [])),
    description = "Members, staff and admins; to anyone else the group does not exist (404, worded as for a missing group).",
    responses((status = 200, body = Group)))]
pub async fn read_group(
    state: web::Data<AppState>,
    caller: Caller,
    Here(gid): Here<GroupId>,
) -> Result<web::Json<Group>, ApiError> {
    Ok(web::Json(groups::read(&state, &caller, gid).await?))
}

#[utoipa::path(patch, path = "/v1/groups/{gid}", tag = "groups", security(("bearer" = [])), request_body = GroupPatch,
    description = "Owner or admin. `owner_id` hands the group to one of its members (400 if they are not one; a \
        personal group is never given away, 403); the former owner stays a member who may redeem. A member who \
        already owns `groups.max_owned` groups in this region cannot be given another (`409 limit_reached`).",
    responses((status = 200, body = Group), (status = 403, body = ErrorEnvelope),
    (status = 409, description = "limit_reached", body = ErrorEnvelope)))]
pub async fn update_group(
    state: web::Data<AppState>,
    caller: Caller,
    Here(gid): Here<GroupId>,
    body: web::Json<GroupPatch>,
) -> Result<web::Json<Group>, ApiError> {
    let update = GroupUpdate::parse(&state, &body)?;
    Ok(web::Json(groups::update(&state, &caller, gid, update).await?))
}

#[utoipa::path(post, path = "/v1/groups/{gid}/members", tag = "groups", security(("bearer" = [])), request_body = NewMember,
    description = "A customer joins only themselves and only with a valid invitation of the group; every invitation \
        that does not open it (unknown, used, expired, revoked, another group's, addressed to another user, or a \
        group that does not exist) is `403 invitation_invalid`. An admin adds anyone, with or without one.",
    responses((status = 201, body = Membership), (status = 403, body = ErrorEnvelope),
    (status = 409, description = "already_member, group_full", body = ErrorEnvelope),
    (status = 429, description = "rate_limited: after `groups.join_max_failures` (5) joins of this caller whose \
        invitation opened nothing, the caller waits 1 s, doubling with each further one up to \
        `groups.join_lockout_secs` (300); Retry-After says how long. Admins are not counted. Also the router's \
        limit per client address", body = ErrorEnvelope)))]
pub async fn add_member(
    state: web::Data<AppState>,
    caller: Caller,
    Here(gid): Here<GroupId>,
    body: web::Json<NewMember>,
) -> Result<HttpResponse, ApiError> {
    let uid: UserId = state.regions.parse_id("user_id", &body.user_id)?;
    let body = body.into_inner();
    let membership = members::join(&state, &caller, gid, uid, body.invitation).await?;
    Ok(HttpResponse::Created().json(membership))
}

#[utoipa::path(patch, path = "/v1/groups/{gid}/members/{uid}", tag = "groups", security(("bearer" = [])),
    request_body = MemberPatch, description = "Owner or admin: grants or withdraws a member's right to redeem.",
    responses((status = 200, body = Membership), (status = 403, body = ErrorEnvelope)))]
pub async fn change_member(
    state: web::Data<AppState>,
    caller: Caller,
    Here(gid): Here<GroupId>,
    Anywhere(uid): Anywhere<UserId>,
    body: web::Json<MemberPatch>,
) -> Result<web::Json<Membership>, ApiError> {
    Ok(web::Json(members::set_can_redeem(&state, &caller, gid, uid, body.can_redeem).await?))
}

#[utoipa::path(delete, path = "/v1/groups/{gid}/members/{uid}", tag = "groups", security(("bearer" = [])),
    description = "A member leaving, or the owner (or an admin) removing a member. The owner leaves only once alone; \
        a personal group is never left.",
    responses((status = 204, description = "No longer a member"), (status = 403, body = ErrorEnvelope)))]
pub async fn remove_member(
    state: web::Data<AppState>,
    caller: Caller,
    Here(gid): Here<GroupId>,
    Anywhere(uid): Anywhere<UserId>,
) -> Result<HttpResponse, ApiError> {
    members::remove(&state, &caller, gid, uid).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/v1/groups/{gid}/invitations", tag = "groups", security(("bearer" = [])),
    request_body = NewInvitation,
    description = "Owner or admin. The code is shown only in this answer (the server keeps its sha256) and opens \
        the group once. A personal group has no invitations (403). A group keeps at most `groups.max_invitations` \
        (default 100), open or not: `409 limit_reached` beyond, until used, revoked and expired ones are deleted \
        `groups.invitations_kept_days` (30) after they stop opening the group.",
    responses((status = 201, body = Invitation), (status = 403, body = ErrorEnvelope),
    (status = 409, description = "limit_reached", body = ErrorEnvelope)))]
pub async fn create_invitation(
    state: web::Data<AppState>,
    caller: Caller,
    Here(gid): Here<GroupId>,
    body: web::Json<NewInvitation>,
) -> Result<HttpResponse, ApiError> {
    let request = InvitationRequest::parse(&state, &body)?;
    let invitation = invitations::create(&state, &caller, gid, request).await?;
    Ok(HttpResponse::Created().json(invitation))
}

#[utoipa::path(get, path = "/v1/groups/{gid}/invitations", tag = "groups", security(("bearer" = [])),
    description = "Owner or admin: the group's invitations, newest first, revoked and used ones included \
        (addition: paginated like every list, `?limit&cursor`).",
    params(("limit" = Option<i64>, Query, description = "1..=200, default 50"), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = Page<InvitationSummary>), (status = 403, body = ErrorEnvelope)))]
pub async fn list_invitations(
    state: web::Data<AppState>,
    caller: Caller,
    Here(gid): Here<GroupId>,
    params: web::Query<PageParams>,
) -> Result<web::Json<Page<InvitationSummary>>, ApiError> {
    let page = PageRequest::parse(&params)?;
    Ok(web::Json(invitations::list(&state, &caller, gid, page).await?))
}

#[utoipa::path(delete, path = "/v1/groups/{gid}/invitations/{iid}", tag = "groups", security(("bearer" = [])),
    description = "Owner or admin. Revoking again, or revoking a used invitation, changes nothing (204).",
    responses((status = 204, description = "Revoked"), (status = 403, body = ErrorEnvelope)))]
pub async fn revoke_invitation(
    state: web::Data<AppState>,
    caller: Caller,
    Here(gid): Here<GroupId>,
    Here(iid): Here<InvitationId>,
) -> Result<HttpResponse, ApiError> {
    invitations::revoke(&state, &caller, gid, iid).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(get, path = "/v1/groups/{gid}/transactions", tag = "groups", security(("bearer" = [])),
    description = "Members, staff and admins; to anyone else the group does not exist (404).",
    params(("limit" = Option<i64>, Query, description = "1..=200, default 50"), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = Page<LedgerEntry>)))]
pub async fn list_group_transactions(
    state: web::Data<AppState>,
    caller: Caller,
    Here(gid): Here<GroupId>,
    params: web::Query<PageParams>,
) -> Result<web::Json<Page<LedgerEntry>>, ApiError> {
    let page = PageRequest::parse(&params)?;
    Ok(web::Json(ledger::transactions(&state, &caller, gid, page).await?))
}
