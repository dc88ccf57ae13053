use actix_web::{HttpResponse, web};
use contract::dto::{NewRedemption, Redemption};
use contract::{ErrorEnvelope, GroupId};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::routes::answers;
use crate::routes::extract::{Here, KeyedJson};
use crate::routes::openapi::Keyed;
use crate::services::AppState;
use crate::services::points::{self, RedemptionRequest};

#[utoipa::path(post, path = "/v1/groups/{gid}/redemptions", tag = "points", security(("bearer" = [])), request_body = NewRedemption,
    params(Keyed),
    responses(
        (status = 201, body = Redemption),
        (status = 403, body = ErrorEnvelope),
        (status = 409, description = "insufficient_points or item_unavailable", body = ErrorEnvelope),
))]
pub async fn create_redemption(
    state: web::Data<AppState>,
    caller: Caller,
    Here(gid): Here<GroupId>,
    body: KeyedJson<NewRedemption>,
) -> Result<HttpResponse, ApiError> {
    let what = RedemptionRequest::parse(&state, &body)?;
    Ok(answers::respond(points::redeem(&state, &caller, body.idempotent(&caller), gid, what).await?))
}
