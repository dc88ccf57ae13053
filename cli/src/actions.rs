//! What a user can do, one function each; the subcommands and the menus both call these.

use contract::dto::{
    Bill, Catalogue, CatalogueItem, Group, Invitation, InvitationSummary, Membership, Page, Redemption, Regions,
    Session, User, UserGroups,
};
use reqwest::Method;
use serde_json::{Value, json};

use crate::api::{Api, Failure, Outcome};

pub async fn regions(api: &Api) -> Outcome<Regions> {
    api.get("/v1/regions").await
}

pub async fn sign_up(api: &Api, email: &str, password: &str, full_name: &str, region: &str) -> Outcome<User> {
    let body = json!({"email": email, "password": password, "full_name": full_name, "home_region": region});
    api.call(Method::POST, "/v1/users", Some(&body)).await
}

pub async fn log_in(api: &Api, email: &str, password: &str) -> Outcome<Session> {
    api.call(Method::POST, "/v1/sessions", Some(&json!({"email": email, "password": password}))).await
}

pub async fn profile(api: &Api, user: &str) -> Outcome<User> {
    api.get(&format!("/v1/users/{user}")).await
}

pub async fn groups(api: &Api, user: &str) -> Outcome<UserGroups> {
    api.get(&format!("/v1/users/{user}/groups")).await
}

pub async fn new_group(api: &Api, name: &str, location: &str, region: &str) -> Outcome<Group> {
    api.call(Method::POST, "/v1/groups", Some(&json!({"name": name, "location": location, "region": region}))).await
}

pub async fn group(api: &Api, group: &str) -> Outcome<Group> {
    api.get(&format!("/v1/groups/{group}")).await
}

/// The group an invitation code opens: the code starts with its id.
pub fn group_of_code(code: &str) -> Outcome<&str> {
    code.split_once('.')
        .map(|(group, _)| group)
        .filter(|group| !group.is_empty())
        .ok_or_else(|| Failure::Usage("an invitation code looks like 001-abc123.XXXX".into()))
}

/// Joins the group `code` opens.
pub async fn join(api: &Api, code: &str, user: &str) -> Outcome<Membership> {
    let group = group_of_code(code)?;
    let body = json!({"user_id": user, "invitation": code});
    api.call(Method::POST, &format!("/v1/groups/{group}/members"), Some(&body)).await
}

/// Leaves a group, or (the owner) removes a member from it.
/// Revokes the session's token on the platform (it stops working everywhere within a
/// second or so).
pub async fn log_out(api: &Api, user: &str) -> Outcome<Value> {
    api.call(Method::DELETE, &format!("/v1/users/{user}/sessions"), None).await
}

pub async fn leave(api: &Api, group: &str, user: &str) -> Outcome<Value> {
    api.call(Method::DELETE, &format!("/v1/groups/{group}/members/{user}"), None).await
}

pub async fn invite(
    api: &Api,
    group: &str,
    can_redeem: bool,
    for_user: Option<&str>,
    expires_in_secs: Option<i64>,
) -> Outcome<Invitation> {
    let mut body = json!({"can_redeem": can_redeem});
    if let Some(user) = for_user {
        body["user_id"] = json!(user);
    }
    if let Some(secs) = expires_in_secs {
        body["expires_in_secs"] = json!(secs);
    }
    api.call(Method::POST, &format!("/v1/groups/{group}/invitations"), Some(&body)).await
}

pub async fn invitations(api: &Api, group: &str) -> Outcome<Page<InvitationSummary>> {
    api.get(&format!("/v1/groups/{group}/invitations?limit=200")).await
}

pub async fn revoke(api: &Api, group: &str, invitation: &str) -> Outcome<Value> {
    api.call(Method::DELETE, &format!("/v1/groups/{group}/invitations/{invitation}"), None).await
}

pub async fn set_can_redeem(api: &Api, group: &str, user: &str, can_redeem: bool) -> Outcome<Membership> {
    let body = json!({"can_redeem": can_redeem});
    api.call(Method::PATCH, &format!("/v1/groups/{group}/members/{user}"), Some(&body)).await
}

pub async fn hand_over(api: &Api, group: &str, user: &str) -> Outcome<Group> {
    api.call(Method::PATCH, &format!("/v1/groups/{group}"), Some(&json!({"owner_id": user}))).await
}

/// `{points}` or `{item_id, qty}`.
pub async fn redeem(api: &Api, group: &str, what: Value) -> Outcome<Redemption> {
    api.write_once(&format!("/v1/groups/{group}/redemptions"), &what).await
}

pub async fn activity(api: &Api, user: &str, limit: u32, cursor: Option<&str>) -> Outcome<Value> {
    let path = match cursor {
        Some(c) => format!("/v1/users/{user}/activity?limit={limit}&cursor={c}"),
        None => format!("/v1/users/{user}/activity?limit={limit}"),
    };
    api.get(&path).await
}

pub async fn catalogue(api: &Api, region: &str) -> Outcome<Catalogue> {
    api.get(&format!("/v1/regions/{region}/catalogue")).await
}

pub async fn bill(api: &Api, user: &str, group: Option<&str>, store: &str, lines: &[(String, u32)]) -> Outcome<Bill> {
    let items: Vec<Value> = lines.iter().map(|(item, qty)| json!({"item_id": item, "qty": qty})).collect();
    let mut body = json!({"user_id": user, "store_region": store, "items": items});
    if let Some(group) = group {
        body["group_id"] = json!(group);
    }
    api.write_once("/v1/bills", &body).await
}

pub async fn add_item(
    api: &Api,
    region: &str,
    name: &str,
    category: &str,
    price_cents: i64,
    points_price: i64,
) -> Outcome<CatalogueItem> {
    let body = json!({"name": name, "category": category, "price_cents": price_cents, "points_price": points_price});
    api.call(Method::POST, &format!("/v1/regions/{region}/catalogue"), Some(&body)).await
}

pub async fn change_item(api: &Api, item: &str, change: Value) -> Outcome<CatalogueItem> {
    api.call(Method::PATCH, &format!("/v1/catalogue/{item}"), Some(&change)).await
}

pub async fn create_staff(api: &Api, email: &str, password: &str, full_name: &str, region: &str) -> Outcome<User> {
    let body =
        json!({"email": email, "password": password, "full_name": full_name, "home_region": region, "role": "staff"});
    api.call(Method::POST, "/v1/users", Some(&body)).await
}
