//! Bills and redemptions: pricing, idempotency, concurrency, and the invariants
//! `points == sum(ledger)` and `points >= 0` after every scenario.

use crate::support::{TestApp, expect_error, expect_json};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn a_bill_is_priced_by_the_server_and_awards_points() {
    let app = TestApp::spawn_with(|c| c.points_per_unit = 2).await;
    let (user, _) = app.customer().await;
    let staff = app.staff_token().await;
    let burger = app.item(1_250, 100).await;
    let fries = app.item(399, 40).await;
    let body = json!({"user_id": user.id, "store_region": "001",
                      "items": [{"item_id": burger, "qty": 2}, {"item_id": fries, "qty": 3}]});
    // The quote tells the till what the bill will come to, and writes nothing.
    let quote: Value = expect_json(app.post("/v1/bills/quote", Some(&staff), &body).await, StatusCode::OK).await;
    assert_eq!(
        (&quote["gross_cents"], &quote["discount_cents"], &quote["amount_cents"], &quote["points_awarded"]),
        (&json!(3_697), &json!(0), &json!(3_697), &json!(72))
    );
    assert_eq!((&quote["balance"], &quote["discounts"]), (&json!(0), &json!([])));
    assert_eq!(quote["group_id"], json!(user.personal_group_id));
    assert_eq!(app.assert_ledger_consistent(user.personal_group_id.as_str()), 0, "a quote writes nothing");
    let bill: Value = expect_json(app.post_once("/v1/bills", &staff, "bill-1", &body).await, StatusCode::CREATED).await;
    // 2 × 12.50 + 3 × 3.99 = 36.97 → 36 whole units × 2 points.
    assert_eq!(bill["amount_cents"], 3_697);
    assert_eq!(bill["points_awarded"], 72);
    assert_eq!(bill["balance_after"], 72);
    assert_eq!(bill["group_id"], json!(user.personal_group_id));
    assert_eq!(bill["store_region"], "001");
    assert!(bill["id"].as_str().unwrap().starts_with("001-") && bill["id"].as_str().unwrap().len() == 30);
    assert_eq!(app.assert_ledger_consistent(user.personal_group_id.as_str()), 72);
    let again: Value = expect_json(app.post("/v1/bills/quote", Some(&staff), &body).await, StatusCode::OK).await;
    assert_eq!((&again["points_awarded"], &again["balance"]), (&json!(72), &json!(72)));
}

#[tokio::test]
async fn bills_are_for_staff_and_admins_and_their_input_is_checked() {
    let app = TestApp::spawn().await;
    let (user, customer) = app.customer().await;
    let staff = app.staff_token().await;
    let item = app.item(1_000, 10).await;
    let good = json!({"user_id": user.id, "store_region": "001", "items": [{"item_id": item, "qty": 1}]});
    expect_error(app.post_once("/v1/bills", &customer, "k", &good).await, StatusCode::FORBIDDEN, "forbidden").await;
    let res = app.post("/v1/bills/quote", Some(&customer), &good).await;
    expect_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = app.post("/v1/bills", Some(&staff), &good).await;
    expect_error(res, StatusCode::BAD_REQUEST, "missing_idempotency_key").await;
    expect_error(
        app.post_once("/v1/bills", &staff, &"k".repeat(256), &good).await,
        StatusCode::BAD_REQUEST,
        "missing_idempotency_key",
    )
    .await;

    let unavailable = app.item(500, 5).await;
    let admin = app.admin_token().await;
    app.patch(&format!("/v1/catalogue/{unavailable}"), Some(&admin), &json!({"available": false})).await;
    let (other, _) = app.customer().await;
    let many: Vec<Value> = (0..101).map(|_| json!({"item_id": item, "qty": 1})).collect();
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (json!({"items": []}), StatusCode::BAD_REQUEST, "invalid_input"),
        (json!({"items": many}), StatusCode::BAD_REQUEST, "invalid_input"),
        (json!({"items": [{"item_id": item, "qty": 0}]}), StatusCode::BAD_REQUEST, "invalid_input"),
        (json!({"items": [{"item_id": item, "qty": 101}]}), StatusCode::BAD_REQUEST, "invalid_input"),
        (json!({"items": [{"item_id": "burger", "qty": 1}]}), StatusCode::BAD_REQUEST, "invalid_id"),
        (json!({"items": [{"item_id": "001-zzzzzz", "qty": 1}]}), StatusCode::NOT_FOUND, "not_found"),
        (json!({"items": [{"item_id": unavailable, "qty": 1}]}), StatusCode::CONFLICT, "item_unavailable"),
        (json!({"items": [{"item_id": item, "qty": 1, "price_cents": 1}]}), StatusCode::BAD_REQUEST, "invalid_input"),
        (json!({"user_id": "nobody"}), StatusCode::BAD_REQUEST, "invalid_id"),
        (json!({"user_id": "001-zzzzzz"}), StatusCode::NOT_FOUND, "not_found"),
        (json!({"store_region": "009"}), StatusCode::NOT_FOUND, "unknown_region"),
        (json!({"store_region": "01"}), StatusCode::BAD_REQUEST, "invalid_input"),
        (json!({"group_id": other.personal_group_id}), StatusCode::FORBIDDEN, "forbidden"),
        (json!({"group_id": "001-zzzzzz"}), StatusCode::NOT_FOUND, "not_found"),
        (json!({"amount_cents": 100}), StatusCode::BAD_REQUEST, "invalid_input"),
    ];
    for (i, (change, status, code)) in cases.into_iter().enumerate() {
        let mut body = good.clone();
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let res = app.post_once("/v1/bills", &staff, &format!("bad-{i}"), &body).await;
        expect_error(res, status, code).await;
        // A quote refuses what the bill would, in the same words.
        expect_error(app.post("/v1/bills/quote", Some(&staff), &body).await, status, code).await;
    }
    assert_eq!(app.assert_ledger_consistent(user.personal_group_id.as_str()), 0, "no refused bill changed anything");
}

