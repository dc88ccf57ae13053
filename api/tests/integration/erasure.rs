//! Closing an account: what identifies the user is erased and every token revoked, the
//! email is free for a new sign-up, the books keep the id; a token alone closes nothing,
//! points are given up only when the closure names their number, and a member of groups,
//! staff and admins are refused.

use crate::support::postgres::DbLock;
use crate::support::{ADMIN_EMAIL, PASSWORD, STAFF_EMAIL, TestApp, expect_error, expect_json, new_user};
use contract::dto::{Session, User};
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

/// An application of region 001 alone: a closure asks every other region whether the
/// user is a member there, and the tests' other regions have no instances to ask.
async fn one_region() -> TestApp {
    TestApp::spawn_with(|config| config.regions.retain(|r| r.id.to_string() == "001")).await
}

async fn close(app: &TestApp, uid: &str, token: Option<&str>, body: &Value) -> Response {
    app.request(Method::DELETE, &format!("/v1/users/{uid}"), token, Some(body)).await
}

#[derive(QueryableByName, Debug, PartialEq)]
struct Left {
    #[diesel(sql_type = Text)]
    email: String,
    #[diesel(sql_type = Text)]
    full_name: String,
    #[diesel(sql_type = Text)]
    password_hash: String,
    #[diesel(sql_type = Bool)]
    erased: bool,
    #[diesel(sql_type = Bool)]
    refused_for_good: bool,
    #[diesel(sql_type = Bool)]
    networks_kept: bool,
    #[diesel(sql_type = Bool)]
    entry_kept: bool,
}

