//! Bearer tokens through the router, sent as a forger would: made up, tampered with,
//! signed with a key no region holds, signed by one region's leaked key for another
//! region's user as an admin, or expired. The router checks each one's signature before
//! it forwards or fans out, so none of them costs a region a call; a real token goes on.

// Test-only code: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::Duration;
use contract::dto::Role;
use contract::token::{Signer, new_signing_key};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{Stack, expect_error, regions};

/// Requests every region has answered 401 (each region's one instance).
async fn refused_by_regions(stack: &Stack) -> f64 {
    let mut refused = 0.0;
    for region in regions() {
        let url = format!("{}/metrics", stack.api_url(&region, 0));
        let text = stack.http.raw(Method::GET, &url).send().await.unwrap().text().await.unwrap();
        refused += text
            .lines()
            .filter(|l| l.starts_with("http_requests_total{") && l.contains("status=\"401\""))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>();
    }
    refused
}

#[tokio::test]
async fn a_token_no_region_signed_for_its_user_never_leaves_the_router() {
    let stack = Stack::start(1);
    let (ann, token) = stack.customer("001").await;
    let id = ann.id.to_string();
    let seed = |region: &str| std::fs::read_to_string(stack.state.join("keys").join(format!("{region}.seed"))).unwrap();
    let own = Signer::from_seed("001k1", &seed("001")).unwrap();
    let leaked = Signer::from_seed("002k1", &seed("002")).unwrap();
    let stranger = Signer::from_seed("001k1", &new_signing_key().0).unwrap();
    let minute = Duration::seconds(60);
    let forged = [
        "garbage".to_owned(),
        format!("{token}x"),
        stranger.issue(&id, Role::Admin, minute).unwrap().0,
        leaked.issue(&id, Role::Admin, minute).unwrap().0,
        own.issue(&id, Role::Customer, Duration::seconds(-60)).unwrap().0,
    ];
    let pool = ann.personal_group_id.to_string();
    let gets = [
        format!("/v1/users/{id}/groups"),
        format!("/v1/users/{id}/activity"),
        format!("/v1/users?email={}", ann.email),
        format!("/v1/groups/{pool}"),
    ];
    let redeem = format!("/v1/groups/{pool}/redemptions");
    let before = refused_by_regions(&stack).await;

    for bad in &forged {
        for path in &gets {
            expect_error(stack.get(path, Some(bad)).await, StatusCode::UNAUTHORIZED, "unauthenticated").await;
        }
        let res = stack.post_once(&stack.router, &redeem, bad, "forged", &json!({"points": 1})).await;
        expect_error(res, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
    assert_eq!(refused_by_regions(&stack).await, before, "no forged token reached a region");

    // The real token, and one the region's own key signs now, still go through.
    let fresh = own.issue(&id, Role::Customer, minute).unwrap().0;
    for good in [&token, &fresh] {
        assert_eq!(stack.get(&gets[0], Some(good)).await.status(), StatusCode::OK);
    }
}
