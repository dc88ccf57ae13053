//! The limits a real deployment runs with, through the router, each client address
//! spoken as by a load balancer (`X-Forwarded-For`): a flood of logins from one address
//! is told to wait while another address is served, and a stranger who fails on
//! purpose cannot lock an account's owner out.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::{Response, StatusCode};
use serde_json::json;

use crate::support::{Options, PASSWORD, Stack};

async fn log_in_from(stack: &Stack, address: &str, email: &str, password: &str) -> Response {
    stack
        .client
        .post(format!("{}/v1/sessions", stack.router))
        .header("x-forwarded-for", address)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn one_address_flooding_logins_waits_and_cannot_lock_an_owner_out() {
    let stack = Stack::start_with(Options { instances: 1, drill: false, real_limits: true });
    let (owner, _) = stack.customer("002").await;

    // A stranger guesses the owner's password from one address: five failures, then that
    // (email, address) pair waits, longer with each further failure.
    let mut answers = Vec::new();
    for _ in 0..7 {
        let res = log_in_from(&stack, "198.51.100.7", &owner.email, "wrong password").await;
        answers.push((res.status(), res.headers().get("retry-after").cloned()));
    }
    assert!(answers[..5].iter().all(|(s, _)| *s == StatusCode::UNAUTHORIZED), "{answers:?}");
    assert!(answers[5..].iter().all(|(s, wait)| *s == StatusCode::TOO_MANY_REQUESTS && wait.is_some()), "{answers:?}");
    // The owner, from their own address, is not locked out.
    let res = log_in_from(&stack, "203.0.113.9", &owner.email, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::CREATED);

    // A flood of logins for unknown emails from one address: its burst (20) is served,
    // the rest is told to wait by the router, and no answer is a 5xx.
    let mut statuses = Vec::new();
    let started = std::time::Instant::now();
    for n in 0..30 {
        let res = log_in_from(&stack, "192.0.2.1", &format!("nobody-{n}@stack.test"), "wrong password").await;
        let waited = res.headers().contains_key("retry-after");
        statuses.push(res.status());
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(waited);
            let body: serde_json::Value = res.json().await.unwrap();
            assert_eq!(body["error"]["code"], "rate_limited");
        }
    }
    // The bucket refills one login a second.
    let refilled = started.elapsed().as_secs() as usize + 1;
    let served = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    assert!(served >= 20 && served <= 20 + refilled && served < 30, "{statuses:?} in {:?}", started.elapsed());
    assert!(statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED || *s == StatusCode::TOO_MANY_REQUESTS));
    // Meanwhile another address logs in as usual.
    let res = log_in_from(&stack, "192.0.2.2", &owner.email, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::CREATED);
}
