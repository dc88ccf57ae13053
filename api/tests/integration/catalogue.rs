//! The catalogue: who may change it, the TTL cache, ETags and conditional requests.

use crate::support::{TestApp, expect_error, expect_json};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn dish(name: &str) -> Value {
    json!({"name": name, "category": "mains", "price_cents": 1290, "points_price": 130})
}

#[tokio::test]
async fn staff_of_the_region_and_admins_manage_it_and_everyone_reads_it() {
    // Region 002's signing key: this region verifies the tokens 002 signs.
    let (seed_002, public_002) = api::auth::new_signing_key();
    let app = TestApp::spawn_with(|config| {
        config.auth.verifying_keys.insert("002k1".into(), public_002);
    })
    .await;
    let staff = app.staff_token().await;
    let admin = app.admin_token().await;
    let (_, customer) = app.customer().await;

    let item: Value = expect_json(
        app.post("/v1/regions/001/catalogue", Some(&staff), &dish("Ratatouille")).await,
        StatusCode::CREATED,
    )
    .await;
    assert!(item["id"].as_str().unwrap().starts_with("001-"));
    assert_eq!(item["available"], true);
    expect_error(
        app.post("/v1/regions/001/catalogue", Some(&customer), &dish("x")).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    expect_error(
        app.post("/v1/regions/001/catalogue", None, &dish("x")).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;

    // Staff of another region may not touch this one's menu (their token, signed by their
    // region, verifies here).
    let mut config_002 = app.config.auth.clone();
    config_002.signing_key = Some(seed_002);
    let keys = api::auth::TokenKeys::from_config(&config_002, "002".parse().unwrap()).unwrap();
    let (foreign_staff, _) = keys.issue("002-abc123", contract::dto::Role::Staff).unwrap();
    // The same claim signed by this region's own key is no token at all: 001's key does
    // not speak for 002's users.
    let own = api::auth::TokenKeys::from_config(&app.config.auth, app.config.region).unwrap();
    let (misissued, _) = own.issue("002-abc123", contract::dto::Role::Staff).unwrap();
    for (token, status, code) in [
        (&misissued, StatusCode::UNAUTHORIZED, "unauthenticated"),
        (&foreign_staff, StatusCode::FORBIDDEN, "forbidden"),
    ] {
        expect_error(app.post("/v1/regions/001/catalogue", Some(token), &dish("x")).await, status, code).await;
    }
    let path = format!("/v1/catalogue/{}", item["id"].as_str().unwrap());
    expect_error(
        app.patch(&path, Some(&foreign_staff), &json!({"price_cents": 1})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    expect_error(app.delete(&path, Some(&customer)).await, StatusCode::FORBIDDEN, "forbidden").await;

    let changed: Value = expect_json(
        app.patch(&path, Some(&staff), &json!({"price_cents": 1390, "available": false})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(changed["price_cents"], 1390);
    assert_eq!(changed["available"], false);
    assert_eq!(changed["name"], "Ratatouille");

    let menu: Value = expect_json(app.get("/v1/regions/001/catalogue", None).await, StatusCode::OK).await;
    assert_eq!(menu["items"], json!([changed]));

    assert_eq!(app.delete(&path, Some(&admin)).await.status(), StatusCode::NO_CONTENT);
    expect_error(app.delete(&path, Some(&admin)).await, StatusCode::NOT_FOUND, "not_found").await;
    expect_error(app.patch(&path, Some(&admin), &json!({"name": "x"})).await, StatusCode::NOT_FOUND, "not_found").await;
    let menu: Value = expect_json(app.get("/v1/regions/001/catalogue", None).await, StatusCode::OK).await;
    assert_eq!(menu["items"], json!([]));
}

#[tokio::test]
async fn item_fields_are_bounded() {
    let app = TestApp::spawn().await;
    let staff = app.staff_token().await;
    for (field, value) in [
        ("name", json!("")),
        ("category", json!("c".repeat(51))),
        ("price_cents", json!(-1)),
        ("price_cents", json!(100_000_001)),
        ("price_cents", json!(12.5)),
        ("points_price", json!(0)),
        ("available", json!("yes")),
        ("colour", json!("red")),
    ] {
        let mut body = dish("x");
        body[field] = value;
        expect_error(
            app.post("/v1/regions/001/catalogue", Some(&staff), &body).await,
            StatusCode::BAD_REQUEST,
            "invalid_input",
        )
        .await;
    }
    expect_error(
        app.post("/v1/regions/002/catalogue", Some(&staff), &dish("x")).await,
        StatusCode::MISDIRECTED_REQUEST,
        "misdirected",
    )
    .await;
    expect_error(app.get("/v1/regions/007/catalogue", None).await, StatusCode::NOT_FOUND, "unknown_region").await;
    expect_error(app.get("/v1/regions/x/catalogue", None).await, StatusCode::BAD_REQUEST, "invalid_input").await;
    let menu: Value = expect_json(app.get("/v1/regions/001/catalogue", None).await, StatusCode::OK).await;
    assert_eq!(menu["items"], json!([]), "nothing was created by refused requests");
}

/// Region 001's menu, asked for only if it is no longer `etag` (a conditional GET).
#[allow(clippy::unwrap_used)] // test helper: a failed request stops the test
async fn menu_unless(app: &TestApp, etag: &str) -> reqwest::Response {
    let url = format!("{}/v1/regions/001/catalogue", app.base);
    app.http.raw(client::Method::GET, &url).header("If-None-Match", etag).send().await.unwrap()
}

#[tokio::test]
async fn cached_reads_carry_etags_and_writes_show_at_once() {
    let app = TestApp::spawn_with(|c| c.catalogue.ttl_secs = 300).await;
    let staff = app.staff_token().await;
    expect_json::<Value>(app.post("/v1/regions/001/catalogue", Some(&staff), &dish("Soup")).await, StatusCode::CREATED)
        .await;

    let res = app.get("/v1/regions/001/catalogue", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "max-age=300");
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'));

    let conditional = menu_unless(&app, &etag).await;
    assert_eq!(conditional.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(conditional.headers()["etag"].to_str().unwrap(), etag);
    assert!(conditional.text().await.unwrap().is_empty());

    // A write on this instance is visible at once despite the 300 s TTL.
    expect_json::<Value>(
        app.post("/v1/regions/001/catalogue", Some(&staff), &dish("Salad")).await,
        StatusCode::CREATED,
    )
    .await;
    let res = menu_unless(&app, &etag).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_ne!(res.headers()["etag"].to_str().unwrap(), etag);
    let menu: Value = res.json().await.unwrap();
    assert_eq!(menu["items"].as_array().unwrap().len(), 2);

    // A change made behind this instance's back (another instance) shows only after the
    // TTL: the cache really serves reads.
    use diesel::prelude::*;
    diesel::sql_query("UPDATE catalogue_items SET price_cents = 1").execute(&mut app.db.connect()).unwrap();
    let menu: Value = expect_json(app.get("/v1/regions/001/catalogue", None).await, StatusCode::OK).await;
    assert_eq!(menu["items"][0]["price_cents"], 1290);
}
