//! Idempotency keys through the router, used as an attacker would: the same write sent
//! fifty times at once, a key sent again with another body or to another path, a
//! stranger sending someone else's key and body, and keys that are missing or malformed.
//! A key is the caller's: it replays only the caller's own write, and only exactly it.

// Test-only code: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use contract::dto::Group;
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Stack, expect_error, expect_json};

async fn points(stack: &Stack, token: &str, group: &str) -> i64 {
    let read: Group = expect_json(stack.get(&format!("/v1/groups/{group}"), Some(token)).await, StatusCode::OK).await;
    read.points
}

#[tokio::test]
async fn a_key_replays_only_its_own_callers_exact_write() {
    let stack = Stack::start(1);
    let staff = stack.staff("001").await;
    let (ann, ann_token) = stack.customer("001").await;
    let (eve, eve_token) = stack.customer("002").await;
    let item = stack.add_item(&staff, "001", "Keyed stew", 5_000, 10).await;
    let bill = json!({"user_id": ann.id, "store_region": "001", "items": [{"item_id": item["id"], "qty": 1}]});
    stack.bill(&staff, "keys-bill", &bill).await;
    let pool = ann.personal_group_id.to_string();
    assert_eq!(points(&stack, &ann_token, &pool).await, 50);
    let redeem = format!("/v1/groups/{pool}/redemptions");
    let five = json!({"points": 5});

    // Fifty at once with one key: one redemption, fifty equal answers.
    let answers = join_all((0..50).map(|_| stack.post_once(&stack.router, &redeem, &ann_token, "spend", &five))).await;
    let mut bodies = Vec::new();
    for res in answers {
        bodies.push(expect_json::<Value>(res, StatusCode::CREATED).await);
    }
    assert!(bodies.iter().all(|b| b == &bodies[0]), "every answer is the one redemption's");
    assert_eq!(points(&stack, &ann_token, &pool).await, 45);

    // Ann's key "spend" sent again, each refused with nothing done: with another body; to
    // another of her pools in the region (records are kept by the region that runs the
    // write, ARCHITECTURE.md, so a pool of another region is checked against its own); and
    // by a stranger, who gets no replay of her answer on her pool nor on his own.
    let second = stack.new_group(&ann_token, "Keyed second pool", "Lyon", "001").await;
    let second_redeem = format!("/v1/groups/{}/redemptions", second.id);
    let eve_redeem = format!("/v1/groups/{}/redemptions", eve.personal_group_id);
    let reused = (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused");
    let refusals = [
        (&redeem, &ann_token, json!({"points": 1}), reused),
        (&second_redeem, &ann_token, five.clone(), reused),
        (&redeem, &eve_token, five.clone(), (StatusCode::NOT_FOUND, "not_found")),
        (&eve_redeem, &eve_token, five.clone(), (StatusCode::CONFLICT, "insufficient_points")),
    ];
    for (path, token, body, (status, code)) in refusals {
        expect_error(stack.post_once(&stack.router, path, token, "spend", &body).await, status, code).await;
    }
    assert_eq!(points(&stack, &ann_token, &pool).await, 45);

    // No key, or one that is not 1 to 255 printable ASCII characters: refused first.
    expect_error(
        stack.post(&redeem, Some(&ann_token), &five).await,
        StatusCode::BAD_REQUEST,
        "missing_idempotency_key",
    )
    .await;
    for bad in ["x".repeat(256), "tab\there".to_owned(), String::new()] {
        let res = stack.post_once(&stack.router, &redeem, &ann_token, &bad, &five).await;
        expect_error(res, StatusCode::BAD_REQUEST, "missing_idempotency_key").await;
    }
    assert_eq!(points(&stack, &ann_token, &pool).await, 45);
}
