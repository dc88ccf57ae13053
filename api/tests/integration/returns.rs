//! Returns (contract v1.2): a return takes back exactly what the bill paid and awarded
//! for the lines returned, whatever the menu or the discounts say today; never more than
//! was bought; and where the points were spent, the group owes them and its next awards
//! pay them back, its balance never below zero.

use crate::support::{TestApp, expect_error, expect_json};
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[allow(clippy::unwrap_used)] // test helper
async fn give_back(app: &TestApp, staff: &str, bill: &Value, key: &str, body: Value) -> reqwest::Response {
    let path = format!("/v1/bills/{}/returns", bill["id"].as_str().unwrap());
    app.post_once(&path, staff, key, &body).await
}

#[tokio::test]
async fn returns_take_back_the_lines_share_as_billed_to_the_cent_and_point() {
    let app = TestApp::spawn().await;
    let staff = app.staff_token().await;
    let (user, _) = app.customer().await;
    let group = user.personal_group_id.to_string();
    let (soup, wine) = (app.dish(&staff, "mains", 1_250).await, app.dish(&staff, "drinks", 999).await);
    let tenth = app.discount(&staff, json!({"name": "Tenth", "percent_off": 10, "audience": "everyone"})).await;
    let body = json!({"user_id": user.id, "store_region": "001",
                      "items": [{"item_id": soup, "qty": 3}, {"item_id": wine, "qty": 1}]});
    let bill: Value = expect_json(app.post_once("/v1/bills", &staff, "b", &body).await, StatusCode::CREATED).await;
    // 47.49 less 4.74 = 42.75 paid, 42 points. The discount splits 3.74 / 1.00 over the
    // lines, so the soups were paid 33.76 (33 points) and the wine 8.99 (9 points).
    assert_eq!((&bill["amount_cents"], &bill["points_awarded"]), (&json!(4_275), &json!(42)));

    // Today's menu and discounts do not matter: the bill's own figures are returned.
    app.delete(&format!("/v1/discounts/{}", tenth["id"].as_str().unwrap()), Some(&staff)).await;
    app.patch(&format!("/v1/catalogue/{soup}"), Some(&staff), &json!({"price_cents": 9_999})).await;

    let one = json!({"lines": [{"item_id": soup, "qty": 1}]});
    let first: Value = expect_json(give_back(&app, &staff, &bill, "r1", one.clone()).await, StatusCode::CREATED).await;
    assert_eq!(
        (&first["amount_cents"], &first["points_reversed"], &first["points_taken"], &first["balance_after"]),
        (&json!(1_125), &json!(11), &json!(11), &json!(31))
    );
    assert_eq!(first["bill_id"], bill["id"]);
    let replay = give_back(&app, &staff, &bill, "r1", one).await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.json::<Value>().await.unwrap(), first, "a retried return applies once");
    let two = json!({"lines": [{"item_id": soup, "qty": 2}]});
    let second: Value = expect_json(give_back(&app, &staff, &bill, "r2", two).await, StatusCode::CREATED).await;
    assert_eq!(
        (&second["amount_cents"], &second["points_reversed"]),
        (&json!(2_251), &json!(22)),
        "the rest of the line"
    );
    // The receipt says what each line was paid and earned, and how much of it came back.
    let receipt = format!("/v1/bills/{}", bill["id"].as_str().unwrap());
    let read: Value = expect_json(app.get(&receipt, Some(&staff)).await, StatusCode::OK).await;
    assert_eq!((&read["bill"], &read["returns"]), (&bill, &json!([first, second])));
    assert_eq!(
        read["lines"],
        json!([{"item_id": soup, "qty": 3, "paid_cents": 3_376, "points": 33, "returned_qty": 3},
               {"item_id": wine, "qty": 1, "paid_cents": 899, "points": 9, "returned_qty": 0}])
    );
    let more = json!({"lines": [{"item_id": soup, "qty": 1}]});
    expect_error(give_back(&app, &staff, &bill, "r3", more).await, StatusCode::CONFLICT, "already_returned").await;
    let rest: Value = expect_json(give_back(&app, &staff, &bill, "r4", json!({})).await, StatusCode::CREATED).await;
    assert_eq!(
        (&rest["amount_cents"], &rest["points_reversed"], &rest["balance_after"]),
        (&json!(899), &json!(9), &json!(0))
    );
    expect_error(give_back(&app, &staff, &bill, "r5", json!({})).await, StatusCode::CONFLICT, "already_returned").await;
    assert_eq!(1_125 + 2_251 + 899, 4_275, "every cent paid, refunded once");
    assert_eq!(app.assert_ledger_consistent(&group), 0);
    let ledger: Value =
        expect_json(app.get(&format!("/v1/groups/{group}/transactions"), Some(&staff)).await, StatusCode::OK).await;
    assert_eq!((&ledger["items"][0]["kind"], &ledger["items"][0]["bill_id"]), (&json!("return"), &bill["id"]));
}

