//! Groups belong to their members: owners govern invitations, rights and hand-over, and
//! guessed invitation codes get nowhere.

use crate::support::{TestApp, expect_error, expect_json};
use api::db::Db;
use api::services::housekeeping::{Retention, purge};
use contract::dto::{Group, MemberRole};
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn owners_govern_invitations_rights_and_hand_over() {
    let app = TestApp::spawn().await;
    let [(ann, ann_token), (bob, bob_token), (carl, carl_token)] = app.customers().await;
    let group = app.group(&ann_token).await;
    let gid = group.id.as_str();
    app.invite_and_join(&ann_token, gid, bob.id.as_str(), &bob_token, false).await;

    // Invitations: owner only; members see they exist but may not make or read them.
    let invitations = format!("/v1/groups/{gid}/invitations");
    expect_error(app.post(&invitations, Some(&bob_token), &json!({})).await, StatusCode::FORBIDDEN, "forbidden").await;
    expect_error(app.get(&invitations, Some(&bob_token)).await, StatusCode::FORBIDDEN, "forbidden").await;
    expect_error(app.get(&invitations, Some(&carl_token)).await, StatusCode::NOT_FOUND, "not_found").await;
    for bad in [
        json!({"expires_in_secs": 59}),
        json!({"expires_in_secs": 604_801}),
        json!({"user_id": "x"}),
        json!({"code": "mine"}),
    ] {
        let res = app.post(&invitations, Some(&ann_token), &bad).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    // Addressed to Bob: Carl cannot use it.
    let for_bob = app.invite(&ann_token, gid, &json!({"user_id": bob.id, "can_redeem": true})).await;
    expect_error(
        app.join(&carl_token, gid, carl.id.as_str(), &for_bob.code).await,
        StatusCode::FORBIDDEN,
        "invitation_invalid",
    )
    .await;
    // Revoked: nobody can.
    let revoked = app.invite(&ann_token, gid, &json!({})).await;
    let revoke = format!("{invitations}/{}", revoked.id);
    expect_error(app.delete(&revoke, Some(&bob_token)).await, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(app.delete(&revoke, Some(&ann_token)).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.delete(&revoke, Some(&ann_token)).await.status(), StatusCode::NO_CONTENT);
    expect_error(
        app.delete(&format!("{invitations}/001-zzzzzz"), Some(&ann_token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_error(
        app.join(&carl_token, gid, carl.id.as_str(), &revoked.code).await,
        StatusCode::FORBIDDEN,
        "invitation_invalid",
    )
    .await;
    // Another group's invitation, and a code altered by one character, open nothing.
    let other = app.group(&carl_token).await;
    let elsewhere = app.invite(&carl_token, other.id.as_str(), &json!({})).await;
    expect_error(
        app.join(&carl_token, gid, carl.id.as_str(), &elsewhere.code).await,
        StatusCode::FORBIDDEN,
        "invitation_invalid",
    )
    .await;
    let good = app.invite(&ann_token, gid, &json!({})).await;
    let mut altered = good.code.clone();
    let last = if altered.ends_with('A') { 'B' } else { 'A' };
    altered.pop();
    altered.push(last);
    expect_error(
        app.join(&carl_token, gid, carl.id.as_str(), &altered).await,
        StatusCode::FORBIDDEN,
        "invitation_invalid",
    )
    .await;
    expect_json::<Value>(app.join(&carl_token, gid, carl.id.as_str(), &good.code).await, StatusCode::CREATED).await;
    // The list shows who used what, never a code.
    let list: Value = expect_json(app.get(&invitations, Some(&ann_token)).await, StatusCode::OK).await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    assert_eq!(items[0]["used_by"], json!(carl.id));
    assert!(!list.to_string().contains(&good.code));
    assert!(items.iter().any(|i| i["revoked_on"].is_string()));

    // Redeem rights: the owner grants and withdraws; members cannot.
    let bob_in = format!("/v1/groups/{gid}/members/{}", bob.id);
    expect_error(
        app.patch(&bob_in, Some(&carl_token), &json!({"can_redeem": true})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let granted: Value =
        expect_json(app.patch(&bob_in, Some(&ann_token), &json!({"can_redeem": true})).await, StatusCode::OK).await;
    assert_eq!(granted["can_redeem"], true);
    let ann_in = format!("/v1/groups/{gid}/members/{}", ann.id);
    expect_error(
        app.patch(&ann_in, Some(&ann_token), &json!({"can_redeem": false})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    expect_error(
        app.patch(&format!("/v1/groups/{gid}/members/001-zzzzzz"), Some(&ann_token), &json!({"can_redeem": true}))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // The owner cannot leave while others remain; hands over first, then may.
    let group_path = format!("/v1/groups/{gid}");
    expect_error(app.delete(&ann_in, Some(&ann_token)).await, StatusCode::FORBIDDEN, "forbidden").await;
    expect_error(
        app.patch(&group_path, Some(&bob_token), &json!({"owner_id": bob.id})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let (dan, _) = app.customer().await;
    expect_error(
        app.patch(&group_path, Some(&ann_token), &json!({"owner_id": dan.id})).await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
    )
    .await;
    let renamed: Group = expect_json(
        app.patch(&group_path, Some(&ann_token), &json!({"owner_id": carl.id, "name": "Carl's team"})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(renamed.owner_id, carl.id);
    assert_eq!(renamed.name, "Carl's team");
    let roles: Vec<(String, MemberRole, bool)> =
        renamed.memberships.iter().map(|m| (m.user_id.to_string(), m.role, m.can_redeem)).collect();
    assert!(roles.contains(&(carl.id.to_string(), MemberRole::Owner, true)));
    assert!(roles.contains(&(ann.id.to_string(), MemberRole::Member, true)));
    // Ann is no longer the owner: she manages nothing, but may leave.
    expect_error(app.post(&invitations, Some(&ann_token), &json!({})).await, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(app.delete(&ann_in, Some(&ann_token)).await.status(), StatusCode::NO_CONTENT);
    // A personal group is never given away, nor joined by an admin.
    let personal = format!("/v1/groups/{}", bob.personal_group_id);
    expect_error(
        app.patch(&personal, Some(&bob_token), &json!({"owner_id": carl.id})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let admin = app.admin_token().await;
    let res = app.post(&format!("{personal}/members"), Some(&admin), &json!({"user_id": carl.id})).await;
    expect_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    // A group has at most max_members (10): the eleventh is refused, nothing half-done.
    let full = app.group(&ann_token).await;
    for _ in 1..10 {
        let (user, _) = app.customer().await;
        let res =
            app.post(&format!("/v1/groups/{}/members", full.id), Some(&admin), &json!({"user_id": user.id})).await;
        expect_json::<Value>(res, StatusCode::CREATED).await;
    }
    let last = app.invite(&ann_token, full.id.as_str(), &json!({})).await;
    expect_error(
        app.join(&carl_token, full.id.as_str(), carl.id.as_str(), &last.code).await,
        StatusCode::CONFLICT,
        "group_full",
    )
    .await;
    let list: Value =
        expect_json(app.get(&format!("/v1/groups/{}/invitations", full.id), Some(&ann_token)).await, StatusCode::OK)
            .await;
    assert!(list["items"][0]["used_by"].is_null(), "a refused join leaves its invitation open");
}

#[tokio::test]
async fn guessed_codes_are_refused_without_waiting_on_the_group() {
    use diesel::Connection;
    use diesel::connection::SimpleConnection;
    let app = TestApp::spawn().await;
    let [(_, ann_token), (eve, eve_token)] = app.customers().await;
    let group = app.group(&ann_token).await;
    let gid = group.id.as_str();
    let real = app.invite(&ann_token, gid, &json!({})).await;
    // Another transaction holds the group's row, as a points batch does.
    let mut holder = app.db.connect();
    holder.begin_test_transaction().unwrap();
    holder.batch_execute(&format!("SELECT 1 FROM groups WHERE id = '{gid}' FOR UPDATE")).unwrap();
    // Had the guess waited for the row, it would have run into the statement timeout
    // (5 s) and answered 504 instead.
    let guess = format!("{gid}.{}", "A".repeat(43));
    expect_error(app.join(&eve_token, gid, eve.id.as_str(), &guess).await, StatusCode::FORBIDDEN, "invitation_invalid")
        .await;
    drop(holder);
    expect_json::<Value>(app.join(&eve_token, gid, eve.id.as_str(), &real.code).await, StatusCode::CREATED).await;
}

/// Statuses and codes of answers taken at once: how many of each.
#[allow(clippy::unwrap_used)] // test helper
async fn tally(answers: Vec<reqwest::Response>) -> std::collections::BTreeMap<(u16, String), usize> {
    let mut tally = std::collections::BTreeMap::new();
    for res in answers {
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap();
        let code = body["error"]["code"].as_str().unwrap_or("").to_owned();
        *tally.entry((status, code)).or_default() += 1;
    }
    tally
}

/// One account cannot make the platform keep rows without end: a user owns at most
/// `max_owned` groups in a region (many asked for at once included) and is handed none
/// beyond; a group keeps at most `max_invitations`, until closed ones are deleted.
#[tokio::test]
async fn one_account_owns_a_bounded_number_of_groups_and_invitations() {
    let app = TestApp::spawn_with(|config| {
        config.groups.max_owned = 3;
        config.groups.max_invitations = 4;
    })
    .await;
    let [(ann, ann_token), (bob, bob_token)] = app.customers().await;

    // Twelve creations at once: exactly three pass (the personal group is not counted).
    let new = json!({"name": "Team", "location": "Lyon", "region": "001"});
    let answers = join_all((0..12).map(|_| app.post("/v1/groups", Some(&ann_token), &new))).await;
    let counts = tally(answers).await;
    assert_eq!(counts.get(&(201, String::new())), Some(&3), "{counts:?}");
    assert_eq!(counts.get(&(409, "limit_reached".into())), Some(&9), "{counts:?}");
    let owned: Value =
        expect_json(app.get(&format!("/v1/users/{}/groups", ann.id), Some(&ann_token)).await, StatusCode::OK).await;
    assert_eq!(owned["items"].as_array().unwrap().len(), 4, "three groups and the personal one: {owned}");
    let ann_group = owned["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["personal"] == false)
        .and_then(|g| g["id"].as_str())
        .unwrap()
        .to_owned();

    // Bob owns three too: Ann cannot hand him a fourth, and the refusal changes nothing.
    for _ in 0..3 {
        app.group(&bob_token).await;
    }
    app.invite_and_join(&ann_token, &ann_group, bob.id.as_str(), &bob_token, false).await;
    let path = format!("/v1/groups/{ann_group}");
    expect_error(
        app.patch(&path, Some(&ann_token), &json!({"owner_id": bob.id, "name": "Bob's"})).await,
        StatusCode::CONFLICT,
        "limit_reached",
    )
    .await;
    let group: Group = expect_json(app.get(&path, Some(&ann_token)).await, StatusCode::OK).await;
    assert_eq!((group.owner_id, group.name.as_str()), (ann.id.clone(), "Team"));
    // Renaming is no hand-over.
    expect_json::<Group>(app.patch(&path, Some(&ann_token), &json!({"name": "Ours"})).await, StatusCode::OK).await;

    // Invitations: the group has used one (Bob's); 24 asked for at once, three pass.
    let invitations = format!("/v1/groups/{ann_group}/invitations");
    let options = json!({});
    let answers = join_all((0..24).map(|_| app.post(&invitations, Some(&ann_token), &options))).await;
    let counts = tally(answers).await;
    assert_eq!(counts.get(&(201, String::new())), Some(&3), "{counts:?}");
    assert_eq!(counts.get(&(409, "limit_reached".into())), Some(&21), "{counts:?}");
    // Revoking keeps the place taken (a revoked invitation is listed) until housekeeping
    // deletes it, `invitations_kept_days` after; then the group may invite again.
    let list: Value = expect_json(app.get(&invitations, Some(&ann_token)).await, StatusCode::OK).await;
    let open = list["items"].as_array().unwrap().iter().find(|i| i["used_by"].is_null()).unwrap()["id"].clone();
    let revoke = format!("{invitations}/{}", open.as_str().unwrap());
    assert_eq!(app.delete(&revoke, Some(&ann_token)).await.status(), StatusCode::NO_CONTENT);
    expect_error(app.post(&invitations, Some(&ann_token), &json!({})).await, StatusCode::CONFLICT, "limit_reached")
        .await;
    let db = Db::new(&app.db.url, &app.config.db, None);
    let now = Retention {
        idempotency_records: chrono::Duration::hours(48),
        delivered_events: chrono::Duration::hours(24),
        closed_invitations: chrono::Duration::zero(),
        login_networks: chrono::Duration::days(90),
        failed_attempts: chrono::Duration::minutes(10),
    };
    let purged = purge(&db, now).await.unwrap();
    assert_eq!(purged.invitations, 2, "the used one and the revoked one");
    expect_json::<Value>(app.post(&invitations, Some(&ann_token), &json!({})).await, StatusCode::CREATED).await;
}

/// An application whose join lockout allows three wrong codes, three customers and a
/// group of the first.
async fn three_guesses_allowed() -> (TestApp, [(contract::dto::User, String); 3], Group) {
    let app = TestApp::spawn_with(|config| config.groups.join_max_failures = 3).await;
    let customers = app.customers().await;
    let group = app.group(&customers[0].1).await;
    (app, customers, group)
}

/// Guessing codes locks out the one who guesses, as their token proves them; never the
/// user a stranger names in the body.
#[tokio::test]
async fn guessing_codes_locks_out_the_guesser_and_nobody_else() {
    let (app, [(_, ann_token), (bob, bob_token), (eve, eve_token)], group) = three_guesses_allowed().await;
    let gid = group.id.as_str();
    let guess = |n: usize| format!("{gid}.{n:A>43}");
    // Naming Bob, however often, is refused before anything counts.
    for n in 0..10 {
        let res = app.join(&eve_token, gid, bob.id.as_str(), &guess(n)).await;
        expect_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    }
    // Eve's own guesses, spread over two instances of the region: three are answered,
    // then she waits on either (the failures are counted in the region's database).
    let second = app.sibling().await;
    let join_at = |base: &str, n: usize| {
        app.http
            .raw(client::Method::POST, &format!("{base}/v1/groups/{gid}/members"))
            .bearer_auth(&eve_token)
            .json(&json!({"user_id": eve.id, "invitation": guess(n)}))
            .send()
    };
    for n in 0..3 {
        let res = join_at([&app.base, &second.base][n % 2], n).await.unwrap();
        expect_error(res, StatusCode::FORBIDDEN, "invitation_invalid").await;
    }
    for base in [&app.base, &second.base] {
        let res = join_at(base, 3).await.unwrap();
        assert_eq!(res.headers()["retry-after"], "1");
        expect_error(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    }
    // Bob joins at once with the invitation he was given.
    let code = app.invite(&ann_token, gid, &json!({})).await.code;
    expect_json::<Value>(app.join(&bob_token, gid, bob.id.as_str(), &code).await, StatusCode::CREATED).await;
}

/// Guesses sent at once are each counted before their code is checked, so only the
/// allowance is checked, whichever instance takes them; a refusal that is no wrong code
/// gives its attempt back.
#[tokio::test]
async fn a_burst_of_guesses_is_checked_only_until_the_lockout() {
    let (app, [(_, ann_token), (bob, bob_token), (eve, eve_token)], group) = three_guesses_allowed().await;
    let gid = group.id.as_str();
    let second = app.sibling().await;
    let guesses = (0..30).map(|n| {
        app.http
            .raw(client::Method::POST, &format!("{}/v1/groups/{gid}/members", [&app.base, &second.base][n % 2]))
            .bearer_auth(&eve_token)
            .json(&json!({"user_id": eve.id, "invitation": format!("{gid}.{n:A>43}")}))
            .send()
    });
    let statuses: Vec<StatusCode> = join_all(guesses).await.into_iter().map(|res| res.unwrap().status()).collect();
    let count = |status: StatusCode| statuses.iter().filter(|s| **s == status).count();
    // Counted after the check, as before, 17 of 30 were checked.
    assert_eq!((count(StatusCode::FORBIDDEN), count(StatusCode::TOO_MANY_REQUESTS)), (3, 27), "{statuses:?}");

    // Bob, a member already, is refused five times with good codes: none of it locks him.
    app.invite_and_join(&ann_token, gid, bob.id.as_str(), &bob_token, false).await;
    for _ in 0..5 {
        let code = app.invite(&ann_token, gid, &json!({})).await.code;
        let res = app.join(&bob_token, gid, bob.id.as_str(), &code).await;
        expect_error(res, StatusCode::CONFLICT, "already_member").await;
    }
    let other = app.group(&ann_token).await;
    app.invite_and_join(&ann_token, other.id.as_str(), bob.id.as_str(), &bob_token, false).await;
}

/// A stranger who learnt a group's id is refused before the group's row is locked: the
/// changes they may not make never queue behind, nor hold up, its points writes.
#[tokio::test]
async fn strangers_changing_a_group_are_refused_without_waiting_on_it() {
    use diesel::Connection;
    use diesel::connection::SimpleConnection;
    // Had a refusal waited for the row, it would answer 504 after 2 s.
    let app = TestApp::spawn_with(|config| config.db.deadline_ms = 2_000).await;
    let [(ann, ann_token), (eve, eve_token)] = app.customers().await;
    let group = app.group(&ann_token).await;
    let gid = group.id.as_str();
    let mut holder = app.db.connect();
    holder.begin_test_transaction().unwrap();
    holder.batch_execute(&format!("SELECT 1 FROM groups WHERE id = '{gid}' FOR UPDATE")).unwrap();
    let path = format!("/v1/groups/{gid}");
    let member = format!("{path}/members/{}", ann.id);
    for res in [
        app.patch(&path, Some(&eve_token), &json!({"name": "Mine"})).await,
        app.patch(&path, Some(&eve_token), &json!({"owner_id": eve.id})).await,
        app.patch(&member, Some(&eve_token), &json!({"can_redeem": true})).await,
        app.delete(&member, Some(&eve_token)).await,
    ] {
        expect_error(res, StatusCode::NOT_FOUND, "not_found").await;
    }
    drop(holder);
    expect_json::<Group>(app.patch(&path, Some(&ann_token), &json!({"name": "Ours"})).await, StatusCode::OK).await;
}
