//! Closing an account through the router: refused while the user is in a group of
//! another region, then the user's token is refused, every region that keeps their
//! email's directory entry forgets it and refuses that user's confirmation for good (as
//! the router's repair or a retried event would send it), and the email signs up again.

use std::time::{Duration, Instant};

use crate::support::{PASSWORD, Stack, expect_error, expect_json};
use contract::dto::User;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

/// `path` of region `region`'s API, as the router would call it.
#[allow(clippy::unwrap_used)] // test helper
async fn internal(stack: &Stack, region: &str, method: Method, path: &str, body: Option<&Value>) -> Response {
    let mut req = stack
        .http
        .raw(method, &format!("{}{path}", stack.api_url(region, 0)))
        .header("X-Service-Token", stack.service_token());
    if let Some(body) = body {
        req = req.json(body);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn a_closed_accounts_email_is_forgotten_by_every_region_and_signs_up_again() {
    let stack = Stack::start(1);
    let (ann, token) = stack.customer("001").await;
    let (_, olga) = stack.customer("003").await;
    let group = stack.new_group(&olga, "Club", "Lima", "002").await;
    let gid = group.id.as_str();
    expect_json::<Value>(stack.invite_and_join(&olga, gid, ann.id.as_str(), &token, false).await, StatusCode::CREATED)
        .await;
    let account = format!("/v1/users/{}", ann.id);
    let closure = json!({"current_password": PASSWORD});

    // In a group of 002, as her home region's index knows once the join's event is in: she
    // leaves it first.
    let groups = format!("{account}/groups");
    stack
        .eventually("001's index learns of the join", || async {
            let listed: Value = expect_json(stack.get(&groups, Some(&token)).await, StatusCode::OK).await;
            listed["items"].as_array().unwrap().iter().any(|g| g["id"] == gid)
        })
        .await;
    let refused = stack.request(Method::DELETE, &account, Some(&token), Some(&closure)).await;
    expect_error(refused, StatusCode::CONFLICT, "still_a_member").await;
    let leave = format!("/v1/groups/{gid}/members/{}", ann.id);
    assert_eq!(stack.request(Method::DELETE, &leave, Some(&token), None).await.status(), StatusCode::NO_CONTENT);
    // The leave reaches 001 through the outbox; until then she is still a member there.
    let started = Instant::now();
    loop {
        let res = stack.request(Method::DELETE, &account, Some(&token), Some(&closure)).await;
        if res.status() == StatusCode::NO_CONTENT {
            break;
        }
        expect_error(res, StatusCode::CONFLICT, "still_a_member").await;
        assert!(started.elapsed() < Duration::from_secs(10), "the leave never reached 001");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    expect_error(stack.get(&account, Some(&token)).await, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let staff = stack.staff("002").await;
    expect_error(stack.get(&account, Some(&staff)).await, StatusCode::NOT_FOUND, "not_found").await;

    // Every region that kept her email's entry forgets it, and refuses her from then on.
    let email = ann.email.clone();
    let regions: Vec<contract::RegionId> = crate::support::regions().iter().map(|r| r.parse().unwrap()).collect();
    let directory = contract::directory::directory_regions(&contract::email::Email::parse(&email).unwrap(), &regions);
    let look_up = format!("/internal/directory?email={email}");
    for region in &directory {
        let region = region.as_str();
        stack
            .eventually(&format!("{region} forgets the entry"), || async {
                internal(&stack, region, Method::GET, &look_up, None).await.status() == StatusCode::NOT_FOUND
            })
            .await;
        let again = json!({"email": email, "user_id": ann.id});
        let res = internal(&stack, region, Method::POST, "/internal/directory/confirmations", Some(&again)).await;
        expect_error(res, StatusCode::CONFLICT, "email_taken").await;
        assert_eq!(internal(&stack, region, Method::GET, &look_up, None).await.status(), StatusCode::NOT_FOUND);
    }

    // The email is free: it signs up again, homed elsewhere, as someone new.
    let body = json!({"email": email, "password": PASSWORD, "full_name": "Ann Again", "home_region": "003"});
    let fresh: User = expect_json(stack.post("/v1/users", None, &body).await, StatusCode::CREATED).await;
    assert_eq!(fresh.home_region.as_str(), "003");
    assert_eq!(stack.login(&email, PASSWORD).await.user_id, fresh.id);
}
