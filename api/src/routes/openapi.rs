use actix_web::HttpResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{bills, catalogue, groups, health, redemptions, regions, sessions, users};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Loyalty platform: regional API",
        description = "One region's share of the public contract (shared/CONTRACT.md). Additions to the contract: \
            error codes `misdirected` (421, an entity of another region reached this instance directly) and \
            `item_unavailable` (409); `GET /v1/regions/{rid}/catalogue` needs no token; on a regional instance \
            `/v1/regions` lists only its own region, and `/v1/users/{uid}/groups` and `/activity` cover only this \
            region's groups (the router merges all regions); a points request's definite refusal (4xx decided \
            from the data) is remembered under its Idempotency-Key like a success. Contract v1.1 (groups belong \
            to their members): who may do what is in each operation's description; whatever a caller may not see \
            (a group they are not in, another customer's account, a group's invitations) is `404 not_found`, \
            worded as for a missing thing; staff may not bill themselves (admins may); staff who are not members \
            are refused a redemption with 403 (they see every group); a ledger entry's `actor_id` is null only \
            for entries older than v1.1 whose actor was no longer known."
    ),
    paths(
        health::liveness, health::readiness, health::render_metrics,
        regions::list_regions,
        users::create_user, users::read_user, users::update_user, users::list_user_groups, users::list_user_activity,
        sessions::create_session, users::log_out,
        groups::create_group, groups::read_group, groups::update_group, groups::add_member, groups::change_member,
        groups::remove_member, groups::create_invitation, groups::list_invitations, groups::revoke_invitation,
        groups::list_group_transactions,
        catalogue::list_catalogue, catalogue::add_catalogue_item, catalogue::change_catalogue_item, catalogue::remove_catalogue_item,
        bills::create_bill, redemptions::create_redemption,
    ),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

pub async fn serve_openapi() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The typed client builds its paths from `client::ENDPOINTS`: the document and the
    /// client describe the same public operations, or this fails.
    #[test]
    fn the_typed_client_speaks_every_documented_operation_and_no_other() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for method in item.as_object().into_iter().flatten().map(|(method, _)| method) {
                if path.starts_with("/v1/") && ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                    documented.insert((method.to_uppercase(), path.clone()));
                }
            }
        }
        let spoken: BTreeSet<(String, String)> = client::ENDPOINTS
            .iter()
            .filter(|endpoint| !endpoint.internal)
            .map(|endpoint| (endpoint.method.to_owned(), endpoint.path.to_owned()))
            .collect();
        assert_eq!(documented, spoken, "documented (left) and spoken by the client (right) differ");
    }
}