#[tokio::test]
async fn returns_racing_for_one_line_take_it_once() {
    let app = TestApp::spawn().await;
    let staff = app.staff_token().await;
    let (user, _) = app.customer().await;
    let soup = app.dish(&staff, "mains", 1_000).await;
    let body = json!({"user_id": user.id, "store_region": "001", "items": [{"item_id": soup, "qty": 3}]});
    let bill: Value = expect_json(app.post_once("/v1/bills", &staff, "b", &body).await, StatusCode::CREATED).await;
    let answers = join_all((0..8).map(|i| {
        let (app, staff, bill) = (&app, &staff, &bill);
        let one = json!({"lines": [{"item_id": soup, "qty": 1}]});
        async move { give_back(app, staff, bill, &format!("race-{i}"), one).await.status() }
    }))
    .await;
    assert_eq!(answers.iter().filter(|s| **s == StatusCode::CREATED).count(), 3, "{answers:?}");
    assert_eq!(answers.iter().filter(|s| **s == StatusCode::CONFLICT).count(), 5, "{answers:?}");
    assert_eq!(app.assert_ledger_consistent(user.personal_group_id.as_str()), 0);
}

#[tokio::test]
async fn spent_points_returned_become_a_debt_the_next_awards_pay_first() {
    let app = TestApp::spawn().await;
    let staff = app.staff_token().await;
    let funded = app.customer_with_points(20).await;
    let redeemed = app.post_once(&funded.redemptions, &funded.token, "spend", &json!({"points": 15})).await;
    expect_json::<Value>(redeemed, StatusCode::CREATED).await;
    let ledger: Value =
        expect_json(app.get(&format!("/v1/groups/{}/transactions", funded.group), Some(&staff)).await, StatusCode::OK)
            .await;
    let bill = ledger["items"][1].clone();
    assert_eq!(bill["kind"], "award");

    let back: Value = expect_json(give_back(&app, &staff, &bill, "back", json!({})).await, StatusCode::CREATED).await;
    assert_eq!(
        (&back["points_reversed"], &back["points_taken"], &back["points_owed"], &back["balance_after"]),
        (&json!(20), &json!(5), &json!(15), &json!(0)),
        "the balance never goes below zero; the rest is owed"
    );
    // The next awards pay the debt first: 10 of 10, then 5 of 10.
    let first = app.award(funded.user.id.as_str(), None, 1_000, 1).await;
    assert_eq!((first.points_awarded, first.debt_paid, first.balance_after), (10, 10, 0));
    let second = app.award(funded.user.id.as_str(), None, 1_000, 1).await;
    assert_eq!((second.points_awarded, second.debt_paid, second.balance_after), (10, 5, 5));
    let third = app.award(funded.user.id.as_str(), None, 1_000, 1).await;
    assert_eq!((third.debt_paid, third.balance_after), (0, 15));
    assert_eq!(app.assert_ledger_consistent(&funded.group), 15);
    let ledger: Value =
        expect_json(app.get(&format!("/v1/groups/{}/transactions", funded.group), Some(&staff)).await, StatusCode::OK)
            .await;
    let changes: Vec<&Value> = ledger["items"].as_array().into_iter().flatten().map(|e| &e["debt_change"]).collect();
    assert_eq!(changes[..4], [&Value::Null, &json!(-5), &json!(-10), &json!(15)], "the ledger shows the debt");
}

