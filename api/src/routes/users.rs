use actix_web::{HttpResponse, web};
use contract::dto::{
    AccountClosure, EmailQuery, LedgerEntry, NewUser, Page, PasswordChange, User, UserGroups, UserPatch,
};
use contract::{ErrorEnvelope, UserId};

use crate::auth::Caller;
use crate::domain::{PageParams, PageRequest};
use crate::error::ApiError;
use crate::routes::extract::{Anywhere, Here, MaybeCaller};
use crate::services::AppState;
use crate::services::{accounts, erasure, groups, ledger, passwords, revocations};

#[utoipa::path(post, path = "/v1/users", tag = "users", request_body = NewUser, responses(
    (status = 201, body = User),
    (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
    (status = 404, description = "unknown_region", body = ErrorEnvelope), (status = 409, description = "email_taken", body = ErrorEnvelope),
    (status = 421, description = "misdirected: home_region is another region", body = ErrorEnvelope)))]
pub async fn create_user(
    state: web::Data<AppState>,
    caller: MaybeCaller,
    body: web::Json<NewUser>,
) -> Result<HttpResponse, ApiError> {
    let account = accounts::Account::parse(&state, &body)?;
    let user = accounts::sign_up(&state, caller.0.as_ref(), account).await?;
    Ok(HttpResponse::Created().json(user))
}

/// Finding a customer by email (v1.2 addition): what staff at a till ask.
#[utoipa::path(get, path = "/v1/users", tag = "users", security(("bearer" = [])),
    params(("email" = String, Query, description = "The user's email, in any case")),
    description = "Staff and admins find a user by email (the router asks the email's home region). Customers \
        are refused whatever the email, so the answer tells them nothing of who has an account.",
    responses((status = 200, body = User),
        (status = 400, description = "invalid_input: not an email", body = ErrorEnvelope),
        (status = 401, body = ErrorEnvelope),
        (status = 403, description = "forbidden: customers may not look users up", body = ErrorEnvelope),
        (status = 404, description = "not_found: no user has this email", body = ErrorEnvelope)))]
pub async fn find_user(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<EmailQuery>,
) -> Result<web::Json<User>, ApiError> {
    if !caller.is_staff_or_admin() {
        return Err(ApiError::forbidden("only staff and admins look users up by email"));
    }
    Ok(web::Json(accounts::find_by_email(&state, &query.email).await?))
}

#[utoipa::path(get, path = "/v1/users/{uid}", tag = "users", security(("bearer" = [])), responses(
    (status = 200, body = User), (status = 403, body = ErrorEnvelope)))]
pub async fn read_user(
    state: web::Data<AppState>,
    caller: Caller,
    Here(uid): Here<UserId>,
) -> Result<web::Json<User>, ApiError> {
    accounts::ensure_may_read(&caller, &uid)?;
    Ok(web::Json(accounts::load(&state, uid).await?))
}

#[utoipa::path(patch, path = "/v1/users/{uid}", tag = "users", security(("bearer" = [])), request_body = UserPatch, responses(
    (status = 200, body = User), (status = 403, body = ErrorEnvelope)))]
pub async fn update_user(
    state: web::Data<AppState>,
    caller: Caller,
    Here(uid): Here<UserId>,
    body: web::Json<UserPatch>,
) -> Result<web::Json<User>, ApiError> {
    Ok(web::Json(accounts::update_profile(&state, &caller, uid, &body).await?))
}

/// Password change (v1.2 addition).
#[utoipa::path(put, path = "/v1/users/{uid}/password", tag = "users", security(("bearer" = [])),
    request_body = PasswordChange,
    description = "Changes the user's password and revokes every token the user holds, the one presented too: \
        afterwards only the new password opens a session. A user changing their own gives `current_password`; an \
        admin may set another user's password without it. Not retried by clients: a change that went through \
        has revoked the token a retry would carry.",
    responses((status = 204, description = "Changed; every token of the user revoked"),
        (status = 400, description = "invalid_input: new_password too short or too long", body = ErrorEnvelope),
        (status = 401, body = ErrorEnvelope),
        (status = 403, description = "forbidden: the current password is wrong or missing, or staff changing another's",
            body = ErrorEnvelope),
        (status = 429, description = "rate_limited: after `auth.login_max_failures` (5) wrong current passwords the \
            user waits 1 s, doubling with each further one up to `auth.login_lockout_secs` (300); Retry-After says \
            how long", body = ErrorEnvelope)))]
