//! Every route of the regional API, wired in one place. Handlers extract, parse into
//! domain types, call one service function and map the result to a DTO.

pub mod answers;
mod bills;
mod catalogue;
mod discounts;
pub mod extract;
mod groups;
mod health;
mod internal;
mod offers;
mod openapi;
mod redemptions;
mod regions;
mod sessions;
mod users;

use actix_web::web;

pub use openapi::{ApiDoc, document as openapi_document};

use crate::error::ApiError;

/// Routes are tried in this order, and each one with a `{...}` segment is a regex match
/// (actix-router's `regex_lite`): the points writes and the reads that carry the load
/// come first, so a redemption does not first try every group-governance route
/// (measured in docs/BENCHMARKS.md, "Changes").
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/groups/{gid}/redemptions", web::post().to(redemptions::create_redemption))
        .route("/v1/bills", web::post().to(bills::create_bill))
        .route("/v1/bills/quote", web::post().to(bills::quote_bill))
        .route("/v1/bills/{bill_id}/returns", web::post().to(bills::return_bill))
        .route("/v1/bills/{bill_id}", web::get().to(bills::read_bill))
        .route("/v1/groups/{gid}", web::get().to(groups::read_group))
        .route("/v1/regions/{rid}/catalogue", web::get().to(catalogue::list_catalogue))
        .route("/v1/groups/{gid}/transactions", web::get().to(groups::list_group_transactions))
        .route("/v1/users/{uid}/groups", web::get().to(users::list_user_groups))
        .route("/v1/users/{uid}/activity", web::get().to(users::list_user_activity))
        .route("/healthz", web::get().to(health::liveness))
        .route("/readyz", web::get().to(health::readiness))
        .route("/metrics", web::get().to(health::render_metrics))
        .route("/openapi.json", web::get().to(openapi::serve_openapi))
        .route("/v1/regions", web::get().to(regions::list_regions))
        .route("/v1/users", web::post().to(users::create_user))
        .route("/v1/users", web::get().to(users::find_user))
        .route("/v1/users/{uid}", web::get().to(users::read_user))
        .route("/v1/users/{uid}", web::patch().to(users::update_user))
        .route("/v1/users/{uid}", web::delete().to(users::close_account))
        .route("/v1/sessions", web::post().to(sessions::create_session))
        .route("/v1/users/{uid}/sessions", web::delete().to(users::log_out))
        .route("/v1/users/{uid}/password", web::put().to(users::change_password))
        .route("/v1/groups", web::post().to(groups::create_group))
        .route("/v1/groups/{gid}", web::patch().to(groups::update_group))
        .route("/v1/groups/{gid}/members", web::post().to(groups::add_member))
        .route("/v1/groups/{gid}/members/{uid}", web::patch().to(groups::change_member))
        .route("/v1/groups/{gid}/members/{uid}", web::delete().to(groups::remove_member))
        .route("/v1/groups/{gid}/invitations", web::post().to(groups::create_invitation))
        .route("/v1/groups/{gid}/invitations", web::get().to(groups::list_invitations))
        .route("/v1/groups/{gid}/invitations/{iid}", web::delete().to(groups::revoke_invitation))
        .route("/v1/regions/{rid}/catalogue", web::post().to(catalogue::add_catalogue_item))
        .route("/v1/catalogue/{item_id}", web::patch().to(catalogue::change_catalogue_item))
        .route("/v1/catalogue/{item_id}", web::delete().to(catalogue::remove_catalogue_item))
        .route("/v1/regions/{rid}/discounts", web::get().to(discounts::list_discounts))
        .route("/v1/regions/{rid}/discounts", web::post().to(discounts::add_discount))
        .route("/v1/discounts/{discount_id}", web::patch().to(discounts::change_discount))
        .route("/v1/discounts/{discount_id}", web::delete().to(discounts::remove_discount))
        .route("/v1/groups/{gid}/offers", web::get().to(offers::list_offers))
        .route("/v1/groups/{gid}/offers", web::post().to(offers::issue_offer))
        .route("/internal/events", web::post().to(internal::receive_events))
        .route("/internal/directory", web::get().to(internal::look_up_email))
        .route("/internal/directory/reservations", web::post().to(internal::reserve_email))
        .route("/internal/directory/confirmations", web::post().to(internal::confirm_email))
        .route("/internal/directory/releases", web::post().to(internal::release_email))
        .route("/internal/users", web::get().to(internal::find_user_by_email))
        .route("/internal/catalogue", web::get().to(internal::full_catalogue))
        .route("/internal/discounts", web::get().to(internal::all_discounts))
        .route("/internal/revocations", web::get().to(internal::revocations))
        .route("/internal/memberships", web::get().to(internal::memberships))
        .route("/internal/memberships/at", web::post().to(internal::memberships_at))
        .route("/internal/memberships/of", web::get().to(internal::member_groups));
}

/// Answers paths and methods that match no route, in the contract's envelope.
pub async fn no_route() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::not_found("no such endpoint"))
}
