//! Points writes under retries, duplicates and races: one key applies once, concurrent
//! redemptions never overdraw, and a batch keeps each write its own.

use crate::support::{Funded, TestApp, expect_error, expect_json, redeemed_or_insufficient};
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

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
    let (ok, insufficient) = redeemed_or_insufficient(responses).await;
    assert_eq!(ok, 237 / amount, "exactly floor(balance / amount) succeed");
    assert_eq!(insufficient, 50 - 237 / amount);
    assert_eq!(app.assert_ledger_consistent(&gid), 237 % amount);
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