pub async fn change_password(
    state: web::Data<AppState>,
    caller: Caller,
    Here(uid): Here<UserId>,
    body: web::Json<PasswordChange>,
) -> Result<HttpResponse, ApiError> {
    passwords::change(&state, &caller, uid, &body).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Closing an account (an addition): the right to erasure.
#[utoipa::path(delete, path = "/v1/users/{uid}", tag = "users", security(("bearer" = [])), request_body = AccountClosure,
    description = "Closes the account and erases what identifies its user: email, name, phone, location, age and \
        password, the networks they logged in from, and their email's directory entries, so the email is free \
        for a new sign-up. Every token of the user is revoked in the same transaction. Ledger entries, \
        memberships and the personal group keep only the id; the personal group's points are given up only \
        when `forfeit_points` names their number, and are then written off by a `forfeit` ledger entry. A customer closes their own account with `current_password` (wrong ones are counted like a \
        password change's); an admin closes a customer's without it. Refused while the user is in any group \
        but their personal one (every region is asked: `503` while one does not answer, and nothing is \
        erased), and for staff and admin accounts (made customers' first). Afterwards the user \
        is `404` everywhere. Not retried by clients: a closure that went through has revoked the token a retry \
        would carry.",
    responses((status = 204, description = "Closed; personal data erased, every token revoked"),
        (status = 401, body = ErrorEnvelope),
        (status = 403, description = "forbidden: the current password is wrong or missing, staff closing \
            another's, or a staff or admin account", body = ErrorEnvelope),
        (status = 409, description = "still_a_member: in a group other than their personal one; points_remaining: \
            the personal group holds points and `forfeit_points` does not name their number", body = ErrorEnvelope),
        (status = 429, description = "rate_limited: too many wrong current passwords (as for a password change)",
            body = ErrorEnvelope)))]
pub async fn close_account(
    state: web::Data<AppState>,
    caller: Caller,
    Here(uid): Here<UserId>,
    body: web::Json<AccountClosure>,
) -> Result<HttpResponse, ApiError> {
    erasure::close(&state, &caller, uid, &body).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(serde::Deserialize)]
pub struct LogoutQuery {
    #[serde(default)]
    all: bool,
}

/// Logout (v1.2 addition): revokes the token presented, or with `?all=true` every token
/// of the user (an admin's call for someone else always revokes them all). Refused at
/// once by this instance, within `auth.revocation_poll_ms` everywhere.
#[utoipa::path(delete, path = "/v1/users/{uid}/sessions", tag = "sessions", security(("bearer" = [])),
    params(("all" = Option<bool>, Query, description = "Revoke every token of the user, not only this one")),
    responses((status = 204, description = "Revoked"), (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope)))]
pub async fn log_out(
    state: web::Data<AppState>,
    caller: Caller,
    Here(uid): Here<UserId>,
    query: web::Query<LogoutQuery>,
) -> Result<HttpResponse, ApiError> {
    if caller.is(&uid) && !query.all {
        revocations::revoke_token(&state, &uid, &caller.claims).await?;
    } else if caller.is(&uid) || caller.is_admin() {
        if !caller.is(&uid) {
            accounts::load(&state, uid.clone()).await?;
        }
        revocations::revoke_user(&state, &uid).await?;
    } else if caller.is_staff_or_admin() {
        return Err(ApiError::forbidden("you may only log yourself out"));
    } else {
        return Err(accounts::user_not_found(&uid));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// On a regional instance: the user's groups that live in this region (the router asks
/// every region and merges). The user's home region also answers 404 for an unknown user
/// and adds `memberships`, the user's groups in every region.
#[utoipa::path(get, path = "/v1/users/{uid}/groups", tag = "users", security(("bearer" = [])), responses(
    (status = 200, body = UserGroups), (status = 403, body = ErrorEnvelope)))]
pub async fn list_user_groups(
    state: web::Data<AppState>,
    caller: Caller,
    Anywhere(uid): Anywhere<UserId>,
) -> Result<web::Json<UserGroups>, ApiError> {
    accounts::ensure_may_read(&caller, &uid)?;
    Ok(web::Json(groups::of_user(&state, uid).await?))
}

/// On a regional instance: ledger entries of the user's groups in this region.
#[utoipa::path(get, path = "/v1/users/{uid}/activity", tag = "users", security(("bearer" = [])),
    params(("limit" = Option<i64>, Query, description = "1..=200, default 50"), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = Page<LedgerEntry>), (status = 403, body = ErrorEnvelope)))]
pub async fn list_user_activity(
    state: web::Data<AppState>,
    caller: Caller,
    Anywhere(uid): Anywhere<UserId>,
    params: web::Query<PageParams>,
) -> Result<web::Json<Page<LedgerEntry>>, ApiError> {
    accounts::ensure_may_read(&caller, &uid)?;
    let page = PageRequest::parse(&params)?;
    Ok(web::Json(ledger::activity(&state, uid, page).await?))
}
