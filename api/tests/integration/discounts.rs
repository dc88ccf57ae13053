//! Discounts (contract v1.2): who manages them, what a bad one is told, and the bill
//! that applies the one saving most, priced and earned on what is paid.

use crate::support::{TestApp, expect_error, expect_json};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn staff_manage_their_regions_discounts_and_bad_ones_are_refused() {
    let app = TestApp::spawn().await;
    let staff = app.staff_token().await;
    let (_, customer) = app.customer().await;

    let made = app
        .discount(
            &staff,
            json!({"name": "Lunch", "percent_off": 15, "category": "mains",
                                             "audience": "everyone"}),
        )
        .await;
    assert_eq!((&made["region"], &made["active"], &made["min_spend_cents"]), (&json!("001"), &json!(true), &json!(0)));
    let id = made["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("001-"));

    let lunch = json!({"name": "x", "percent_off": 10, "audience": "everyone"});
    expect_error(
        app.post("/v1/regions/001/discounts", Some(&customer), &lunch).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    expect_error(
        app.post("/v1/regions/001/discounts", None, &lunch).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    let cases = [
        json!({"name": "both", "percent_off": 10, "amount_off_cents": 100, "audience": "everyone"}),
        json!({"name": "neither", "audience": "everyone"}),
        json!({"name": "zero", "percent_off": 0, "audience": "everyone"}),
        json!({"name": "over", "percent_off": 101, "audience": "everyone"}),
        json!({"name": "free money", "amount_off_cents": -5, "audience": "everyone"}),
        json!({"name": " ", "percent_off": 10, "audience": "everyone"}),
        json!({"name": "n", "percent_off": 10, "audience": "everyone", "every_n_bills": 3}),
        json!({"name": "n", "percent_off": 10, "audience": "offer", "every_n_bills": 0}),
        json!({"name": "w", "percent_off": 10, "audience": "everyone",
               "valid_from": "2027-01-02T00:00:00Z", "valid_until": "2027-01-01T00:00:00Z"}),
        json!({"name": "a", "percent_off": 10, "audience": "all"}),
        json!({"name": "a", "percent_off": 10, "audience": "everyone", "stacks": true}),
    ];
    for body in cases {
        let res = app.post("/v1/regions/001/discounts", Some(&staff), &body).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{body}");
    }

    // Anyone logged in reads them; the list holds only what was made.
    let listed: Value = expect_json(app.get("/v1/regions/001/discounts", Some(&customer)).await, StatusCode::OK).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");

    // A change is checked as a whole: a percentage becomes an amount, the category goes.
    let path = format!("/v1/discounts/{id}");
    let changed: Value = expect_json(
        app.patch(&path, Some(&staff), &json!({"amount_off_cents": 300, "category": null})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (&changed["percent_off"], &changed["amount_off_cents"], &changed["category"]),
        (&Value::Null, &json!(300), &Value::Null)
    );
    let backwards = json!({"valid_from": "2027-01-02T00:00:00Z", "valid_until": "2027-01-01T00:00:00Z"});
    expect_error(app.patch(&path, Some(&staff), &backwards).await, StatusCode::BAD_REQUEST, "invalid_input").await;
    for far in ["-200000-01-01T00:00:00Z", "+200000-01-01T00:00:00Z", "0000-01-01T00:00:00Z"] {
        let res = app.patch(&path, Some(&staff), &json!({"valid_from": far})).await;
        expect_error(res, StatusCode::BAD_REQUEST, "invalid_input").await;
    }
    expect_error(app.patch(&path, Some(&customer), &json!({"name": "mine"})).await, StatusCode::FORBIDDEN, "forbidden")
        .await;
    let expired: Value = expect_json(
        app.patch(&path, Some(&staff), &json!({"valid_until": "2020-01-01T00:00:00Z"})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(expired["active"], false);
    assert_eq!(app.delete(&path, Some(&staff)).await.status(), StatusCode::NO_CONTENT);
    expect_error(app.delete(&path, Some(&staff)).await, StatusCode::NOT_FOUND, "not_found").await;
    expect_error(
        app.patch("/v1/discounts/not-an-id", Some(&staff), &json!({})).await,
        StatusCode::BAD_REQUEST,
        "invalid_id",
    )
    .await;
}

#[tokio::test]
async fn a_bill_gets_the_one_discount_that_saves_most_and_earns_on_what_is_paid() {
    let app = TestApp::spawn().await;
    let staff = app.staff_token().await;
    let (user, _) = app.customer().await;
    let (soup, wine) = (app.dish(&staff, "mains", 1_250).await, app.dish(&staff, "drinks", 999).await);
    let body = json!({"user_id": user.id, "store_region": "001",
                      "items": [{"item_id": soup, "qty": 2}, {"item_id": wine, "qty": 1}]});
    // Gross 34.99. A tenth off everything saves 3.49; 5.00 off drinks from 5.00 of them
    // saves 5.00 (at most the 9.99 they cost); the offer-only and the expired ones, nothing.
    app.discount(&staff, json!({"name": "A tenth off", "percent_off": 10, "audience": "everyone"})).await;
    let drinks = app
        .discount(
            &staff,
            json!({"name": "Drinks 5 off", "amount_off_cents": 500, "category": "drinks",
                                               "min_spend_cents": 500, "audience": "everyone"}),
        )
        .await;
    app.discount(&staff, json!({"name": "Members' half", "percent_off": 50, "audience": "offer"})).await;
    app.discount(
        &staff,
        json!({"name": "Gone", "percent_off": 90, "audience": "everyone",
                                  "valid_until": "2020-01-01T00:00:00Z"}),
    )
    .await;

    let quote: Value = expect_json(app.post("/v1/bills/quote", Some(&staff), &body).await, StatusCode::OK).await;
    let bill: Value =
        expect_json(app.post_once("/v1/bills", &staff, "discounted", &body).await, StatusCode::CREATED).await;
    for answer in [&quote, &bill] {
        assert_eq!(
            (&answer["gross_cents"], &answer["discount_cents"], &answer["amount_cents"], &answer["points_awarded"]),
            (&json!(3_499), &json!(500), &json!(2_999), &json!(29)),
            "{answer}"
        );
        assert_eq!(
            answer["discounts"],
            json!([{"discount_id": drinks["id"], "name": "Drinks 5 off", "amount_cents": 500}])
        );
    }
    let replay = app.post_once("/v1/bills", &staff, "discounted", &body).await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.json::<Value>().await.unwrap(), bill, "a replay answers the same figures");
    assert_eq!(app.assert_ledger_consistent(user.personal_group_id.as_str()), 29);

    // Taken away, it no longer applies: the next best does, on the writing instance at once.
    app.delete(&format!("/v1/discounts/{}", drinks["id"].as_str().unwrap()), Some(&staff)).await;
    let quote: Value = expect_json(app.post("/v1/bills/quote", Some(&staff), &body).await, StatusCode::OK).await;
    assert_eq!((&quote["discount_cents"], &quote["points_awarded"]), (&json!(349), &json!(31)));
    assert_eq!(quote["discounts"][0]["name"], "A tenth off");
    // The bill made before keeps the discount it applied, by name.
    let ledger: Value = expect_json(
        app.get(&format!("/v1/groups/{}/transactions", user.personal_group_id), Some(&staff)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ledger["items"][0]["amount_cents"], 2_999);
}
