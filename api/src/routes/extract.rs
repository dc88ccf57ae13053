//! What handlers extract from a request besides its body: the caller named by its bearer
//! token (checked against this region's keys and every region's revocations), or the
//! proof that an `/internal` call carries the service token (compared in constant time),
//! the ids a path names, parsed and placed in their region, and a keyed write's body with
//! its `Idempotency-Key`.

use std::future::{Ready, ready};
use std::ops::Deref;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use contract::internal::SERVICE_TOKEN_HEADER;
use contract::{DiscountId, EntryId, GroupId, InvitationId, ItemId, Regional, UserId};
use futures_util::future::LocalBoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::auth::Caller;
use crate::domain::IdempotencyKey;
use crate::error::ApiError;
use crate::services::AppState;
use crate::services::points::Idempotent;

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
    let home = user_id.region();
    let stale = Duration::from_millis(state.config.auth.revocation_stale_ms);
    if !req.method().is_safe() && home != state.regions.local && !state.revocations.read_within(home, stale) {
        metrics::counter!("writes_refused_unknown_revocations_total", "home" => home.to_string()).increment(1);
        return Err(ApiError::region_unavailable(format!(
            "region {home}, which keeps this account's revoked tokens, has not been heard from lately: writes \
             wait until it is (reads go on)"
        )));
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

/// Proof that the request carries the service token.
pub struct ServiceCaller;

impl FromRequest for ServiceCaller {
    type Error = ApiError;
    type Future = Ready<Result<ServiceCaller, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let expected = req.app_data::<web::Data<AppState>>().and_then(|s| s.config.service_token.clone());
        let given = req.headers().get(SERVICE_TOKEN_HEADER).and_then(|v| v.to_str().ok());
        ready(match (expected, given) {
            (Some(expected), Some(given)) if contract::secret::same(&expected, given) => Ok(ServiceCaller),
            _ => Err(ApiError::unauthenticated("internal endpoints need the service token")),
        })
    }
}

/// An id a path names (`{gid}`, `{uid}`, `{iid}`, `{item_id}`): the parameter it comes
/// from and what an error calls it.
pub trait PathId: Regional {
    const PARAM: &'static str;
    const WHAT: &'static str;
}

macro_rules! path_ids {
    ($($id:ty: $param:literal, $what:literal;)*) => {$(
        impl PathId for $id {
            const PARAM: &'static str = $param;
            const WHAT: &'static str = $what;
        }
    )*};
}

path_ids! {
    GroupId: "gid", "group";
    UserId: "uid", "user";
    InvitationId: "iid", "invitation";
    ItemId: "item_id", "catalogue item";
    DiscountId: "discount_id", "discount";
    EntryId: "bill_id", "bill";
}

/// A path's id of this region's data: malformed 400, of an unknown region 404, of
/// another region 421 (the router sent it to the wrong place).
pub struct Here<T>(pub T);

/// A path's id of any region of the deployment (a user whose groups live here too).
pub struct Anywhere<T>(pub T);

fn path_id<T: PathId>(req: &HttpRequest, here: bool) -> Result<T, ApiError> {
    let state = req.app_data::<web::Data<AppState>>().ok_or_else(|| ApiError::internal("application state missing"))?;
    let value = req.match_info().get(T::PARAM).ok_or_else(|| ApiError::internal("the route names no such id"))?;
    if here { state.regions.parse_local_id(T::WHAT, value) } else { state.regions.parse_id(T::WHAT, value) }
}

macro_rules! path_id_extractor {
    ($wrapper:ident, here: $here:expr) => {
        impl<T: PathId> FromRequest for $wrapper<T> {
            type Error = ApiError;
            type Future = Ready<Result<Self, ApiError>>;

            fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
                ready(path_id(req, $here).map($wrapper))
            }
        }
    };
}

path_id_extractor!(Here, here: true);
path_id_extractor!(Anywhere, here: false);

/// A keyed write's JSON body and its `Idempotency-Key` (the body is read first, so a bad
/// body is reported before a missing key). `idempotent` ties them to the caller: the same
/// caller, key, method, path and body are one write.
pub struct KeyedJson<T> {
    body: T,
    key: IdempotencyKey,
    req: HttpRequest,
}

impl<T: Serialize> KeyedJson<T> {
    pub fn idempotent(&self, caller: &Caller) -> Idempotent {
        Idempotent::new(caller, self.key.clone(), self.req.method().as_str(), self.req.path(), &self.body)
    }
}

impl<T> Deref for KeyedJson<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.body
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for KeyedJson<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = web::Json::<T>::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let body = json.await?.into_inner();
            let key = IdempotencyKey::from_request(&req)?;
            Ok(KeyedJson { body, key, req })
        })
    }
}
