//! Bills and redemptions: pricing, idempotency, concurrency, and the invariants
//! `points == sum(ledger)` and `points >= 0` after every scenario.

mod support;

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{Funded, TestApp, expect_error, expect_json};

#[tokio::test]
async fn a_bill_is_priced_by_the_server_and_awards_points() {
    let app = TestApp::spawn_with(|c| c.points_per_unit = 2).await;
    let (user, _) = app.customer().await;
    let staff = app.staff_token().await;
    let burger = app.item(1_250, 100).await;
    let fries = app.item(399, 40).await;
    let body = json!({"user_id": user.id, "store_region": "001",
                      "items": [{"item_id": burger, "qty": 2}, {"item_id": fries, "qty": 3}]});
    let bill: Value = expect_json(app.post_once("/v1/bills", &staff, "bill-1", &body).await, StatusCode::CREATED).await;
    // 2 × 12.50 + 3 × 3.99 = 36.97 → 36 whole units × 2 points.
    assert_eq!(bill["amount_cents"], 3_697);
    assert_eq!(bill["points_awarded"], 72);
    assert_eq!(bill["balance_after"], 72);
    assert_eq!(bill["group_id"], json!(user.personal_group_id));
    assert_eq!(bill["store_region"], "001");
    assert!(bill["id"].as_str().unwrap().starts_with("001-") && bill["id"].as_str().unwrap().len() == 30);
    assert_eq!(app.assert_ledger_consistent(user.personal_group_id.as_str()), 72);
}

#[tokio::test]
async fn bills_are_for_staff_and_admins_and_their_input_is_checked() {
    let app = TestApp::spawn().await;
    let (user, customer) = app.customer().await;
    let staff = app.staff_token().await;
    let item = app.item(1_000, 10).await;
    let good = json!({"user_id": user.id, "store_region": "001", "items": [{"item_id": item, "qty": 1}]});
    expect_error(app.post_once("/v1/bills", &customer, "k", &good).await, StatusCode::FORBIDDEN, "forbidden").await;
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
    }
    assert_eq!(app.assert_ledger_consistent(user.personal_group_id.as_str()), 0, "no refused bill changed anything");
}

#[tokio::test]
async fn a_retried_request_is_applied_once_and_replayed() {
    let app = TestApp::spawn().await;
    let Funded { user, token, group, redemptions: path } = app.customer_with_points(100).await;
    let gid = group.as_str();

    let first = app.post_once(&path, &token, "redeem-1", &json!({"points": 30})).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first_body = first.text().await.unwrap();

    // Same key, same body (even spelled differently): the first answer, nothing applied.
    let again = app
        .http
        .raw(client::Method::POST, &format!("{}{path}", app.base))
        .bearer_auth(&token)
        .header("Idempotency-Key", "redeem-1")
        .header("content-type", "application/json")
        .body("{ \"points\" : 30 }")
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again_body: Value = serde_json::from_str(&again.text().await.unwrap()).unwrap();
    assert_eq!(again_body, serde_json::from_str::<Value>(&first_body).unwrap());
    assert_eq!(app.assert_ledger_consistent(gid), 70);

    // Same key, different body: refused, nothing applied.
    let res = app.post_once(&path, &token, "redeem-1", &json!({"points": 31})).await;
    expect_error(res, StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused").await;
    // Keys are scoped to the caller: another caller's same key is a new request.
    let admin = app.admin_token().await;
    expect_json::<Value>(app.post_once(&path, &admin, "redeem-1", &json!({"points": 30})).await, StatusCode::CREATED)
        .await;
    assert_eq!(app.assert_ledger_consistent(gid), 40);

    // A definite refusal is remembered too: the replay says the same, even once the
    // balance would allow it.
    let res = app.post_once(&path, &token, "redeem-2", &json!({"points": 50})).await;
    let refused = expect_error(res, StatusCode::CONFLICT, "insufficient_points").await;
    app.award(user.id.as_str(), None, 10_000, 1).await;
    let res = app.post_once(&path, &token, "redeem-2", &json!({"points": 50})).await;
    assert_eq!(res.headers()["idempotent-replayed"], "true");
    let replayed: Value = expect_json(res, StatusCode::CONFLICT).await;
    assert_eq!(replayed, refused);
    assert_eq!(app.assert_ledger_consistent(gid), 140);
}

#[tokio::test]
async fn twenty_concurrent_requests_with_one_key_apply_once() {
    let app = TestApp::spawn().await;
    let (user, _) = app.customer().await;
    let staff = app.staff_token().await;
    let item = app.item(500, 10).await;
    let body = json!({"user_id": user.id, "store_region": "001", "items": [{"item_id": item, "qty": 2}]});
    let responses = join_all((0..20).map(|_| app.post_once("/v1/bills", &staff, "same-key", &body))).await;
    let mut ids = Vec::new();
    let mut fresh = 0;
    for res in responses {
        let replayed = res.headers().contains_key("idempotent-replayed");
        let status = res.status();
        let text = res.text().await.unwrap();
        // Duplicates wait for the first and replay it (or, per contract, could get 409).
        match status {
            StatusCode::CREATED => {
                fresh += usize::from(!replayed);
                ids.push(serde_json::from_str::<Value>(&text).unwrap()["id"].clone());
            }
            StatusCode::CONFLICT => assert!(text.contains("idempotency_in_progress"), "{text}"),
            other => panic!("unexpected {other}: {text}"),
        }
    }
    assert_eq!(fresh, 1, "exactly one request was applied");
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "every answer names the same ledger entry");
    let gid = user.personal_group_id.as_str();
    assert_eq!(app.assert_ledger_consistent(gid), 10);
    use api::db::schema::ledger_entries::dsl as l;
    use diesel::prelude::*;
    let entries: i64 = l::ledger_entries.filter(l::group_id.eq(gid)).count().get_result(&mut app.db.connect()).unwrap();
    assert_eq!(entries, 1);
}

