use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use contract::dto::{Catalogue, CatalogueItem, CatalogueItemPatch, NewCatalogueItem};
use contract::{ErrorEnvelope, ItemId};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::routes::extract::Here;
use crate::services::AppState;
use crate::services::catalogue;

/// Open to everyone (it is the menu). Served from the cache with `ETag` and
/// `Cache-Control: max-age`; a matching `If-None-Match` gets 304.
#[utoipa::path(get, path = "/v1/regions/{rid}/catalogue", tag = "catalogue", responses(
    (status = 200, body = Catalogue), (status = 304, description = "Not modified")))]
pub async fn list_catalogue(
    state: web::Data<AppState>,
    req: HttpRequest,
    rid: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let region = state.regions.parse_region("region", &rid)?;
    let cached = catalogue::list(&state, region).await?;
    let etag = cached.etag.as_bytes();
    let unchanged = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim().as_bytes() == etag || t.trim() == "*"));
    let mut response = if unchanged { HttpResponse::NotModified() } else { HttpResponse::Ok() };
    response
        .insert_header((header::ETAG, cached.etag.clone()))
        .insert_header((header::CACHE_CONTROL, state.catalogue.max_age.clone()));
    if unchanged {
        return Ok(response.finish());
    }
    Ok(response.content_type("application/json").body(cached.body.clone()))
}

#[utoipa::path(post, path = "/v1/regions/{rid}/catalogue", tag = "catalogue", security(("bearer" = [])), request_body = NewCatalogueItem, responses(
    (status = 201, body = CatalogueItem), (status = 403, body = ErrorEnvelope)))]
pub async fn add_catalogue_item(
    state: web::Data<AppState>,
    caller: Caller,
    rid: web::Path<String>,
    body: web::Json<NewCatalogueItem>,
) -> Result<HttpResponse, ApiError> {
    let region = state.regions.parse_region("region", &rid)?;
    let item = catalogue::add(&state, &caller, region, &body).await?;
    Ok(HttpResponse::Created().json(item))
}

#[utoipa::path(patch, path = "/v1/catalogue/{item_id}", tag = "catalogue", security(("bearer" = [])), request_body = CatalogueItemPatch, responses(
    (status = 200, body = CatalogueItem), (status = 403, body = ErrorEnvelope)))]
pub async fn change_catalogue_item(
    state: web::Data<AppState>,
    caller: Caller,
    Here(id): Here<ItemId>,
    body: web::Json<CatalogueItemPatch>,
) -> Result<web::Json<CatalogueItem>, ApiError> {
    Ok(web::Json(catalogue::change(&state, &caller, id, &body).await?))
}

#[utoipa::path(delete, path = "/v1/catalogue/{item_id}", tag = "catalogue", security(("bearer" = [])), responses(
    (status = 204, description = "Removed"), (status = 403, body = ErrorEnvelope)))]
pub async fn remove_catalogue_item(
    state: web::Data<AppState>,
    caller: Caller,
    Here(id): Here<ItemId>,
) -> Result<HttpResponse, ApiError> {
    catalogue::remove(&state, &caller, id).await?;
    Ok(HttpResponse::NoContent().finish())
}
