use actix_web::{HttpResponse, web};
use contract::dto::{NewOffer, Offer, Offers};
use contract::{ErrorEnvelope, GroupId};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::routes::answers;
use crate::routes::extract::{Here, KeyedJson};
use crate::routes::openapi::Keyed;
use crate::services::AppState;
use crate::services::offers;

/// Members, staff and admins; anyone else 404. `expired`: open but past `expires_at`.
#[utoipa::path(get, path = "/v1/groups/{gid}/offers", tag = "discounts", security(("bearer" = [])), responses(
    (status = 200, body = Offers)))]
pub async fn list_offers(
    state: web::Data<AppState>,
    caller: Caller,
    Here(gid): Here<GroupId>,
) -> Result<web::Json<Offers>, ApiError> {
    Ok(web::Json(Offers { items: offers::list(&state, &caller, gid).await? }))
}

/// Staff and admins issue a group an offer of one of a store region's `audience: "offer"`
/// discounts; the group's next bill in that region uses it if no other discount saves
/// more. Keyed like a bill: the same key and body issue one offer.
#[utoipa::path(post, path = "/v1/groups/{gid}/offers", tag = "discounts", security(("bearer" = [])), request_body = NewOffer,
    params(Keyed),
    responses(
        (status = 201, body = Offer),
        (status = 403, body = ErrorEnvelope),
))]
pub async fn issue_offer(
    state: web::Data<AppState>,
    caller: Caller,
    Here(gid): Here<GroupId>,
    body: KeyedJson<NewOffer>,
) -> Result<HttpResponse, ApiError> {
    Ok(answers::respond(offers::issue(&state, &caller, body.idempotent(&caller), gid, &body).await?))
}
