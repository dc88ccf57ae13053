use actix_web::HttpResponse;
use contract::numbers::{NumberKind, PageSize};
use serde_json::{Value, json};
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ObjectBuilder, Required, Type};
use utoipa::{IntoParams, Modify, OpenApi};

use super::{bills, catalogue, discounts, groups, health, offers, redemptions, regions, sessions, users};

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

/// A keyed write's `Idempotency-Key` header (`params(Keyed)`); `complete` adds the
/// `422 idempotency_key_reused` every keyed write may answer.
pub struct Keyed;

impl IntoParams for Keyed {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let key = ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(255))
            .pattern(Some("^[ -~]+$"));
        vec![
            ParameterBuilder::new()
                .name("Idempotency-Key")
                .parameter_in(ParameterIn::Header)
                .required(Required::True)
                .description(Some(
                    "1..=255 printable ASCII characters, scoped to the caller: a retry with the same key and body \
                     applies once. The key is remembered by the home region of the group the request is for, and \
                     compared only with that region's requests: the same key on a request for a group of another \
                     region is a new request there",
                ))
                .schema(Some(key))
                .build(),
        ]
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
            for entries older than v1.1 whose actor was no longer known. Operations added since, each described \
            where it is: logout (`DELETE /v1/users/{uid}/sessions`), role changes (`PATCH /v1/users/{uid}` \
            `role`), password changes and resets (`PUT /v1/users/{uid}/password`), staff finding a user by email \
            (`GET /v1/users?email=`), a bill's receipt (`GET /v1/bills/{bill_id}`), closing an account (`DELETE /v1/users/{uid}`, errors \
            `still_a_member` and `points_remaining`)."
    ),
    paths(
        health::liveness, health::readiness, health::render_metrics,
        regions::list_regions,
        users::create_user, users::find_user, users::read_user, users::update_user, users::list_user_groups, users::list_user_activity,
        sessions::create_session, users::log_out, users::change_password, users::close_account,
        groups::create_group, groups::read_group, groups::update_group, groups::add_member, groups::change_member,
        groups::remove_member, groups::create_invitation, groups::list_invitations, groups::revoke_invitation,
        groups::list_group_transactions,
        catalogue::list_catalogue, catalogue::add_catalogue_item, catalogue::change_catalogue_item, catalogue::remove_catalogue_item,
        discounts::list_discounts, discounts::add_discount, discounts::change_discount, discounts::remove_discount,
        offers::list_offers, offers::issue_offer,
        bills::create_bill, bills::quote_bill, bills::read_bill, bills::return_bill, redemptions::create_redemption,
    ),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

pub async fn serve_openapi() -> HttpResponse {
    HttpResponse::Ok().json(document())
}

/// The document as served: the handlers' annotations, completed with what every
/// operation shares, so a client generator sees every parameter and every status.
pub fn document() -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    complete(&mut doc);
    one_of_redemptions(&mut doc);
    doc
}

/// A redemption names points or an item, never both: said as `oneOf`, which the derive
/// cannot write for one struct.
fn one_of_redemptions(doc: &mut Value) {
    let schema = &mut doc["components"]["schemas"]["NewRedemption"];
    let properties = schema["properties"].clone();
    // The derive writes an `Option` as `type: [T, "null"]`, or, where T is a named
    // schema, as `oneOf: [T, null]`.
    let not_null = |name: &str| match properties[name]["oneOf"].as_array() {
        Some(options) => options.iter().find(|o| o["type"] != "null").cloned().unwrap_or(Value::Null),
        None => {
            let mut property = properties[name].clone();
            property["type"] = property["type"].as_array().and_then(|t| t.first()).cloned().unwrap_or(Value::Null);
            property
        }
    };
    *schema = json!({
        "description": "Either `{points}` or `{item_id, qty}` (qty defaults to 1).",
        "oneOf": [
            { "type": "object", "additionalProperties": false, "required": ["points"],
              "properties": { "points": not_null("points") } },
            { "type": "object", "additionalProperties": false, "required": ["item_id"],
              "properties": { "item_id": not_null("item_id"), "qty": not_null("qty") } },
        ]
    });
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// What a path parameter holds: a description, and the id type whose schema it refers to.
fn path_parameter(name: &str) -> Value {
    let (description, id) = match name {
        "gid" => ("A group's id: its home region, a dash, six characters (`001-abc123`)", "GroupId"),
        "uid" => ("A user's id: their home region, a dash, six characters (`002-k3x9qa`)", "UserId"),
        "rid" => ("A region's id: three digits (`001`)", "RegionId"),
        "item_id" => ("A catalogue item's id: its region, a dash, six characters", "ItemId"),
        "iid" => ("An invitation's id (not its code)", "InvitationId"),
        "discount_id" => ("A discount's id: its store region, a dash, six characters", "DiscountId"),
        "bill_id" => ("A bill's id (its ledger entry's): the group's region, a dash, a ULID", "EntryId"),
        _ => return json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }),
    };
    json!({
        "name": name, "in": "path", "required": true, "description": description,
        "schema": { "$ref": format!("#/components/schemas/{id}") }
    })
}

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ErrorEnvelope" } } }
    })
}