#[tokio::test]
async fn a_closed_account_is_erased_its_email_free_and_its_books_kept() {
    let app = one_region().await;
    let (user, token) = app.customer().await;
    let uid = user.id.as_str();
    let bill = app.award(uid, None, 2_500, 1).await;
    let staff = app.staff_token().await;

    // A token alone closes nothing: the current password is asked, and checked.
    expect_error(close(&app, uid, Some(&token), &json!({})).await, StatusCode::FORBIDDEN, "forbidden").await;
    let wrong = json!({"current_password": "not the password"});
    expect_error(close(&app, uid, Some(&token), &wrong).await, StatusCode::FORBIDDEN, "forbidden").await;
    let agreed = json!({"current_password": PASSWORD, "forfeit_points": bill.balance_after});
    assert_eq!(close(&app, uid, Some(&token), &agreed).await.status(), StatusCode::NO_CONTENT);

    // Gone for everyone: the token, the login, the user by id and by email.
    expect_error(app.get(&format!("/v1/users/{uid}"), Some(&token)).await, StatusCode::UNAUTHORIZED, "unauthenticated")
        .await;
    let login = app.post("/v1/sessions", None, &json!({"email": user.email, "password": PASSWORD})).await;
    expect_error(login, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    expect_error(app.get(&format!("/v1/users/{uid}"), Some(&staff)).await, StatusCode::NOT_FOUND, "not_found").await;
    let by_email = app.get(&format!("/v1/users?email={}", user.email), Some(&staff)).await;
    expect_error(by_email, StatusCode::NOT_FOUND, "not_found").await;
    let again = close(&app, uid, Some(&app.admin_token().await), &json!({})).await;
    expect_error(again, StatusCode::NOT_FOUND, "not_found").await;
    // Nothing bills the personal group any more; its books still add up: the bill, then
    // the points given up written off by the closure.
    let billed = app
        .post_once(
            "/v1/bills",
            &staff,
            "after",
            &json!({"user_id": uid, "store_region": "001",
            "items": [{"item_id": app.item(1_000, 10).await, "qty": 1}]}),
        )
        .await;
    assert!(billed.status().is_client_error(), "{}", billed.status());
    let group = user.personal_group_id.as_str();
    assert_eq!(app.assert_ledger_consistent(group), 0);
    let ledger: Value =
        expect_json(app.get(&format!("/v1/groups/{group}/transactions"), Some(&staff)).await, StatusCode::OK).await;
    let forfeit = &ledger["items"][0];
    assert_eq!((&forfeit["kind"], &forfeit["points"]), (&json!("forfeit"), &json!(-bill.balance_after)));
    assert_eq!((&forfeit["balance_after"], &forfeit["actor_id"]), (&json!(0), &json!(uid)));
    assert_eq!(ledger["items"][1]["id"], json!(bill.id));

    // What identified the user is gone from the database; the id stays, refused for good.
    let mut conn = app.db.connect();
    let left: Left = diesel::sql_query(
        "SELECT email, full_name, password_hash, erased_on IS NOT NULL AS erased,
                EXISTS (SELECT 1 FROM erased_users WHERE user_id = $1) AS refused_for_good,
                EXISTS (SELECT 1 FROM login_networks WHERE user_id = $1) AS networks_kept,
                EXISTS (SELECT 1 FROM email_directory WHERE email = $2) AS entry_kept
         FROM users WHERE id = $1",
    )
    .bind::<Text, _>(uid)
    .bind::<Text, _>(&user.email)
    .get_result(&mut conn)
    .unwrap();
    let expected = Left {
        email: format!("erased:{uid}"),
        full_name: String::new(),
        password_hash: "!".into(),
        erased: true,
        refused_for_good: true,
        networks_kept: false,
        entry_kept: false,
    };
    assert_eq!(left, expected);

    // The email signs up again, as someone new.
    let fresh = app.api.sign_up(&new_user(&user.email, "Someone New", "001")).await.unwrap().value;
    assert_ne!(fresh.id, user.id);
    expect_json::<Session>(
        app.post("/v1/sessions", None, &json!({"email": user.email, "password": PASSWORD})).await,
        StatusCode::CREATED,
    )
    .await;
}

#[tokio::test]
async fn members_of_groups_staff_and_admins_are_not_closed_and_only_admins_close_others() {
    let app = one_region().await;
    let [(ann, ann_token), (bob, bob_token), (carl, carl_token)] = app.customers().await;
    let group = app.group(&ann_token).await;
    let gid = group.id.as_str();
    app.invite_and_join(&ann_token, gid, bob.id.as_str(), &bob_token, false).await;
    let own = json!({"current_password": PASSWORD});

    // Members leave first, an owner once alone.
    for (user, token) in [(&bob, &bob_token), (&ann, &ann_token)] {
        let res = close(&app, user.id.as_str(), Some(token), &own).await;
        expect_error(res, StatusCode::CONFLICT, "still_a_member").await;
    }
    let left = app.delete(&format!("/v1/groups/{gid}/members/{}", bob.id), Some(&bob_token)).await;
    assert_eq!(left.status(), StatusCode::NO_CONTENT);
    assert_eq!(close(&app, bob.id.as_str(), Some(&bob_token), &own).await.status(), StatusCode::NO_CONTENT);
    let left = app.delete(&format!("/v1/groups/{gid}/members/{}", ann.id), Some(&ann_token)).await;
    assert_eq!(left.status(), StatusCode::NO_CONTENT);
    assert_eq!(close(&app, ann.id.as_str(), Some(&ann_token), &own).await.status(), StatusCode::NO_CONTENT);

    // Another's account: a customer learns nothing, staff are refused, an admin closes it.
    let (dan, dan_token) = app.customer().await;
    let dans = dan.id.as_str();
    expect_error(close(&app, dans, Some(&carl_token), &own).await, StatusCode::NOT_FOUND, "not_found").await;
    let staff = app.staff_token().await;
    expect_error(close(&app, dans, Some(&staff), &json!({})).await, StatusCode::FORBIDDEN, "forbidden").await;
    expect_error(close(&app, dans, None, &json!({})).await, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let admin = app.admin_token().await;
    assert_eq!(close(&app, dans, Some(&admin), &json!({})).await.status(), StatusCode::NO_CONTENT);
    expect_error(
        app.get(&format!("/v1/users/{dans}"), Some(&dan_token)).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;

    // Staff and admin accounts are made customers' first; their own password is asked too.
    let staff_id = app.login(STAFF_EMAIL, PASSWORD).await.user_id;
    let res = close(&app, staff_id.as_str(), Some(&admin), &json!({})).await;
    expect_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let admin_id = app.login(ADMIN_EMAIL, PASSWORD).await.user_id;
    expect_error(close(&app, admin_id.as_str(), Some(&admin), &own).await, StatusCode::FORBIDDEN, "forbidden").await;
    let still: User = expect_json(app.get(&format!("/v1/users/{staff_id}"), Some(&admin)).await, StatusCode::OK).await;
    assert_eq!(still.email, STAFF_EMAIL);

    // Guesses at the password are counted as a password change's are.
    let wrong = json!({"current_password": "not the password"});
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(close(&app, carl.id.as_str(), Some(&carl_token), &wrong).await.status().as_u16());
    }
    assert_eq!(statuses, [403, 403, 403, 403, 403, 429]);
}

/// A closure that does not name the personal group's balance (none, a stale one, a
/// crafted one) is refused and changes nothing; one that names it gives the points up.
#[tokio::test]
async fn points_are_given_up_only_when_the_closure_names_their_number() {
    let app = one_region().await;
    let (user, token) = app.customer().await;
    let uid = user.id.as_str();
    let seen = app.award(uid, None, 2_500, 1).await.balance_after;
    let with = |forfeit: Value| json!({"current_password": PASSWORD, "forfeit_points": forfeit});

    let res = close(&app, uid, Some(&token), &json!({"current_password": PASSWORD})).await;
    let refused: Value = expect_json(res, StatusCode::CONFLICT).await;
    assert_eq!(refused["error"]["code"], "points_remaining");
    let message = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(&format!("holds {seen} points")), "{message}");
    for wrong in [json!(0), json!(seen - 1), json!(seen + 1), json!(u64::MAX)] {
        let res = close(&app, uid, Some(&token), &with(wrong)).await;
        expect_error(res, StatusCode::CONFLICT, "points_remaining").await;
    }
    for crafted in [json!(-1), json!("25"), json!(2.5), json!(null)] {
        let status = close(&app, uid, Some(&token), &with(crafted.clone())).await.status();
        let expected = if crafted.is_null() { StatusCode::CONFLICT } else { StatusCode::BAD_REQUEST };
        assert_eq!(status, expected, "{crafted}");
    }
    // Points that arrived after the user looked: what they agreed to is not the balance.
    let now = app.award(uid, None, 1_000, 1).await.balance_after;
    expect_error(close(&app, uid, Some(&token), &with(json!(seen))).await, StatusCode::CONFLICT, "points_remaining")
        .await;
    expect_json::<User>(app.get(&format!("/v1/users/{uid}"), Some(&token)).await, StatusCode::OK).await;
    assert_eq!(close(&app, uid, Some(&token), &with(json!(now))).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.assert_ledger_consistent(user.personal_group_id.as_str()), 0, "written off");

    // An admin closing another's account names them too.
    let (dan, _) = app.customer().await;
    let dans = app.award(dan.id.as_str(), None, 700, 1).await.balance_after;
    let admin = app.admin_token().await;
    let res = close(&app, dan.id.as_str(), Some(&admin), &json!({})).await;
    expect_error(res, StatusCode::CONFLICT, "points_remaining").await;
    let res = close(&app, dan.id.as_str(), Some(&admin), &json!({"forfeit_points": dans})).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let ledger: Value = expect_json(
        app.get(&format!("/v1/groups/{}/transactions", dan.personal_group_id), Some(&admin)).await,
        StatusCode::OK,
    )
    .await;
    let forfeit = &ledger["items"][0];
    assert_eq!((&forfeit["kind"], &forfeit["points"]), (&json!("forfeit"), &json!(-dans)));
    let admin_id = app.login(ADMIN_EMAIL, PASSWORD).await.user_id;
    assert_eq!((&forfeit["user_id"], &forfeit["actor_id"]), (&json!(dan.id), &json!(admin_id)), "the admin gave up");
    // A closed account with nothing left writes nothing off.
    let (eve, eve_token) = app.customer().await;
    assert_eq!(close(&app, eve.id.as_str(), Some(&eve_token), &with(json!(0))).await.status(), StatusCode::NO_CONTENT);
    let ledger: Value = expect_json(
        app.get(&format!("/v1/groups/{}/transactions", eve.personal_group_id), Some(&admin)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ledger["items"], json!([]));
}

/// Whether a user is still a member in a region that does not answer is unknown: the
/// closure is refused with 503 and nothing is erased.
#[tokio::test]
async fn a_region_that_cannot_be_asked_makes_the_closure_wait() {
    let app = TestApp::spawn().await;
    let (user, token) = app.customer().await;
    let res = close(&app, user.id.as_str(), Some(&token), &json!({"current_password": PASSWORD})).await;
    expect_error(res, StatusCode::SERVICE_UNAVAILABLE, "region_unavailable").await;
    expect_json::<User>(app.get(&format!("/v1/users/{}", user.id), Some(&token)).await, StatusCode::OK).await;
    app.login(&user.email, PASSWORD).await;
}

/// A join's event applied while the closing transaction runs waits for it (the user's
/// row), then finds the account closed and has the group's region end the membership.
#[tokio::test]
async fn a_join_event_during_the_closing_transaction_is_sent_back_to_end() {
    let app = one_region().await;
    let (user, token) = app.customer().await;
    let uid = user.id.as_str();
    let held = DbLock::group(&app.db, user.personal_group_id.as_str());
    let db = &app.db;
    let waiting = |n: i64| async move {
        for _ in 0..100 {
            let count: Count = diesel::sql_query(
                "SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()",
            )
            .get_result(&mut db.connect())
            .unwrap();
            if count.n >= n {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    let event = |active: bool, version: i64| {
        json!({"events": [{"id": version, "origin": "002", "created_on": "2026-01-01T00:00:00Z",
            "event": {"kind": "membership", "user_id": uid, "group_id": "002-remote", "active": active, "version": version}}]})
    };
    // She was in that group and left: the index has its row, so the join below updates
    // it (no new row, whose key check on the user's row would make it wait anyway).
    for (active, version) in [(true, 1), (false, 2)] {
        let res = app.internal(Method::POST, "/internal/events", Some(&event(active, version))).await;
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
    }
    let rejoined = event(true, 3);
    let own = json!({"current_password": PASSWORD});
    let closing = close(&app, uid, Some(&token), &own);
    let applying = async {
        waiting(1).await; // the closure holds the user's row and waits for its group
        app.internal(Method::POST, "/internal/events", Some(&rejoined)).await
    };
    let releasing = async {
        waiting(2).await; // and the event waits for the user's row
        held.release();
    };
    let (closed, applied, ()) = tokio::join!(closing, applying, releasing);
    assert_eq!((closed.status(), applied.status()), (StatusCode::NO_CONTENT, StatusCode::NO_CONTENT));
    let sent: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM outbox WHERE kind = 'member_erased' AND destination_region = '002'
           AND payload->>'user_id' = $1 AND payload->>'group_id' = '002-remote'",
    )
    .bind::<Text, _>(uid)
    .get_result(&mut app.db.connect())
    .unwrap();
    assert_eq!(sent.n, 1);
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}
