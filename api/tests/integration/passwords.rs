//! Changing a password: only with the current one (a stolen token alone takes nothing),
//! wrong guesses locked out per user, and every token of the user revoked with it.

use std::time::Duration;

use crate::support::{ADMIN_EMAIL, PASSWORD, TestApp, expect_error, expect_json};
use contract::dto::{Session, User};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

const NEW_PASSWORD: &str = "a longer new passphrase";

async fn put_password(app: &TestApp, uid: &str, token: Option<&str>, body: &Value) -> Response {
    app.request(Method::PUT, &format!("/v1/users/{uid}/password"), token, Some(body)).await
}

async fn log_in(app: &TestApp, email: &str, password: &str) -> Response {
    app.post("/v1/sessions", None, &json!({"email": email, "password": password})).await
}

#[tokio::test]
async fn a_change_needs_the_current_password_and_revokes_every_token() {
    let app = TestApp::spawn_with(|c| c.auth.revocation_poll_ms = 200).await;
    let second = app.sibling().await;
    let (user, token) = app.customer().await;
    let other = app.login(&user.email, PASSWORD).await.token;
    let uid = user.id.as_str();

    let missing = put_password(&app, uid, Some(&token), &json!({"new_password": NEW_PASSWORD})).await;
    expect_error(missing, StatusCode::FORBIDDEN, "forbidden").await;
    let short = json!({"current_password": PASSWORD, "new_password": "short"});
    expect_error(put_password(&app, uid, Some(&token), &short).await, StatusCode::BAD_REQUEST, "invalid_input").await;
    let wrong = json!({"current_password": "not the password", "new_password": NEW_PASSWORD});
    expect_error(put_password(&app, uid, Some(&token), &wrong).await, StatusCode::FORBIDDEN, "forbidden").await;
    let extra = json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD, "role": "admin"});
    expect_error(put_password(&app, uid, Some(&token), &extra).await, StatusCode::BAD_REQUEST, "invalid_input").await;
    // Nothing refused changed anything.
    expect_json::<User>(app.get(&format!("/v1/users/{uid}"), Some(&other)).await, StatusCode::OK).await;
    expect_json::<Session>(log_in(&app, &user.email, PASSWORD).await, StatusCode::CREATED).await;

    let change = json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD});
    assert_eq!(put_password(&app, uid, Some(&token), &change).await.status(), StatusCode::NO_CONTENT);
    let me = format!("/v1/users/{uid}");
    for held in [&token, &other] {
        expect_error(app.get(&me, Some(held)).await, StatusCode::UNAUTHORIZED, "unauthenticated").await;
        let started = std::time::Instant::now();
        loop {
            let url = format!("{}{me}", second.base);
            let res = app.http.raw(Method::GET, &url).bearer_auth(held.as_str()).send().await.unwrap();
            if res.status() == StatusCode::UNAUTHORIZED {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(3), "the second instance still serves an old token");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // A retry of the change carries a revoked token: refused, and nothing changes again.
    expect_error(put_password(&app, uid, Some(&token), &change).await, StatusCode::UNAUTHORIZED, "unauthenticated")
        .await;
    expect_error(log_in(&app, &user.email, PASSWORD).await, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let fresh: Session = expect_json(log_in(&app, &user.email, NEW_PASSWORD).await, StatusCode::CREATED).await;
    expect_json::<User>(app.get(&me, Some(&fresh.token)).await, StatusCode::OK).await;
}

#[tokio::test]
async fn a_stolen_token_cannot_guess_the_password_for_long() {
    let app = TestApp::spawn_with(|c| {
        c.auth.login_max_failures = 2;
        c.auth.login_lockout_secs = 300;
    })
    .await;
    let (user, token) = app.customer().await;
    let uid = user.id.as_str();
    let guess = |n: usize| json!({"current_password": format!("guess number {n}"), "new_password": NEW_PASSWORD});
    for n in 0..2 {
        expect_error(put_password(&app, uid, Some(&token), &guess(n)).await, StatusCode::FORBIDDEN, "forbidden").await;
    }
    // Locked: even the right password waits, and says how long.
    let right = json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD});
    let res = put_password(&app, uid, Some(&token), &right).await;
    let retry_after = res.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
    expect_error(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert_eq!(retry_after.as_deref(), Some("1"));
    // The guesses lock the change only: the user still logs in, and uses the token.
    expect_json::<Session>(log_in(&app, &user.email, PASSWORD).await, StatusCode::CREATED).await;
    expect_json::<User>(app.get(&format!("/v1/users/{uid}"), Some(&token)).await, StatusCode::OK).await;

    tokio::time::sleep(Duration::from_millis(1_100)).await;
    // One more wrong guess after the wait locks for twice as long.
    expect_error(put_password(&app, uid, Some(&token), &guess(3)).await, StatusCode::FORBIDDEN, "forbidden").await;
    let res = put_password(&app, uid, Some(&token), &right).await;
    assert_eq!(res.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("2"));
    expect_error(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    assert_eq!(put_password(&app, uid, Some(&token), &right).await.status(), StatusCode::NO_CONTENT);
    expect_json::<Session>(log_in(&app, &user.email, NEW_PASSWORD).await, StatusCode::CREATED).await;
}

#[tokio::test]
async fn only_the_user_or_an_admin_sets_a_password() {
    let app = TestApp::spawn().await;
    let [(user, token), (_, stranger)] = app.customers().await;
    let uid = user.id.as_str();
    let body = json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD});
    // A stranger who knows both the id and the password is answered as for nobody.
    let hidden =
        expect_error(put_password(&app, uid, Some(&stranger), &body).await, StatusCode::NOT_FOUND, "not_found").await;
    let nobody = "001-zzzzzz";
    let missing =
        expect_error(put_password(&app, nobody, Some(&stranger), &body).await, StatusCode::NOT_FOUND, "not_found")
            .await;
    assert_eq!(
        hidden["error"]["message"].as_str().unwrap().replace(uid, "X"),
        missing["error"]["message"].as_str().unwrap().replace(nobody, "X")
    );
    let staff = app.staff_token().await;
    expect_error(put_password(&app, uid, Some(&staff), &body).await, StatusCode::FORBIDDEN, "forbidden").await;
    expect_error(put_password(&app, uid, None, &body).await, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    expect_json::<Session>(log_in(&app, &user.email, PASSWORD).await, StatusCode::CREATED).await;

    // An admin resets another user's password without knowing it; the user's tokens go.
    let admin = app.admin_token().await;
    let reset = json!({"new_password": NEW_PASSWORD});
    assert_eq!(put_password(&app, uid, Some(&admin), &reset).await.status(), StatusCode::NO_CONTENT);
    expect_error(app.get(&format!("/v1/users/{uid}"), Some(&token)).await, StatusCode::UNAUTHORIZED, "unauthenticated")
        .await;
    expect_json::<Session>(log_in(&app, &user.email, NEW_PASSWORD).await, StatusCode::CREATED).await;
    expect_error(put_password(&app, nobody, Some(&admin), &reset).await, StatusCode::NOT_FOUND, "not_found").await;
    // An admin's own password needs the current one like anyone's.
    let admin_id = app.login(ADMIN_EMAIL, PASSWORD).await.user_id;
    expect_error(put_password(&app, admin_id.as_str(), Some(&admin), &reset).await, StatusCode::FORBIDDEN, "forbidden")
        .await;
}

#[tokio::test]
async fn of_two_changes_at_once_exactly_one_lands() {
    let app = TestApp::spawn().await;
    let (user, token) = app.customer().await;
    let uid = user.id.as_str();
    let candidates = ["first new passphrase", "second new passphrase"];
    let bodies = candidates.map(|new| json!({"current_password": PASSWORD, "new_password": new}));
    let answers = futures_util::future::join_all(bodies.iter().map(|b| put_password(&app, uid, Some(&token), b))).await;
    let statuses: Vec<StatusCode> = answers.iter().map(Response::status).collect();
    let landed = statuses.iter().filter(|s| **s == StatusCode::NO_CONTENT).count();
    assert_eq!(landed, 1, "{statuses:?}");
    // The loser was refused: its check met the winner's hash, or its token was revoked.
    assert!(
        statuses.iter().all(|s| [StatusCode::NO_CONTENT, StatusCode::FORBIDDEN, StatusCode::UNAUTHORIZED].contains(s)),
        "{statuses:?}"
    );
    let mut opened = 0;
    for password in candidates.iter().chain([&PASSWORD]) {
        if log_in(&app, &user.email, password).await.status() == StatusCode::CREATED {
            opened += 1;
        }
    }
    assert_eq!(opened, 1, "exactly the winner's password opens a session");
}
