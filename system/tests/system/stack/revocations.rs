//! Tokens revoked in one region are refused in the others within a poll, and a region
//! that hangs holds up neither the others' revocations nor the events they owe each other.

use std::time::{Duration, Instant};

use crate::support::{PASSWORD, Stack, expect_error, expect_json};
use contract::dto::User;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Polls `path` with `token` through the router until it is refused; how long that took.
#[allow(clippy::unwrap_used)] // test helper
async fn refused_after(stack: &Stack, path: &str, token: &str) -> Duration {
    let started = Instant::now();
    loop {
        let res = stack.get(path, Some(token)).await;
        if res.status() == StatusCode::UNAUTHORIZED {
            return started.elapsed();
        }
        assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
        assert!(started.elapsed() < Duration::from_secs(5), "{path} still served to a revoked token");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A region that hangs (its fault link drops traffic: every call to it waits for its
/// timeout) must hold up nothing the other regions owe each other: each region's token
/// denylist is followed, and each destination's events sent, on its own.
#[tokio::test]
async fn a_hung_region_delays_neither_the_others_revocations_nor_their_events() {
    let stack = Stack::with_faults();
    // Customers of 002 whose tokens 001 checks (each owns a group kept in 001).
    let mut logouts = Vec::new();
    for n in 0..5 {
        let (user, token) = stack.customer("002").await;
        let group = stack.new_group(&token, &format!("Hung {n}"), "Lyon", "001").await;
        logouts.push((user, token, format!("/v1/groups/{}", group.id)));
    }
    // Pairs of membership changes in groups of 001: the owner removing a customer of 003
    // (an event for 003), then a customer of 002 joining (an event for 002). Removals by
    // the owner, not writes of 003's users: once 003's denylist has gone unread for
    // `auth.revocation_stale_ms`, 001 refuses those.
    let (_, owner) = stack.customer("001").await;
    let for_003 = stack.new_group(&owner, "For 003", "Lyon", "001").await;
    let for_002 = stack.new_group(&owner, "For 002", "Lyon", "001").await;
    let mut joins = Vec::new();
    for _ in 0..5 {
        let (far, far_token) = stack.customer("003").await;
        let res = stack.invite_and_join(&owner, for_003.id.as_str(), far.id.as_str(), &far_token, false).await;
        expect_json::<Value>(res, StatusCode::CREATED).await;
        joins.push((far, stack.customer("002").await));
    }
    stack.fault("api-003-0", json!({"fault": "drop"})).await;

    let mut slowest_logout = Duration::ZERO;
    for (user, token, group_path) in &logouts {
        // Spread over the 003 calls' timeouts and backoff.
        tokio::time::sleep(Duration::from_millis(1_300)).await;
        let path = format!("/v1/users/{}/sessions", user.id);
        let res = stack.request(reqwest::Method::DELETE, &path, Some(token), None).await;
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        let took = refused_after(&stack, group_path, token).await;
        eprintln!("with 003 hanging, a logout in 002 was refused by 001 after {took:?}");
        slowest_logout = slowest_logout.max(took);
    }
    let mut slowest_event = Duration::ZERO;
    for (far, (near, near_token)) in &joins {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let removal = format!("/v1/groups/{}/members/{}", for_003.id, far.id);
        let res = stack.request(reqwest::Method::DELETE, &removal, Some(&owner), None).await;
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        let res = stack.invite_and_join(&owner, for_002.id.as_str(), near.id.as_str(), near_token, false).await;
        expect_json::<Value>(res, StatusCode::CREATED).await;
        let joined = Instant::now();
        let me = format!("/v1/users/{}", near.id);
        while !expect_json::<User>(stack.get(&me, Some(near_token)).await, StatusCode::OK)
            .await
            .groups
            .contains(&for_002.id)
        {
            assert!(joined.elapsed() < Duration::from_secs(10), "the membership never reached 002");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let took = joined.elapsed();
        eprintln!("with 003 hanging, a membership reached 002's index after {took:?}");
        slowest_event = slowest_event.max(took);
    }
    stack.heal().await;
    // One poll (1 s) and the time to see it; the relay's pause (250 ms) and a delivery.
    assert!(
        slowest_logout < Duration::from_millis(1_500),
        "a hung region held up 002's revocations: {slowest_logout:?}"
    );
    assert!(
        slowest_event < Duration::from_millis(1_000),
        "a hung region held up the events for 002: {slowest_event:?}"
    );
}

#[tokio::test]
async fn a_revoked_token_is_refused_in_every_region_within_a_poll() {
    let stack = Stack::start(1);
    // A role change in 003 reaches 001: the old token carried the old role.
    let (promoted, old) = stack.customer("003").await;
    let group = stack.new_group(&old, "Near", "Paris", "001").await;
    let group_path = format!("/v1/groups/{}", group.id);
    let admin = stack.admin().await;
    let (path, body) = (format!("/v1/users/{}", promoted.id), json!({"role": "staff"}));
    let res = stack.request(reqwest::Method::PATCH, &path, Some(&admin), Some(&body)).await;
    let changed: User = expect_json(res, StatusCode::OK).await;
    assert_eq!(changed.role, contract::dto::Role::Staff);
    let took = refused_after(&stack, &group_path, &old).await;
    eprintln!("a role change in 003 was refused by 001 after {took:?}");
    let fresh = stack.login(&promoted.email, PASSWORD).await;
    assert_eq!(fresh.role, contract::dto::Role::Staff);
    expect_json::<Value>(stack.get(&group_path, Some(&fresh.token)).await, StatusCode::OK).await;

    // A password change in 002 (through the router) ends the user's sessions in 001 too.
    let (changer, before) = stack.customer("002").await;
    let group = stack.new_group(&before, "Changed", "Lyon", "001").await;
    let group_path = format!("/v1/groups/{}", group.id);
    let change = json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"});
    let path = format!("/v1/users/{}/password", changer.id);
    let res = stack.request(reqwest::Method::PUT, &path, Some(&before), Some(&change)).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let took = refused_after(&stack, &group_path, &before).await;
    eprintln!("a password change in 002 was refused by 001 after {took:?}");
    let after = stack.login(&changer.email, "a brand new passphrase").await;
    expect_json::<Value>(stack.get(&group_path, Some(&after.token)).await, StatusCode::OK).await;

    // Region 003 goes down: the other regions' revocations still travel.
    stack.kill_api("003", 0);
    // A customer of 001 with a group kept in 002: the token is checked by 002 too.
    let (user, token) = stack.customer("001").await;
    let group = stack.new_group(&token, "Far", "Lima", "002").await;
    let group_path = format!("/v1/groups/{}", group.id);
    expect_json::<Value>(stack.get(&group_path, Some(&token)).await, StatusCode::OK).await;
    let res =
        stack.request(reqwest::Method::DELETE, &format!("/v1/users/{}/sessions", user.id), Some(&token), None).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    // The home region refuses at once; the group's region within its poll (1 s).
    let home = stack.get(&format!("/v1/users/{}", user.id), Some(&token)).await;
    expect_error(home, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let took = refused_after(&stack, &group_path, &token).await;
    eprintln!("with 003 down, a logout in 001 was refused by 002 after {took:?}");
}

/// A stolen token fired at the password change many times at once, through the router:
/// only `auth.login_max_failures` (5) guesses are checked before the lockout refuses the
/// rest unchecked, and the right password then waits too. Logins likewise.
#[tokio::test]
async fn a_burst_of_password_guesses_is_checked_only_until_the_lockout() {
    let stack = Stack::start(1);
    let (user, token) = stack.customer("002").await;
    let path = format!("/v1/users/{}/password", user.id);
    let guesses = (0..40).map(|n| {
        let body = json!({"current_password": format!("guess number {n}"), "new_password": "a brand new passphrase"});
        let (stack, path, token) = (&stack, &path, &token);
        async move { stack.request(reqwest::Method::PUT, path, Some(token), Some(&body)).await.status() }
    });
    let statuses = futures_util::future::join_all(guesses).await;
    let checked = statuses.iter().filter(|s| **s == StatusCode::FORBIDDEN).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    eprintln!("40 guesses at once: {checked} checked (403), {refused} refused (429)");
    assert_eq!(checked + refused, 40, "{statuses:?}");
    assert!(checked <= 5, "{checked} guesses were checked against the password");
    let right = json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"});
    let res = stack.request(reqwest::Method::PUT, &path, Some(&token), Some(&right)).await;
    assert!(res.headers().contains_key("retry-after"));
    expect_error(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    expect_json::<User>(stack.get(&format!("/v1/users/{}", user.id), Some(&token)).await, StatusCode::OK).await;

    // The same for logins of one email from one address: five passwords are tried.
    let (victim, _) = stack.customer("003").await;
    let logins = (0..40).map(|n| {
        let body = json!({"email": victim.email, "password": format!("guess number {n}")});
        let stack = &stack;
        async move { stack.post("/v1/sessions", None, &body).await.status() }
    });
    let statuses = futures_util::future::join_all(logins).await;
    let tried = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    eprintln!("40 logins at once: {tried} passwords tried (401), {refused} refused (429)");
    assert_eq!((tried, refused), (5, 35), "{statuses:?}");
}
