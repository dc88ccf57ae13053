//! Offers (contract v1.2): issued once per key, used by exactly one bill however many
//! race for it, issued by a discount every N bills exactly once per N, and never used
//! past their expiry.

use crate::support::{TestApp, expect_error, expect_json};
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Staff, a customer's personal pool, a 20.00 dish, and an offer-only half-price discount.
#[allow(clippy::unwrap_used)] // test helper
async fn setup(app: &TestApp, every_n_bills: Option<i64>) -> (String, String, String, Value) {
    let staff = app.staff_token().await;
    let (user, _) = app.customer().await;
    let dish = app.item(2_000, 10).await;
    let mut body = json!({"name": "Members' half", "percent_off": 50, "audience": "offer"});
    if let Some(n) = every_n_bills {
        body["every_n_bills"] = json!(n);
    }
    let half = app.discount(&staff, body).await;
    let bill = json!({"user_id": user.id, "store_region": "001", "items": [{"item_id": dish, "qty": 1}]});
    (staff, user.personal_group_id.to_string(), half["id"].as_str().unwrap().to_owned(), bill)
}

#[allow(clippy::unwrap_used)] // test helper
async fn offers_of(app: &TestApp, token: &str, group: &str) -> Vec<Value> {
    let list: Value =
        expect_json(app.get(&format!("/v1/groups/{group}/offers"), Some(token)).await, StatusCode::OK).await;
    list["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn an_offer_is_issued_once_per_key_and_only_by_staff_of_an_offer_discount() {
    let app = TestApp::spawn().await;
    let (staff, group, half, _) = setup(&app, None).await;
    let (_, customer) = app.customer().await;
    let path = format!("/v1/groups/{group}/offers");
    let body = json!({"discount_id": half});
    let first: Value = expect_json(app.post_once(&path, &staff, "offer-1", &body).await, StatusCode::CREATED).await;
    assert_eq!(
        (&first["state"], &first["region"], &first["discount_id"]),
        (&json!("open"), &json!("001"), &json!(half))
    );
    let again = app.post_once(&path, &staff, "offer-1", &body).await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap()["id"], first["id"], "the same key issues one offer");
    let other = json!({"discount_id": half, "expires_at": "2099-01-01T00:00:00Z"});
    expect_error(
        app.post_once(&path, &staff, "offer-1", &other).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    )
    .await;
    assert_eq!(offers_of(&app, &staff, &group).await.len(), 1);

    expect_error(app.post_once(&path, &customer, "mine", &body).await, StatusCode::FORBIDDEN, "forbidden").await;
    expect_error(app.post(&path, Some(&staff), &body).await, StatusCode::BAD_REQUEST, "missing_idempotency_key").await;
    let everyone = app.discount(&staff, json!({"name": "All", "percent_off": 5, "audience": "everyone"})).await;
    let cases = [
        (json!({"discount_id": everyone["id"]}), StatusCode::BAD_REQUEST, "invalid_input"),
        (json!({"discount_id": "001-zzzzzz"}), StatusCode::NOT_FOUND, "not_found"),
        (json!({"discount_id": "nope"}), StatusCode::BAD_REQUEST, "invalid_id"),
        (json!({"discount_id": half, "expires_at": "2020-01-01T00:00:00Z"}), StatusCode::BAD_REQUEST, "invalid_input"),
        (
            json!({"discount_id": half, "expires_at": "+200000-01-01T00:00:00Z"}),
            StatusCode::BAD_REQUEST,
            "invalid_input",
        ),
    ];
    for (i, (body, status, code)) in cases.into_iter().enumerate() {
        expect_error(app.post_once(&path, &staff, &format!("bad-{i}"), &body).await, status, code).await;
    }
    let stranger = app.post_once("/v1/groups/001-zzzzzz/offers", &staff, "ghost", &json!({"discount_id": half})).await;
    expect_error(stranger, StatusCode::NOT_FOUND, "not_found").await;
    // Their pool's offers are the customer's own business: another customer sees none.
    expect_error(app.get(&path, Some(&customer)).await, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn ten_bills_racing_for_one_offer_use_it_once_and_a_quote_leaves_it_open() {
    let app = TestApp::spawn().await;
    let (staff, group, half, bill) = setup(&app, None).await;
    let offer: Value = expect_json(
        app.post_once(&format!("/v1/groups/{group}/offers"), &staff, "one", &json!({"discount_id": half})).await,
        StatusCode::CREATED,
    )
    .await;
    let quote: Value = expect_json(app.post("/v1/bills/quote", Some(&staff), &bill).await, StatusCode::OK).await;
    assert_eq!((&quote["discount_cents"], &quote["discounts"][0]["offer_id"]), (&json!(1_000), &offer["id"]));
    assert_eq!(offers_of(&app, &staff, &group).await[0]["state"], "open", "a quote uses nothing");

    let bills = join_all((0..10).map(|i| {
        let (app, staff, bill) = (&app, &staff, &bill);
        async move {
            let res = app.post_once("/v1/bills", staff, &format!("race-{i}"), bill).await;
            expect_json::<Value>(res, StatusCode::CREATED).await
        }
    }))
    .await;
    let with_offer: Vec<&Value> = bills.iter().filter(|b| b["discount_cents"] == 1_000).collect();
    assert_eq!(with_offer.len(), 1, "exactly one bill used the offer: {bills:?}");
    assert_eq!(with_offer[0]["discounts"][0]["offer_id"], offer["id"]);
    assert_eq!(bills.iter().filter(|b| b["discount_cents"] == 0 && b["points_awarded"] == 20).count(), 9);
    let offers = offers_of(&app, &staff, &group).await;
    assert_eq!((&offers[0]["state"], &offers[0]["used_by_bill"]), (&json!("used"), &with_offer[0]["id"]));
    assert_eq!(app.assert_ledger_consistent(&group), 10 + 9 * 20);
}

#[tokio::test]
async fn every_third_bill_issues_one_offer_and_the_next_bill_uses_it() {
    let app = TestApp::spawn().await;
    let (staff, group, _, bill) = setup(&app, Some(3)).await;
    let bills = join_all((0..9).map(|i| {
        let (app, staff, bill) = (&app, &staff, &bill);
        async move {
            expect_json::<Value>(app.post_once("/v1/bills", staff, &format!("n-{i}"), bill).await, StatusCode::CREATED)
                .await
        }
    }))
    .await;
    // Bills 3, 6 and 9 issue an offer; bills 4 and 7 use the two before; the last stays open.
    let offers = offers_of(&app, &staff, &group).await;
    let states: Vec<&str> = offers.iter().map(|o| o["state"].as_str().unwrap()).collect();
    assert_eq!(offers.len(), 3, "{offers:?}");
    assert_eq!(states.iter().filter(|s| **s == "used").count(), 2, "{offers:?}");
    assert_eq!(bills.iter().filter(|b| b["discount_cents"] == 1_000).count(), 2, "{bills:?}");
    // The same again: counted per group and store, not reset.
    for i in 9..12 {
        expect_json::<Value>(app.post_once("/v1/bills", &staff, &format!("n-{i}"), &bill).await, StatusCode::CREATED)
            .await;
    }
    assert_eq!(offers_of(&app, &staff, &group).await.len(), 4);
}

#[tokio::test]
async fn an_expired_offer_is_shown_as_such_and_not_used() {
    let app = TestApp::spawn().await;
    let (staff, group, half, bill) = setup(&app, None).await;
    let soon = (chrono::Utc::now() + chrono::Duration::milliseconds(1_500)).to_rfc3339();
    let path = format!("/v1/groups/{group}/offers");
    app.post_once(&path, &staff, "soon", &json!({"discount_id": half, "expires_at": soon})).await;
    tokio::time::sleep(std::time::Duration::from_millis(1_700)).await;
    let billed: Value = expect_json(app.post_once("/v1/bills", &staff, "late", &bill).await, StatusCode::CREATED).await;
    assert_eq!((&billed["discount_cents"], &billed["discounts"]), (&json!(0), &json!([])));
    assert_eq!(offers_of(&app, &staff, &group).await[0]["state"], "expired");
}