#[tokio::test]
async fn redemptions_by_item_and_who_may_redeem() {
    let app = TestApp::spawn().await;
    let [(ann, ann_token), (_, bob_token)] = app.customers().await;
    let gid = ann.personal_group_id.as_str();
    app.award(ann.id.as_str(), None, 10_000, 1).await; // 100 points
    let coffee = app.item(300, 25).await;
    let path = format!("/v1/groups/{gid}/redemptions");

    let res = app.post_once(&path, &ann_token, "coffee", &json!({"item_id": coffee, "qty": 2})).await;
    let redemption: Value = expect_json(res, StatusCode::CREATED).await;
    assert_eq!(redemption["points"], 50);
    assert_eq!(redemption["balance_after"], 50);
    assert_eq!(redemption["user_id"], json!(ann.id));

    let ledger: Value =
        expect_json(app.get(&format!("/v1/groups/{gid}/transactions"), Some(&ann_token)).await, StatusCode::OK).await;
    assert_eq!(ledger["items"][0]["kind"], "redeem");
    assert_eq!(ledger["items"][0]["points"], -50);
    assert_eq!(ledger["items"][0]["idempotency_key"], "coffee");
    assert_eq!(ledger["items"][0]["actor_id"], json!(ann.id));
    assert_eq!(ledger["items"][1]["kind"], "award");
    assert_eq!(ledger["items"][1]["amount_cents"], 10_000);

    // A stranger who learnt the id: the group is not there for them, and the refusal came
    // before the write was queued (a refusal the batch decides is recorded with its key;
    // this one left no record).
    expect_error(
        app.post_once(&path, &bob_token, "steal", &json!({"points": 1})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    {
        use api::db::schema::idempotency_records::dsl as r;
        use diesel::prelude::*;
        let records: i64 =
            r::idempotency_records.filter(r::key.eq("steal")).count().get_result(&mut app.db.connect()).unwrap();
        assert_eq!(records, 0, "the stranger's redemption never reached the group's batch");
    }
    let staff = app.staff_token().await;
    expect_error(
        app.post_once(&path, &staff, "staff", &json!({"points": 1})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    for (i, bad) in [
        json!({"points": 0}),
        json!({"points": -5}),
        json!({}),
        json!({"points": 5, "item_id": coffee}),
        json!({"item_id": coffee, "qty": 0}),
        json!({"points": 1.5}),
        json!({"points": "5"}),
    ]
    .iter()
    .enumerate()
    {
        let res = app.post_once(&path, &ann_token, &format!("bad-{i}"), bad).await;
        expect_error(res, StatusCode::BAD_REQUEST, "invalid_input").await;
    }
    let res = app.post_once(&path, &ann_token, "too-much", &json!({"points": 51})).await;
    expect_error(res, StatusCode::CONFLICT, "insufficient_points").await;
    let res = app.post_once("/v1/groups/001-zzzzzz/redemptions", &ann_token, "nowhere", &json!({"points": 1})).await;
    expect_error(res, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(app.assert_ledger_consistent(gid), 50);
}

#[tokio::test]
async fn only_members_allowed_to_redeem_do_and_every_entry_names_its_actor() {
    let app = TestApp::spawn().await;
    let [(ann, ann_token), (bob, bob_token), (carl, carl_token)] = app.customers().await;
    let group = app.group(&ann_token).await;
    let gid = group.id.as_str();
    app.invite_and_join(&ann_token, gid, bob.id.as_str(), &bob_token, false).await;
    app.invite_and_join(&ann_token, gid, carl.id.as_str(), &carl_token, true).await;
    let bill = app.award(bob.id.as_str(), Some(gid), 10_000, 1).await; // 100 points
    let path = format!("/v1/groups/{gid}/redemptions");

    // Bob is a member without the right: refused, and nothing is spent.
    expect_error(
        app.post_once(&path, &bob_token, "b1", &json!({"points": 10})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    expect_json::<Value>(app.post_once(&path, &carl_token, "c1", &json!({"points": 10})).await, StatusCode::CREATED)
        .await;
    expect_json::<Value>(app.post_once(&path, &ann_token, "a1", &json!({"points": 10})).await, StatusCode::CREATED)
        .await;
    // Granted, Bob redeems; withdrawn, he is refused again at once (on this instance).
    let bob_in = format!("/v1/groups/{gid}/members/{}", bob.id);
    expect_json::<Value>(app.patch(&bob_in, Some(&ann_token), &json!({"can_redeem": true})).await, StatusCode::OK)
        .await;
    expect_json::<Value>(app.post_once(&path, &bob_token, "b2", &json!({"points": 10})).await, StatusCode::CREATED)
        .await;
    expect_json::<Value>(app.patch(&bob_in, Some(&ann_token), &json!({"can_redeem": false})).await, StatusCode::OK)
        .await;
    expect_error(
        app.post_once(&path, &bob_token, "b3", &json!({"points": 10})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    // Removed by the owner, Carl no longer sees the group at all.
    assert_eq!(
        app.delete(&format!("/v1/groups/{gid}/members/{}", carl.id), Some(&ann_token)).await.status(),
        StatusCode::NO_CONTENT
    );
    expect_error(
        app.post_once(&path, &carl_token, "c2", &json!({"points": 10})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(app.assert_ledger_consistent(gid), 70);

    // Every entry says who did it: the staff member who billed, the member who redeemed.
    let ledger: Value =
        expect_json(app.get(&format!("/v1/groups/{gid}/transactions"), Some(&ann_token)).await, StatusCode::OK).await;
    let actors: Vec<(String, String)> = ledger["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap().to_owned(), e["actor_id"].as_str().unwrap().to_owned()))
        .collect();
    let staff_id = app.login(crate::support::STAFF_EMAIL, crate::support::PASSWORD).await.user_id.to_string();
    assert_eq!(
        actors,
        vec![
            ("redeem".to_owned(), bob.id.to_string()),
            ("redeem".to_owned(), ann.id.to_string()),
            ("redeem".to_owned(), carl.id.to_string()),
            ("award".to_owned(), staff_id.clone()),
        ]
    );
    assert_eq!(ledger["items"][3]["id"], bill.id.as_str());
    assert_eq!(ledger["items"][3]["user_id"], json!(bob.id));
}

#[tokio::test]
async fn staff_do_not_bill_themselves() {
    let app = TestApp::spawn().await;
    let staff = app.login(crate::support::STAFF_EMAIL, crate::support::PASSWORD).await;
    let item = app.item(1_000, 10).await;
    let body = json!({"user_id": staff.user_id, "store_region": "001", "items": [{"item_id": item, "qty": 1}]});
    expect_error(app.post_once("/v1/bills", &staff.token, "self", &body).await, StatusCode::FORBIDDEN, "forbidden")
        .await;
    // An admin bills them (admins may do everything).
    let admin = app.admin_token().await;
    expect_json::<Value>(app.post_once("/v1/bills", &admin, "by-admin", &body).await, StatusCode::CREATED).await;
}

/// A right the spending transaction finds withdrawn (as another instance of the region
/// would withdraw it) is forgotten at once: the next redemption is turned away before the
/// queue, where the one before was refused by the batch.
#[tokio::test]
async fn a_right_the_batch_finds_withdrawn_is_forgotten_by_the_admission_check() {
    use api::db::schema::group_members::dsl as m;
    use api::db::schema::idempotency_records::dsl as r;
    use diesel::prelude::*;

    let app = TestApp::spawn().await;
    let [(ann, ann_token), (carl, carl_token)] = app.customers().await;
    let group = app.group(&ann_token).await;
    let gid = group.id.as_str();
    app.invite_and_join(&ann_token, gid, carl.id.as_str(), &carl_token, true).await;
    app.award(ann.id.as_str(), Some(gid), 10_000, 1).await;
    let path = format!("/v1/groups/{gid}/redemptions");
    expect_json::<Value>(app.post_once(&path, &carl_token, "first", &json!({"points": 1})).await, StatusCode::CREATED)
        .await;

    // Withdrawn behind this instance's back.
    diesel::update(m::group_members.filter(m::group_id.eq(gid)).filter(m::user_id.eq(carl.id.as_str())))
        .set(m::can_redeem.eq(false))
        .execute(&mut app.db.connect())
        .unwrap();
    let recorded = |key: &str| -> i64 {
        r::idempotency_records.filter(r::key.eq(key)).count().get_result(&mut app.db.connect()).unwrap()
    };
    expect_error(
        app.post_once(&path, &carl_token, "second", &json!({"points": 1})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_eq!(recorded("second"), 1, "the remembered right let it reach the batch, which refused it");
    expect_error(
        app.post_once(&path, &carl_token, "third", &json!({"points": 1})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_eq!(recorded("third"), 0, "forgotten: turned away before the queue");
    assert_eq!(app.assert_ledger_consistent(gid), 99);
}
