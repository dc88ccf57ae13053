//! Logout and role changes revoke tokens before they expire: at once on the instance
//! that revoked, within a poll (`auth.revocation_poll_ms`) on every other instance.

use std::time::{Duration, Instant};

use crate::support::{ADMIN_EMAIL, PASSWORD, TestApp, expect_error, expect_json};
use contract::dto::{Role, User};
use reqwest::StatusCode;
use serde_json::json;

/// Polls `path` with `token` at `base` until it is refused, returning how long that took.
#[allow(clippy::unwrap_used)] // test helper
async fn refused_within(app: &TestApp, base: &str, path: &str, token: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let res = app.http.raw(client::Method::GET, &format!("{base}{path}")).bearer_auth(token).send().await.unwrap();
        if res.status() == StatusCode::UNAUTHORIZED {
            return started.elapsed();
        }
        assert_eq!(res.status(), StatusCode::OK);
        assert!(started.elapsed() < limit, "{path} still served to a revoked token after {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_logout_revokes_that_token_only_and_all_revokes_every_one() {
    let app = TestApp::spawn_with(|c| c.auth.revocation_poll_ms = 200).await;
    // A second instance of the region, which learns of revocations by polling.
    let second = app.sibling().await;

    let (user, first) = app.customer().await;
    let me = format!("/v1/users/{}", user.id);
    let other = app.login(&user.email, PASSWORD).await.token;
    let third = app.login(&user.email, PASSWORD).await.token;
    expect_json::<User>(app.get(&me, Some(&first)).await, StatusCode::OK).await;

    let res = app.delete(&format!("{me}/sessions"), Some(&first)).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let refused = expect_error(app.get(&me, Some(&first)).await, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    assert!(refused["error"]["message"].as_str().unwrap().contains("revoked"), "{refused}");
    let took = refused_within(&app, &second.base, &me, &first, Duration::from_secs(3)).await;
    eprintln!("a logout reached the second instance in {took:?}");
    // The user's other sessions go on.
    expect_json::<User>(app.get(&me, Some(&other)).await, StatusCode::OK).await;
    // A revoked token cannot log itself out again, nor anything else.
    expect_error(
        app.delete(&format!("{me}/sessions"), Some(&first)).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;

    let res = app.delete(&format!("{me}/sessions?all=true"), Some(&other)).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    for token in [&other, &third] {
        expect_error(app.get(&me, Some(token)).await, StatusCode::UNAUTHORIZED, "unauthenticated").await;
        refused_within(&app, &second.base, &me, token, Duration::from_secs(3)).await;
    }
    // A new login works at once, on both instances (issued after the revocation).
    let fresh = app.login(&user.email, PASSWORD).await.token;
    expect_json::<User>(app.get(&me, Some(&fresh)).await, StatusCode::OK).await;
    let res =
        app.http.raw(client::Method::GET, &format!("{}{me}", second.base)).bearer_auth(&fresh).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn nobody_else_can_log_a_user_out_but_an_admin() {
    let app = TestApp::spawn().await;
    let [(user, token), (_, stranger)] = app.customers().await;
    let staff = app.staff_token().await;
    let path = format!("/v1/users/{}/sessions?all=true", user.id);
    // The same 404 as for a user who does not exist.
    let hidden = expect_error(app.delete(&path, Some(&stranger)).await, StatusCode::NOT_FOUND, "not_found").await;
    let missing = expect_error(
        app.delete("/v1/users/001-zzzzzz/sessions", Some(&stranger)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(
        hidden["error"]["message"].as_str().unwrap().replace(user.id.as_str(), "X"),
        missing["error"]["message"].as_str().unwrap().replace("001-zzzzzz", "X")
    );
    expect_error(app.delete(&path, Some(&staff)).await, StatusCode::FORBIDDEN, "forbidden").await;
    expect_error(app.delete(&path, None).await, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    expect_json::<User>(app.get(&format!("/v1/users/{}", user.id), Some(&token)).await, StatusCode::OK).await;

    let admin = app.admin_token().await;
    assert_eq!(app.delete(&path, Some(&admin)).await.status(), StatusCode::NO_CONTENT);
    expect_error(
        app.get(&format!("/v1/users/{}", user.id), Some(&token)).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    expect_error(app.delete("/v1/users/001-zzzzzz/sessions", Some(&admin)).await, StatusCode::NOT_FOUND, "not_found")
        .await;
}

#[tokio::test]
async fn a_role_change_revokes_the_tokens_that_carry_the_old_role() {
    let app = TestApp::spawn().await;
    let (user, token) = app.customer().await;
    let me = format!("/v1/users/{}", user.id);
    // Nobody promotes themselves, and staff promote nobody.
    expect_error(app.patch(&me, Some(&token), &json!({"role": "staff"})).await, StatusCode::FORBIDDEN, "forbidden")
        .await;
    let staff = app.staff_token().await;
    expect_error(app.patch(&me, Some(&staff), &json!({"role": "staff"})).await, StatusCode::FORBIDDEN, "forbidden")
        .await;
    expect_json::<User>(app.get(&me, Some(&token)).await, StatusCode::OK).await;

    let admin = app.admin_token().await;
    let promoted: User =
        expect_json(app.patch(&me, Some(&admin), &json!({"role": "staff"})).await, StatusCode::OK).await;
    assert_eq!(promoted.role, Role::Staff);
    expect_error(app.get(&me, Some(&token)).await, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let session = app.login(&user.email, PASSWORD).await;
    assert_eq!(session.role, Role::Staff);
    expect_json::<User>(app.get(&me, Some(&session.token)).await, StatusCode::OK).await;
    // The same role again changes nothing and revokes nothing.
    expect_json::<User>(app.patch(&me, Some(&admin), &json!({"role": "staff"})).await, StatusCode::OK).await;
    expect_json::<User>(app.get(&me, Some(&session.token)).await, StatusCode::OK).await;

    // An admin cannot demote themselves (the last admin would lock everyone out).
    let admin_id = app.login(ADMIN_EMAIL, PASSWORD).await.user_id;
    let res = app.patch(&format!("/v1/users/{admin_id}"), Some(&admin), &json!({"role": "customer"})).await;
    expect_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    expect_error(
        app.patch(&me, Some(&admin), &json!({"role": "owner"})).await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
    )
    .await;
}
