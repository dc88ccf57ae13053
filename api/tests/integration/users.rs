//! Sign-up, login, profiles, and the contract's conventions (envelope, request ids,
//! body limits, unknown fields, id shapes), against a real server and database.

use crate::support::{ADMIN_EMAIL, PASSWORD, TestApp, expect_error, expect_json};
use contract::dto::{Role, User};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn signup(email: &str) -> Value {
    json!({"email": email, "password": PASSWORD, "full_name": "Ann Smith", "home_region": "001",
           "phone": "+33 6 12 34 56 78", "location": "Lyon", "age": 34})
}

#[tokio::test]
async fn sign_up_creates_user_with_personal_group() {
    let app = TestApp::spawn().await;
    let res = app.post("/v1/users", None, &signup("Ann@Example.com")).await;
    let user: User = expect_json(res, StatusCode::CREATED).await;
    assert!(user.id.as_str().starts_with("001-"));
    assert_eq!(user.email, "ann@example.com");
    assert_eq!(user.role, Role::Customer);
    assert_eq!(user.home_region.as_str(), "001");
    assert_eq!(user.groups, vec![user.personal_group_id.clone()]);
    assert_eq!(user.age, Some(34));

    let session = app.login("ANN@example.com", PASSWORD).await;
    assert_eq!(session.user_id, user.id);
    let me: User =
        expect_json(app.get(&format!("/v1/users/{}", user.id), Some(&session.token)).await, StatusCode::OK).await;
    assert_eq!(me.id, user.id);
    let group: Value = expect_json(
        app.get(&format!("/v1/groups/{}", user.personal_group_id), Some(&session.token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(group["members"], json!([user.id]));
    assert_eq!(group["points"], 0);
}

#[tokio::test]
async fn email_is_unique_case_insensitively() {
    let app = TestApp::spawn().await;
    expect_json::<User>(app.post("/v1/users", None, &signup("bob@example.com")).await, StatusCode::CREATED).await;
    let res = app.post("/v1/users", None, &signup(" BOB@example.COM ")).await;
    expect_error(res, StatusCode::CONFLICT, "email_taken").await;
}

#[tokio::test]
async fn sign_up_input_is_checked_field_by_field() {
    let app = TestApp::spawn().await;
    let cases: Vec<(&str, Value, StatusCode, &str)> = vec![
        ("email", json!("not-an-email"), StatusCode::BAD_REQUEST, "invalid_input"),
        ("password", json!("short"), StatusCode::BAD_REQUEST, "invalid_input"),
        ("password", json!("x".repeat(129)), StatusCode::BAD_REQUEST, "invalid_input"),
        ("full_name", json!("  "), StatusCode::BAD_REQUEST, "invalid_input"),
        ("full_name", json!("n".repeat(101)), StatusCode::BAD_REQUEST, "invalid_input"),
        ("phone", json!("call me"), StatusCode::BAD_REQUEST, "invalid_input"),
        ("age", json!(151), StatusCode::BAD_REQUEST, "invalid_input"),
        ("age", json!(-1), StatusCode::BAD_REQUEST, "invalid_input"),
        ("age", json!("old"), StatusCode::BAD_REQUEST, "invalid_input"),
        ("location", json!("l".repeat(201)), StatusCode::BAD_REQUEST, "invalid_input"),
        ("home_region", json!("1"), StatusCode::BAD_REQUEST, "invalid_input"),
        ("home_region", json!("009"), StatusCode::NOT_FOUND, "unknown_region"),
        ("home_region", json!("002"), StatusCode::MISDIRECTED_REQUEST, "misdirected"),
        ("surprise", json!(1), StatusCode::BAD_REQUEST, "invalid_input"),
    ];
    for (field, value, status, code) in cases {
        let mut body = signup("carol@example.com");
        body[field] = value;
        expect_error(app.post("/v1/users", None, &body).await, status, code).await;
    }
    // Nothing was half-created by any of those.
    let count: i64 = {
        use diesel::prelude::*;
        api::db::schema::users::table.count().get_result(&mut app.db.connect()).unwrap()
    };
    assert_eq!(count, 2, "only the bootstrap admin and staff exist");
    expect_json::<User>(app.post("/v1/users", None, &signup("carol@example.com")).await, StatusCode::CREATED).await;
}

#[tokio::test]
async fn staff_and_admin_accounts_need_an_admin_token() {
    let app = TestApp::spawn().await;
    let mut body = signup("new-staff@example.com");
    body["role"] = json!("staff");
    expect_error(app.post("/v1/users", None, &body).await, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let (_, customer) = app.customer().await;
    expect_error(app.post("/v1/users", Some(&customer), &body).await, StatusCode::FORBIDDEN, "forbidden").await;
    let staff = app.staff_token().await;
    expect_error(app.post("/v1/users", Some(&staff), &body).await, StatusCode::FORBIDDEN, "forbidden").await;
    expect_error(app.post("/v1/users", Some("garbage"), &body).await, StatusCode::UNAUTHORIZED, "unauthenticated")
        .await;
    let admin = app.admin_token().await;
    let user: User = expect_json(app.post("/v1/users", Some(&admin), &body).await, StatusCode::CREATED).await;
    assert_eq!(user.role, Role::Staff);
    assert_eq!(app.login("new-staff@example.com", PASSWORD).await.role, Role::Staff);
}

#[tokio::test]
async fn login_failures_do_not_reveal_the_email_and_are_rate_limited() {
    let app = TestApp::spawn().await;
    let (user, _) = app.customer().await;
    let wrong_password =
        app.post("/v1/sessions", None, &json!({"email": user.email, "password": "wrong password"})).await;
    let first = expect_error(wrong_password, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let no_such_user =
        app.post("/v1/sessions", None, &json!({"email": "nobody@example.com", "password": "wrong password"})).await;
    let second = expect_error(no_such_user, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    assert_eq!(first["error"]["message"], second["error"]["message"]);

    for _ in 0..4 {
        let res = app.post("/v1/sessions", None, &json!({"email": user.email, "password": "wrong password"})).await;
        expect_error(res, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
    // Five failures: even the right password is refused for a while, from this address.
    let res = app.post("/v1/sessions", None, &json!({"email": user.email, "password": PASSWORD})).await;
    assert!(res.headers().contains_key("retry-after"));
    expect_error(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // Other accounts are unaffected, and so is this one from another address (the one
    // the router writes into X-Forwarded-For): a stranger cannot lock the owner out.
    app.login(ADMIN_EMAIL, PASSWORD).await;
    let elsewhere = app
        .http
        .raw(client::Method::POST, &format!("{}/v1/sessions", app.base))
        .header("x-forwarded-for", "203.0.113.9")
        .json(&json!({"email": user.email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), StatusCode::CREATED);
    // The lockout grows with each failure beyond the fifth: 1 s, then 2 s.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let res = app.post("/v1/sessions", None, &json!({"email": user.email, "password": "wrong password"})).await;
    expect_error(res, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let res = app.post("/v1/sessions", None, &json!({"email": user.email, "password": PASSWORD})).await;
    assert_eq!(res.headers()["retry-after"], "2");
}

#[tokio::test]
async fn password_hashing_is_bounded_and_a_flood_is_told_to_wait() {
    // One hash at a time, and no waiting: a flood of logins for unknown emails gets
    // 429 + Retry-After for what cannot start at once, never a 5xx.
    let app = TestApp::spawn_with(|config| {
        config.auth.hashing_concurrency = 1;
        config.auth.hashing_wait_ms = 1;
    })
    .await;
    let (user, _) = app.customer().await;
    let answers = futures_util::future::join_all((0..24).map(|n| {
        let app = &app;
        async move {
            let body = json!({"email": format!("flood-{n}@example.com"), "password": "wrong password"});
            let res = app.post("/v1/sessions", None, &body).await;
            let waited = res.headers().contains_key("retry-after");
            let status = res.status();
            let body: Value = res.json().await.unwrap();
            (status, waited, body["error"]["code"].as_str().unwrap_or_default().to_owned())
        }
    }))
    .await;
    let refused = answers.iter().filter(|(status, _, _)| *status == StatusCode::TOO_MANY_REQUESTS).count();
    assert!(refused > 0, "{answers:?}");
    assert!(answers.iter().any(|(status, _, _)| *status == StatusCode::UNAUTHORIZED), "{answers:?}");
    for (status, waited, code) in &answers {
        match *status {
            StatusCode::TOO_MANY_REQUESTS => assert!(*waited && code == "rate_limited", "{answers:?}"),
            StatusCode::UNAUTHORIZED => assert_eq!(code, "unauthenticated"),
            other => panic!("a login answered {other}: {answers:?}"),
        }
    }
    // Only the logins whose password was checked count against their (email, address):
    // one turned away before hashing gave its attempt back.
    #[derive(diesel::QueryableByName)]
    struct Counted {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        failures: i64,
    }
    let counted: Counted = diesel::RunQueryDsl::get_result(
        diesel::sql_query("SELECT coalesce(sum(failures), 0)::bigint AS failures FROM lockouts WHERE kind = 'login'"),
        &mut app.db.connect(),
    )
    .unwrap();
    assert_eq!(counted.failures as usize, answers.len() - refused, "{answers:?}");
    // The flood over, logins work again.
    app.login(&user.email, PASSWORD).await;
}

#[tokio::test]
async fn users_are_visible_to_themselves_staff_and_admins_only() {
    let app = TestApp::spawn().await;
    let [(ann, ann_token), (bob, _)] = app.customers().await;
    let path = format!("/v1/users/{}", bob.id);
    // Another customer's account does not exist for Ann: the same answer as a missing one.
    let hidden = expect_error(app.get(&path, Some(&ann_token)).await, StatusCode::NOT_FOUND, "not_found").await;
    let missing =
        expect_error(app.get("/v1/users/001-zzzzzz", Some(&ann_token)).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(
        hidden["error"]["message"].as_str().unwrap().replace(bob.id.as_str(), "X"),
        missing["error"]["message"].as_str().unwrap().replace("001-zzzzzz", "X")
    );
    expect_error(app.get(&path, None).await, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    expect_json::<User>(app.get(&path, Some(&app.staff_token().await)).await, StatusCode::OK).await;
    expect_json::<User>(app.get(&path, Some(&app.admin_token().await)).await, StatusCode::OK).await;
    expect_json::<User>(app.get(&format!("/v1/users/{}", ann.id), Some(&ann_token)).await, StatusCode::OK).await;
    // Changing: only oneself or an admin (staff may look, not touch).
    let change = json!({"full_name": "Robert"});
    expect_error(app.patch(&path, Some(&ann_token), &change).await, StatusCode::NOT_FOUND, "not_found").await;
    expect_error(app.patch(&path, Some(&app.staff_token().await), &change).await, StatusCode::FORBIDDEN, "forbidden")
        .await;
    let changed: User =
        expect_json(app.patch(&path, Some(&app.admin_token().await), &change).await, StatusCode::OK).await;
    assert_eq!(changed.full_name, "Robert");
}

#[tokio::test]
async fn profile_patch_changes_only_what_is_sent() {
    let app = TestApp::spawn().await;
    let user: User =
        expect_json(app.post("/v1/users", None, &signup("dan@example.com")).await, StatusCode::CREATED).await;
    let token = app.login("dan@example.com", PASSWORD).await.token;
    let path = format!("/v1/users/{}", user.id);
    let changed: User =
        expect_json(app.patch(&path, Some(&token), &json!({"age": 35, "phone": null})).await, StatusCode::OK).await;
    assert_eq!(changed.age, Some(35));
    assert_eq!(changed.phone, None);
    assert_eq!(changed.location.as_deref(), Some("Lyon"));
    assert_eq!(changed.full_name, "Ann Smith");
    assert!(changed.updated_on > user.updated_on);
    for bad in [json!({"age": 200}), json!({"full_name": ""}), json!({"email": "x@y.z"})] {
        expect_error(app.patch(&path, Some(&token), &bad).await, StatusCode::BAD_REQUEST, "invalid_input").await;
    }
}

#[tokio::test]
async fn ids_are_checked_before_anything_else() {
    let app = TestApp::spawn().await;
    let (_, token) = app.customer().await;
    expect_error(app.get("/v1/users/nonsense", Some(&token)).await, StatusCode::BAD_REQUEST, "invalid_id").await;
    expect_error(app.get("/v1/users/001-ABCDEF", Some(&token)).await, StatusCode::BAD_REQUEST, "invalid_id").await;
    expect_error(app.get("/v1/users/009-abcdef", Some(&token)).await, StatusCode::NOT_FOUND, "unknown_region").await;
    expect_error(app.get("/v1/users/002-abcdef", Some(&token)).await, StatusCode::MISDIRECTED_REQUEST, "misdirected")
        .await;
    let admin = app.admin_token().await;
    expect_error(app.get("/v1/users/001-zzzzzz", Some(&admin)).await, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn conventions_request_ids_bodies_and_unknown_routes() {
    let app = TestApp::spawn().await;
    // A given request id comes back, on success and in error envelopes.
    let res = app
        .http
        .raw(client::Method::GET, &format!("{}/healthz", app.base))
        .header("X-Request-Id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "trace-me-42");
    let res = app
        .http
        .raw(client::Method::GET, &format!("{}/v1/nowhere", app.base))
        .header("X-Request-Id", "trace-me-43")
        .send()
        .await
        .unwrap();
    let body = expect_error(res, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(body["error"]["request_id"], "trace-me-43");
    // Otherwise one is generated.
    let res = app.get("/healthz", None).await;
    assert!(!res.headers()["x-request-id"].is_empty());

    let huge = json!({"email": "a@b.cd", "password": "p".repeat(70 * 1024)});
    expect_error(app.post("/v1/sessions", None, &huge).await, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    let res = app
        .http
        .raw(client::Method::POST, &format!("{}/v1/sessions", app.base))
        .body("{\"email\":")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    expect_error(res, StatusCode::BAD_REQUEST, "invalid_input").await;
    let res =
        app.http.raw(client::Method::POST, &format!("{}/v1/sessions", app.base)).body("email=a").send().await.unwrap();
    expect_error(res, StatusCode::BAD_REQUEST, "invalid_input").await;
}

#[tokio::test]
async fn health_metrics_openapi_and_regions() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);
    assert_eq!(app.get("/readyz", None).await.status(), StatusCode::OK);
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(metrics.contains("http_requests_total"), "{metrics}");
    let doc: Value = expect_json(app.get("/openapi.json", None).await, StatusCode::OK).await;
    assert!(doc["paths"]["/v1/groups/{gid}/redemptions"]["post"].is_object());
    let regions: Value = expect_json(app.get("/v1/regions", None).await, StatusCode::OK).await;
    assert_eq!(regions["items"], json!([{"id": "001", "name": "Europe", "status": "up"}]));
}

/// A login from `address`, as the router forwards it.
async fn log_in_from(app: &TestApp, address: &str, email: &str, password: &str) -> reqwest::Response {
    client::testing::log_in_from(&app.http, &app.base, address, email, password).await
}

/// Guesses at one password from many addresses, each below its own lockout, make the
/// account watched: then only networks its user logged in from before may try it. The
/// owner still logs in from home; a stranger cannot keep them out.
#[tokio::test]
async fn an_account_guessed_from_many_addresses_lets_in_only_networks_it_knows() {
    let app = TestApp::spawn_with(|config| config.auth.email_failures_per_minute = 8).await;
    let (ann, _) = app.customer().await;
    let res = log_in_from(&app, "203.0.113.5", &ann.email, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::CREATED, "Ann at home, before the attack");

    // Eight guesses, each from an address of its own: each pair is far from its lockout.
    // The same at an email nobody has.
    for email in [ann.email.as_str(), "nobody@example.com"] {
        for n in 1..=8 {
            let res = log_in_from(&app, &format!("198.51.{n}.1"), email, "wrong password").await;
            expect_error(res, StatusCode::UNAUTHORIZED, "unauthenticated").await;
        }
    }
    // Now a guess from anywhere else, even with the right password, is refused unhashed,
    // and alike for the email nobody has: the answer tells nothing of who exists.
    for (address, email, password) in [
        ("198.51.9.1", ann.email.as_str(), "wrong password"),
        ("192.0.2.77", ann.email.as_str(), PASSWORD),
        ("192.0.2.77", "nobody@example.com", PASSWORD),
    ] {
        let res = log_in_from(&app, address, email, password).await;
        assert_eq!(res.headers()["retry-after"], "60");
        expect_error(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    }
    // Ann, from her network (another address in the same /24), logs in as always.
    let res = log_in_from(&app, "203.0.113.99", &ann.email, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::CREATED, "Ann at home, during the attack");
    // Other accounts are not watched.
    app.login(ADMIN_EMAIL, PASSWORD).await;
}

/// Behind the load balancer a region runs several instances; an attacker's guesses land
/// on all of them. Failures are counted in the region's database, so spreading them
/// buys nothing: five failures lock the pair out on every instance, and guesses from many
/// addresses make the account watched on every instance. (Counted in each instance's
/// memory, as before, the two instances here allowed ten guesses, and sixteen before the
/// watch.)
#[tokio::test]
async fn guesses_spread_over_the_instances_of_a_region_count_as_one() {
    let app = TestApp::spawn_with(|config| config.auth.email_failures_per_minute = 8).await;
    let second = app.sibling().await;
    let bases = [app.base.as_str(), second.base.as_str()];
    let (ann, _) = app.customer().await;
    let (bob, _) = app.customer().await;

    for n in 0..5 {
        let res = client::testing::log_in_from(&app.http, bases[n % 2], "198.51.100.7", &ann.email, "guess").await;
        expect_error(res, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
    for base in bases {
        let res = client::testing::log_in_from(&app.http, base, "198.51.100.7", &ann.email, PASSWORD).await;
        assert!(res.headers().contains_key("retry-after"));
        expect_error(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    }

    // Bob, guessed at from eight addresses, four on each instance.
    let res = client::testing::log_in_from(&app.http, bases[0], "203.0.113.5", &bob.email, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::CREATED, "Bob at home, before the attack");
    for n in 1..=8 {
        let address = format!("198.51.{n}.1");
        let res = client::testing::log_in_from(&app.http, bases[n % 2], &address, &bob.email, "guess").await;
        expect_error(res, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
    for base in bases {
        let res = client::testing::log_in_from(&app.http, base, "192.0.2.77", &bob.email, PASSWORD).await;
        assert_eq!(res.headers()["retry-after"], "60");
        expect_error(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
        let res = client::testing::log_in_from(&app.http, base, "203.0.113.9", &bob.email, PASSWORD).await;
        assert_eq!(res.status(), StatusCode::CREATED, "Bob at home, during the attack");
    }
}
