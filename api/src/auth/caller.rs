//! The authenticated caller, as an extractor argument of the handlers that need one.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use contract::dto::Role;
use contract::{Regional, UserId};

use crate::auth::Claims;
use crate::error::ApiError;
use crate::startup::AppState;

#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: UserId,
    pub role: Role,
    /// The token it came with (a logout revokes exactly that one).
    pub claims: Claims,
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    pub fn is_staff_or_admin(&self) -> bool {
        matches!(self.role, Role::Staff | Role::Admin)
    }

    /// Staff manage their own region's catalogue; admins every region's.
    pub fn manages_region(&self, region: contract::RegionId) -> bool {
        self.is_admin() || (self.role == Role::Staff && self.user_id.region() == region)
    }

    pub fn is(&self, user: &UserId) -> bool {
        &self.user_id == user
    }
}

fn from_header(req: &HttpRequest) -> Result<Option<Caller>, ApiError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::unauthenticated("expected Authorization: Bearer <token>"))?;
    let state = req.app_data::<web::Data<AppState>>().ok_or_else(|| ApiError::internal("application state missing"))?;
    let claims = state.tokens.verify(token.trim())?;
    let user_id = claims.sub.parse().map_err(|_| ApiError::unauthenticated("the token is invalid or has expired"))?;
    if state.revocations.is_revoked(&user_id, &claims) {
        return Err(ApiError::unauthenticated("the token has been revoked; log in again"));
    }
    Ok(Some(Caller { user_id, role: claims.role, claims }))
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Caller, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(from_header(req).and_then(|c| c.ok_or_else(|| ApiError::unauthenticated("this needs a bearer token"))))
    }
}

/// For endpoints open to anyone that do more for an authenticated caller (sign-up).
/// A present but bad token is still an error, never silently anonymous.
#[derive(Debug, Clone)]
pub struct MaybeCaller(pub Option<Caller>);

impl FromRequest for MaybeCaller {
    type Error = ApiError;
    type Future = Ready<Result<MaybeCaller, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(from_header(req).map(MaybeCaller))
    }
}
