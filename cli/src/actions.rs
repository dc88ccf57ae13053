//! What a user can do, one function each; the subcommands and the menus both call these.

use contract::dto::{Bill, Catalogue, CatalogueItem, Redemption, Regions, Session, User, UserGroups};
use reqwest::Method;
use serde_json::{Value, json};

use crate::api::{Api, Outcome};

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

pub async fn join(api: &Api, group: &str, user: &str) -> Outcome<Value> {
    api.call(Method::POST, &format!("/v1/groups/{group}/members"), Some(&json!({"user_id": user}))).await
}

pub async fn leave(api: &Api, group: &str, user: &str) -> Outcome<Value> {
    api.call(Method::DELETE, &format!("/v1/groups/{group}/members/{user}"), None).await
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
