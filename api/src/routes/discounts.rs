use actix_web::{HttpResponse, web};
use contract::dto::{Discount, DiscountPatch, Discounts, NewDiscount};
use contract::{DiscountId, ErrorEnvelope};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::routes::extract::Here;
use crate::services::AppState;
use crate::services::discounts;

/// Any logged-in caller: what a bill in this region may get.
#[utoipa::path(get, path = "/v1/regions/{rid}/discounts", tag = "discounts", security(("bearer" = [])), responses(
    (status = 200, body = Discounts), (status = 401, body = ErrorEnvelope)))]
pub async fn list_discounts(
    state: web::Data<AppState>,
    _: Caller,
    rid: web::Path<String>,
) -> Result<web::Json<Discounts>, ApiError> {
    let region = state.regions.parse_region("region", &rid)?;
    Ok(web::Json(Discounts { items: discounts::list(&state, region).await? }))
}

/// Staff of the region and admins. A bill of this region applies the discount that saves
/// most among those it qualifies for (audience `everyone`, or an offer the group holds):
/// the lines it covers (its `category`'s, or all) add up to at least `min_spend_cents`
/// and the bill is made within its validity window (`valid_from` inclusive,
/// `valid_until` exclusive). Percentages round down to the cent; an amount never exceeds
/// what it covers. A change applies to the next bill of this region at once, and to bills
/// priced by other regions within the catalogue's cache TTL.
#[utoipa::path(post, path = "/v1/regions/{rid}/discounts", tag = "discounts", security(("bearer" = [])), request_body = NewDiscount, responses(
    (status = 201, body = Discount), (status = 403, body = ErrorEnvelope)))]
pub async fn add_discount(
    state: web::Data<AppState>,
    caller: Caller,
    rid: web::Path<String>,
    body: web::Json<NewDiscount>,
) -> Result<HttpResponse, ApiError> {
    let region = state.regions.parse_region("region", &rid)?;
    Ok(HttpResponse::Created().json(discounts::add(&state, &caller, region, &body).await?))
}

#[utoipa::path(patch, path = "/v1/discounts/{discount_id}", tag = "discounts", security(("bearer" = [])), request_body = DiscountPatch, responses(
    (status = 200, body = Discount), (status = 403, body = ErrorEnvelope)))]
pub async fn change_discount(
    state: web::Data<AppState>,
    caller: Caller,
    Here(id): Here<DiscountId>,
    body: web::Json<DiscountPatch>,
) -> Result<web::Json<Discount>, ApiError> {
    Ok(web::Json(discounts::change(&state, &caller, id, &body).await?))
}

/// Bills made before keep the discount they applied, by name.
#[utoipa::path(delete, path = "/v1/discounts/{discount_id}", tag = "discounts", security(("bearer" = [])), responses(
    (status = 204, description = "Removed"), (status = 403, body = ErrorEnvelope)))]
pub async fn remove_discount(
    state: web::Data<AppState>,
    caller: Caller,
    Here(id): Here<DiscountId>,
) -> Result<HttpResponse, ApiError> {
    discounts::remove(&state, &caller, id).await?;
    Ok(HttpResponse::NoContent().finish())
}