#[tokio::test]
async fn fifty_concurrent_redemptions_never_overdraw() {
    let app = TestApp::spawn().await;
    let Funded { token, group: gid, redemptions: path, .. } = app.customer_with_points(237).await;
    let amount = 10;
    let responses = join_all((0..50).map(|i| {
        let (app, path, token) = (&app, &path, &token);
        async move { app.post_once(path, token, &format!("r-{i}"), &json!({"points": amount})).await }
    }))
    .await;
    let mut ok = 0;
    let mut insufficient = 0;
    for res in responses {
        match res.status() {
            StatusCode::CREATED => ok += 1,
            StatusCode::CONFLICT => {
                expect_error(res, StatusCode::CONFLICT, "insufficient_points").await;
                insufficient += 1;
            }
            other => panic!("unexpected {other}: {}", res.text().await.unwrap()),
        }
    }
    assert_eq!(ok, 237 / amount, "exactly floor(balance / amount) succeed");
    assert_eq!(insufficient, 50 - 237 / amount);
    assert_eq!(app.assert_ledger_consistent(&gid), 237 % amount);
}

#[tokio::test]
async fn redemptions_by_item_and_who_may_redeem() {
    let app = TestApp::spawn().await;
    let (ann, ann_token) = app.customer().await;
    let (_, bob_token) = app.customer().await;
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

/// Concurrent writes to one group share transactions (group commit), and within a batch
/// each request is still on its own: a duplicate key in the same batch replays, a
/// refusal refuses only itself, every balance_after follows the one before.
#[tokio::test]
async fn concurrent_writes_to_one_group_are_batched_and_each_stays_its_own() {
    let app = TestApp::spawn().await;
    let Funded { token, group: gid, redemptions: path, .. } = app.customer_with_points(100).await;
    // 60 requests: keys k-0..k-39 (k-0..k-19 sent twice), 3 points each; 100 / 3 = 33 fit.
    let responses = join_all((0..60).map(|i| {
        let (app, path, token) = (&app, &path, &token);
        async move {
            let key = format!("k-{}", i % 40);
            let res = app.post_once(path, token, &key, &json!({"points": 3})).await;
            let replayed = res.headers().contains_key("idempotent-replayed");
            (key, res.status(), replayed, res.json::<Value>().await.unwrap())
        }
    }))
    .await;
    let mut by_key: std::collections::BTreeMap<String, Vec<(StatusCode, bool, Value)>> = Default::default();
    for (key, status, replayed, body) in responses {
        by_key.entry(key).or_default().push((status, replayed, body));
    }
    let mut applied = 0;
    for (key, answers) in &by_key {
        // Both answers to a duplicated key are the same answer, one of them a replay.
        if answers.len() == 2 {
            assert_eq!(answers[0].0, answers[1].0, "{key}");
            assert_eq!(answers[0].2, answers[1].2, "{key}");
            assert!(answers[0].1 ^ answers[1].1, "exactly one replay for {key}");
        }
        match answers[0].0 {
            StatusCode::CREATED => applied += 1,
            StatusCode::CONFLICT => assert_eq!(answers[0].2["error"]["code"], "insufficient_points"),
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(applied, 33);
    assert_eq!(app.assert_ledger_consistent(&gid), 1);
    // Batches really formed: more requests than transactions.
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    let figure = |name: &str| -> f64 {
        metrics.lines().find(|l| l.starts_with(name)).and_then(|l| l.rsplit(' ').next()?.parse().ok()).unwrap_or(0.0)
    };
    let (requests, batches) = (figure("points_batch_size_sum"), figure("points_batch_size_count"));
    assert!(requests > batches, "{requests} requests in {batches} transactions");
}

#[tokio::test]
async fn only_members_allowed_to_redeem_do_and_every_entry_names_its_actor() {
    let app = TestApp::spawn().await;
    let (ann, ann_token) = app.customer().await;
    let (bob, bob_token) = app.customer().await;
    let (carl, carl_token) = app.customer().await;
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
    let staff_id = app.login(support::STAFF_EMAIL, support::PASSWORD).await.user_id.to_string();
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
    let staff = app.login(support::STAFF_EMAIL, support::PASSWORD).await;
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
    let (ann, ann_token) = app.customer().await;
    let (carl, carl_token) = app.customer().await;
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