#[tokio::test]
async fn returning_the_whole_bill_opens_its_offer_again_and_strangers_are_refused() {
    let app = TestApp::spawn().await;
    let staff = app.staff_token().await;
    let (user, customer) = app.customer().await;
    let group = user.personal_group_id.to_string();
    let soup = app.dish(&staff, "mains", 2_000).await;
    let half = app.discount(&staff, json!({"name": "Half", "percent_off": 50, "audience": "offer"})).await;
    let offers = format!("/v1/groups/{group}/offers");
    app.post_once(&offers, &staff, "o", &json!({"discount_id": half["id"]})).await;
    let body = json!({"user_id": user.id, "store_region": "001", "items": [{"item_id": soup, "qty": 2}]});
    let bill: Value = expect_json(app.post_once("/v1/bills", &staff, "b", &body).await, StatusCode::CREATED).await;
    assert_eq!(bill["discount_cents"], 2_000);

    let one = json!({"lines": [{"item_id": soup, "qty": 1}]});
    expect_json::<Value>(give_back(&app, &staff, &bill, "c", one.clone()).await, StatusCode::CREATED).await;
    let state = |list: Value| list["items"][0]["state"].clone();
    let list: Value = expect_json(app.get(&offers, Some(&staff)).await, StatusCode::OK).await;
    assert_eq!(state(list), "used", "a partly returned bill keeps its offer");
    expect_json::<Value>(give_back(&app, &staff, &bill, "d", one).await, StatusCode::CREATED).await;
    let list: Value = expect_json(app.get(&offers, Some(&staff)).await, StatusCode::OK).await;
    assert_eq!((state(list.clone()), &list["items"][0]["used_by_bill"]), (json!("open"), &Value::Null));

    expect_error(give_back(&app, &customer, &bill, "mine", json!({})).await, StatusCode::FORBIDDEN, "forbidden").await;
    let nobody = json!({"id": format!("001-{}", ulid::Ulid::new())});
    expect_error(give_back(&app, &staff, &nobody, "x", json!({})).await, StatusCode::NOT_FOUND, "not_found").await;
    let malformed = json!({"id": "001-nope"});
    expect_error(give_back(&app, &staff, &malformed, "y", json!({})).await, StatusCode::BAD_REQUEST, "invalid_id")
        .await;
    let zero = json!({"lines": [{"item_id": soup, "qty": 0}]});
    expect_error(give_back(&app, &staff, &bill, "z", zero).await, StatusCode::BAD_REQUEST, "invalid_input").await;
    let path = format!("/v1/bills/{}/returns", bill["id"].as_str().unwrap_or_default());
    expect_error(app.post(&path, Some(&staff), &json!({})).await, StatusCode::BAD_REQUEST, "missing_idempotency_key")
        .await;
}

/// A receipt is read by staff, the group's members and the customer billed, even once
/// they have left the group; to anyone else, and for an id that is no bill, there is none.
#[tokio::test]
async fn a_receipt_is_for_staff_the_group_and_the_customer_billed() {
    let app = TestApp::spawn().await;
    let staff = app.staff_token().await;
    let [(_, ann_token), (bob, bob_token), (_, eve_token)] = app.customers().await;
    let gid = app.group(&ann_token).await.id.to_string();
    app.invite_and_join(&ann_token, &gid, bob.id.as_str(), &bob_token, true).await;
    let soup = app.dish(&staff, "mains", 1_000).await;
    let body =
        json!({"user_id": bob.id, "group_id": gid, "store_region": "001", "items": [{"item_id": soup, "qty": 2}]});
    let bill: Value = expect_json(app.post_once("/v1/bills", &staff, "b", &body).await, StatusCode::CREATED).await;
    let receipt = format!("/v1/bills/{}", bill["id"].as_str().unwrap());
    for token in [&staff, &ann_token, &bob_token] {
        let read: Value = expect_json(app.get(&receipt, Some(token)).await, StatusCode::OK).await;
        assert_eq!(read["bill"], bill);
    }
    expect_error(app.get(&receipt, Some(&eve_token)).await, StatusCode::NOT_FOUND, "not_found").await;
    expect_error(app.get(&receipt, None).await, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let left = app.delete(&format!("/v1/groups/{gid}/members/{}", bob.id), Some(&bob_token)).await;
    assert_eq!(left.status(), StatusCode::NO_CONTENT);
    expect_json::<Value>(app.get(&receipt, Some(&bob_token)).await, StatusCode::OK).await;

    // Ledger entries that are no bill, and ids no bill of this region can have.
    let redeemed =
        app.post_once(&format!("/v1/groups/{gid}/redemptions"), &ann_token, "r", &json!({"points": 1})).await;
    let redemption: Value = expect_json(redeemed, StatusCode::CREATED).await;
    for (id, status, code) in [
        (redemption["id"].as_str().unwrap(), StatusCode::NOT_FOUND, "not_found"),
        ("001-01JD3Q6M2V8X4Y5Z6A7B8C9D0E", StatusCode::NOT_FOUND, "not_found"),
        ("002-01JD3Q6M2V8X4Y5Z6A7B8C9D0E", StatusCode::MISDIRECTED_REQUEST, "misdirected"),
        ("001-x'OR'1'='1", StatusCode::BAD_REQUEST, "invalid_id"),
    ] {
        expect_error(app.get(&format!("/v1/bills/{id}"), Some(&staff)).await, status, code).await;
    }
}