/// Declares every `{name}` of each path as a path parameter, and adds the answers any
/// operation may give besides its own: bad input, a missing or bad token, a body too
/// large, a rate limit (the router's), and the platform being slow or away.
fn complete(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for (path, item) in paths.iter_mut() {
        let names: Vec<&str> =
            path.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}'))).collect();
        let Some(item) = item.as_object_mut() else { continue };
        for (method, operation) in item.iter_mut() {
            if !METHODS.contains(&method.as_str()) || !operation.is_object() {
                continue;
            }
            let mut parameters = operation["parameters"].as_array().cloned().unwrap_or_default();
            for parameter in &mut parameters {
                match (parameter["in"].as_str(), parameter["name"].as_str()) {
                    (Some("query"), Some("limit")) => {
                        parameter["schema"]["minimum"] = json!(PageSize::MIN);
                        parameter["schema"]["maximum"] = json!(PageSize::MAX);
                        parameter["schema"]["default"] = json!(PageSize::DEFAULT);
                    }
                    (Some("query"), Some("cursor")) => {
                        parameter["schema"]["pattern"] = json!("^[A-Za-z0-9_-]+$");
                        parameter["description"] =
                            json!("The `next_cursor` of the page before; any other is refused (400)");
                    }
                    _ => {}
                }
            }
            let mut added = parameters.clone();
            for name in &names {
                if !parameters.iter().any(|p| p["name"] == *name && p["in"] == "path") {
                    added.push(path_parameter(name));
                }
            }
            let takes_input = !added.is_empty() || operation.get("requestBody").is_some();
            let keyed = added.iter().any(|p| p["in"] == "header" && p["name"] == "Idempotency-Key");
            if !added.is_empty() {
                operation["parameters"] = Value::Array(added);
            }
            let secured = operation.get("security").is_some();
            let has_body = operation.get("requestBody").is_some();
            let Some(responses) = operation.get_mut("responses").and_then(Value::as_object_mut) else { continue };
            if keyed && let Some(created) = responses.get_mut("201") {
                created["description"] = json!(
                    "Created; also the replay of an earlier request with the same key, which adds the header \
                     Idempotent-Replayed: true"
                );
                created["headers"]["Idempotent-Replayed"] = json!({
                    "description": "Present (`true`) when this answer is the stored one of an earlier request",
                    "schema": {"type": "boolean"}
                });
            }
            let mut add = |status: &str, description: &str| {
                responses.entry(status).or_insert_with(|| error_response(description));
            };
            if takes_input {
                add("400", "invalid_input, invalid_id or missing_idempotency_key: nothing was done");
            }
            if takes_input {
                add("404", "not_found (or one the caller may not see, worded alike), or unknown_region");
            }
            if keyed {
                add("422", "idempotency_key_reused: the key was used for another request; nothing was done");
            }
            if secured {
                add("401", "unauthenticated: no token, or one that is invalid, expired or revoked");
            }
            if has_body {
                add("413", "payload_too_large: bodies are limited to 64 KiB");
            }
            add("429", "rate_limited (the router's limits): retry after Retry-After");
            add("500", "internal: nothing internal is said; the request id finds the logs");
            add("503", "region_unavailable: retry after Retry-After (a keyed write with the same key)");
            add("504", "timeout: a write may still apply; retry it with the same Idempotency-Key");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The typed client builds its paths from `client::ENDPOINTS`: the document and the
    /// client describe the same public operations, or this fails.
    #[test]
    fn the_typed_client_speaks_every_documented_operation_and_no_other() {
        let doc = document();
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

    #[test]
    fn every_path_parameter_is_declared_and_every_operation_names_its_failures() {
        let doc = document();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for (method, operation) in item.as_object().into_iter().flatten() {
                let declared: Vec<&str> = operation["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|p| p["in"] == "path")
                    .filter_map(|p| p["name"].as_str())
                    .collect();
                for segment in path.split('/').filter(|s| s.starts_with('{')) {
                    let name = segment.trim_matches(|c| c == '{' || c == '}');
                    assert!(declared.contains(&name), "{method} {path}: {name} is not declared");
                }
                for parameter in operation["parameters"].as_array().into_iter().flatten().filter(|p| p["in"] == "path")
                {
                    let id = parameter["schema"]["$ref"].as_str().and_then(|r| r.strip_prefix("#/components/schemas/"));
                    assert!(
                        id.is_some_and(|id| doc["components"]["schemas"][id]["pattern"].is_string()),
                        "{method} {path}: {} is not one of the ids' schemas, each with its pattern",
                        parameter["name"]
                    );
                }
                for status in ["429", "500", "503", "504"] {
                    assert!(operation["responses"].get(status).is_some(), "{method} {path}: no {status}");
                }
                if operation.get("security").is_some() {
                    assert!(operation["responses"].get("401").is_some(), "{method} {path}: no 401");
                }
                let keyed =
                    operation["parameters"].as_array().into_iter().flatten().any(|p| p["name"] == "Idempotency-Key");
                if keyed && operation["responses"].get("201").is_some() {
                    let replayed = &operation["responses"]["201"]["headers"]["Idempotent-Replayed"];
                    assert!(replayed.is_object(), "{method} {path}: a replay's header is not documented");
                }
            }
        }
    }
}
