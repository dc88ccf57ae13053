//! Groups: creation, membership, who sees what, and keyset-paginated ledgers.

use crate::support::{TestApp, expect_error, expect_json};
use contract::dto::{Group, MemberRole, User};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn create_join_leave_and_the_users_group_list() {
    let app = TestApp::spawn().await;
    let [(ann, ann_token), (bob, bob_token)] = app.customers().await;
    let group = app.group(&ann_token).await;
    assert_eq!(group.members, vec![ann.id.clone()]);
    assert_eq!(group.owner_id, ann.id);
    assert!(!group.personal);
    assert_eq!(group.max_members, 10);
    assert_eq!(group.memberships[0].role, MemberRole::Owner);
    assert!(group.memberships[0].can_redeem);
    assert_eq!(group.region.as_str(), "001");
    assert_eq!(group.points, 0);

    let invitation = app.invite(&ann_token, group.id.as_str(), &json!({})).await;
    assert!(invitation.code.starts_with(&format!("{}.", group.id)));
    assert!(!invitation.can_redeem);
    let joined: Value = expect_json(
        app.join(&bob_token, group.id.as_str(), bob.id.as_str(), &invitation.code).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(joined["group_id"], json!(group.id));
    assert_eq!(joined["role"], "member");
    assert_eq!(joined["can_redeem"], false);
    // Already in: the same answer whether the invitation is used or fresh.
    let again = app.invite(&ann_token, group.id.as_str(), &json!({})).await;
    expect_error(
        app.join(&bob_token, group.id.as_str(), bob.id.as_str(), &again.code).await,
        StatusCode::CONFLICT,
        "already_member",
    )
    .await;

    let read: Group =
        expect_json(app.get(&format!("/v1/groups/{}", group.id), Some(&bob_token)).await, StatusCode::OK).await;
    assert_eq!(read.members, vec![ann.id.clone(), bob.id.clone()]);
    assert_eq!(read.memberships[1].role, MemberRole::Member);
    let me: User = expect_json(app.get(&format!("/v1/users/{}", bob.id), Some(&bob_token)).await, StatusCode::OK).await;
    assert_eq!(me.groups, vec![bob.personal_group_id.clone(), group.id.clone()]);
    let mine: Value =
        expect_json(app.get(&format!("/v1/users/{}/groups", bob.id), Some(&bob_token)).await, StatusCode::OK).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 2);
    assert_eq!(mine["items"][1]["members"], json!([ann.id, bob.id]));
    assert_eq!(mine["unavailable"], json!([]));
    // The home region adds the user's membership index, for the router's merge.
    assert_eq!(mine["memberships"], json!([bob.personal_group_id, group.id]));

    let leave = format!("/v1/groups/{}/members/{}", group.id, bob.id);
    assert_eq!(app.delete(&leave, Some(&bob_token)).await.status(), StatusCode::NO_CONTENT);
    // Gone: to Bob the group now does not exist.
    expect_error(app.delete(&leave, Some(&bob_token)).await, StatusCode::NOT_FOUND, "not_found").await;
    let me: User = expect_json(app.get(&format!("/v1/users/{}", bob.id), Some(&bob_token)).await, StatusCode::OK).await;
    assert_eq!(me.groups, vec![bob.personal_group_id.clone()]);
    let mine: Value =
        expect_json(app.get(&format!("/v1/users/{}/groups", bob.id), Some(&bob_token)).await, StatusCode::OK).await;
    assert_eq!(mine["items"].as_array().map(|items| items.len()), Some(1));
    assert_eq!(mine["memberships"], json!([bob.personal_group_id]));
    let theirs: Value =
        expect_json(app.get(&format!("/v1/users/{}/groups", ann.id), Some(&ann_token)).await, StatusCode::OK).await;
    assert_eq!(theirs["items"][1]["id"], json!(group.id));
    assert_eq!(theirs["items"][1]["members"], json!([ann.id]));
    let gone = expect_error(
        app.get(&format!("/v1/groups/{}", group.id), Some(&bob_token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let missing =
        expect_error(app.get("/v1/groups/001-zzzzzz", Some(&bob_token)).await, StatusCode::NOT_FOUND, "not_found")
            .await;
    assert_eq!(
        gone["error"]["message"].as_str().unwrap().replace(group.id.as_str(), "X"),
        missing["error"]["message"].as_str().unwrap().replace("001-zzzzzz", "X"),
        "a group one may not see reads as a missing one"
    );
    // Rejoining takes a new invitation, which the used one is not.
    expect_error(
        app.join(&bob_token, group.id.as_str(), bob.id.as_str(), &invitation.code).await,
        StatusCode::FORBIDDEN,
        "invitation_invalid",
    )
    .await;
    expect_json::<Value>(
        app.join(&bob_token, group.id.as_str(), bob.id.as_str(), &again.code).await,
        StatusCode::CREATED,
    )
    .await;
    let me: User = expect_json(app.get(&format!("/v1/users/{}", bob.id), Some(&bob_token)).await, StatusCode::OK).await;
    assert!(me.groups.contains(&group.id));

    // A personal group cannot be left, nor invited into.
    let own = format!("/v1/groups/{}/members/{}", ann.personal_group_id, ann.id);
    expect_error(app.delete(&own, Some(&ann_token)).await, StatusCode::FORBIDDEN, "forbidden").await;
    let res =
        app.post(&format!("/v1/groups/{}/invitations", ann.personal_group_id), Some(&ann_token), &json!({})).await;
    expect_error(res, StatusCode::FORBIDDEN, "forbidden").await;
}

#[tokio::test]
async fn who_may_add_remove_and_read() {
    let app = TestApp::spawn().await;
    let [(ann, ann_token), (bob, bob_token), (carl, carl_token)] = app.customers().await;
    let group = app.group(&ann_token).await;
    let gid = group.id.as_str();
    let members = format!("/v1/groups/{gid}/members");
    // Customers add only themselves, even to their own group, and only with an invitation.
    expect_error(
        app.post(&members, Some(&ann_token), &json!({"user_id": carl.id})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    expect_error(
        app.post(&members, Some(&carl_token), &json!({"user_id": carl.id})).await,
        StatusCode::FORBIDDEN,
        "invitation_invalid",
    )
    .await;
    // Admins add and remove anyone, no invitation needed.
    let admin = app.admin_token().await;
    expect_json::<Value>(app.post(&members, Some(&admin), &json!({"user_id": carl.id})).await, StatusCode::CREATED)
        .await;
    app.invite_and_join(&ann_token, gid, bob.id.as_str(), &bob_token, false).await;
    let carl_leaves = format!("/v1/groups/{gid}/members/{}", carl.id);
    expect_error(app.delete(&carl_leaves, Some(&bob_token)).await, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(app.delete(&carl_leaves, Some(&admin)).await.status(), StatusCode::NO_CONTENT);
    // The owner removes members too.
    let bob_leaves = format!("/v1/groups/{gid}/members/{}", bob.id);
    assert_eq!(app.delete(&bob_leaves, Some(&ann_token)).await.status(), StatusCode::NO_CONTENT);
    app.invite_and_join(&ann_token, gid, bob.id.as_str(), &bob_token, false).await;
    // Members, staff and admins read a group and its ledger; to others it does not exist.
    let (_, stranger) = app.customer().await;
    let staff = app.staff_token().await;
    for path in [format!("/v1/groups/{gid}"), format!("/v1/groups/{gid}/transactions")] {
        for token in [&ann_token, &bob_token, &staff, &admin] {
            assert_eq!(app.get(&path, Some(token)).await.status(), StatusCode::OK, "{path}");
        }
        expect_error(app.get(&path, Some(&stranger)).await, StatusCode::NOT_FOUND, "not_found").await;
        expect_error(app.get(&path, None).await, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
    // Activity and group lists: oneself, staff, admins; another customer's user is not there.
    let activity = format!("/v1/users/{}/activity", ann.id);
    expect_error(app.get(&activity, Some(&bob_token)).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(app.get(&activity, Some(&ann_token)).await.status(), StatusCode::OK);
    // Unknown things.
    expect_error(app.get("/v1/groups/001-zzzzzz", Some(&admin)).await, StatusCode::NOT_FOUND, "not_found").await;
    // Joining a group that does not exist reads as a bad invitation: no oracle of ids.
    expect_error(
        app.join(&carl_token, "001-zzzzzz", carl.id.as_str(), "001-zzzzzz.abc").await,
        StatusCode::FORBIDDEN,
        "invitation_invalid",
    )
    .await;
    expect_error(
        app.post(&members, Some(&admin), &json!({"user_id": "001-zzzzzz"})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_error(
        app.post(&members, Some(&admin), &json!({"user_id": "zz"})).await,
        StatusCode::BAD_REQUEST,
        "invalid_id",
    )
    .await;
}

#[tokio::test]
async fn members_of_other_regions_are_recorded_and_announced_through_the_outbox() {
    let app = TestApp::spawn().await;
    let (ann, ann_token) = app.customer().await;
    let group = app.group(&ann_token).await;
    // A user homed in 002 joins (their token verifies here: keys are shared).
    let admin = app.admin_token().await;
    let remote = "002-abc123";
    let res = app.post(&format!("/v1/groups/{}/members", group.id), Some(&admin), &json!({"user_id": remote})).await;
    expect_json::<Value>(res, StatusCode::CREATED).await;
    let read: Group =
        expect_json(app.get(&format!("/v1/groups/{}", group.id), Some(&ann_token)).await, StatusCode::OK).await;
    assert_eq!(read.members.iter().map(|m| m.as_str()).collect::<Vec<_>>(), vec![ann.id.as_str(), remote]);
    use api::db::schema::outbox::dsl as o;
    use diesel::prelude::*;
    let events: Vec<(String, serde_json::Value)> = o::outbox
        .filter(o::kind.eq("membership"))
        .select((o::destination_region, o::payload))
        .load(&mut app.db.connect())
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].0, "002");
    assert_eq!(
        events[0].1,
        json!({"kind": "membership", "user_id": remote, "group_id": group.id, "active": true, "version": 1})
    );
}

#[tokio::test]
async fn group_input_is_checked() {
    let app = TestApp::spawn().await;
    let (_, token) = app.customer().await;
    for (body, status, code) in [
        (json!({"name": "", "location": "x", "region": "001"}), StatusCode::BAD_REQUEST, "invalid_input"),
        (json!({"name": "n".repeat(101), "location": "x", "region": "001"}), StatusCode::BAD_REQUEST, "invalid_input"),
        (json!({"name": "ok", "location": "x", "region": "004"}), StatusCode::NOT_FOUND, "unknown_region"),
        (json!({"name": "ok", "location": "x", "region": "003"}), StatusCode::MISDIRECTED_REQUEST, "misdirected"),
        (json!({"name": "ok", "location": "x"}), StatusCode::BAD_REQUEST, "invalid_input"),
        (
            json!({"name": "ok", "location": "x", "region": "001", "points": 100}),
            StatusCode::BAD_REQUEST,
            "invalid_input",
        ),
    ] {
        expect_error(app.post("/v1/groups", Some(&token), &body).await, status, code).await;
    }
    expect_error(
        app.post("/v1/groups", None, &json!({"name": "a", "location": "b", "region": "001"})).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
}

#[tokio::test]
async fn ledger_pages_are_newest_first_and_stable_under_inserts() {
    let app = TestApp::spawn().await;
    let (user, token) = app.customer().await;
    let gid = user.personal_group_id.as_str();
    for _ in 0..7 {
        app.award(user.id.as_str(), None, 100, 1).await;
    }
    let path = |cursor: Option<&str>| match cursor {
        Some(c) => format!("/v1/groups/{gid}/transactions?limit=3&cursor={c}"),
        None => format!("/v1/groups/{gid}/transactions?limit=3"),
    };
    let first: Value = expect_json(app.get(&path(None), Some(&token)).await, StatusCode::OK).await;
    assert_eq!(first["items"].as_array().unwrap().len(), 3);
    // New entries arriving while paging do not shift later pages.
    app.award(user.id.as_str(), None, 100, 1).await;
    let mut seen: Vec<Value> = first["items"].as_array().unwrap().iter().map(|e| e["id"].clone()).collect();
    let mut cursor = first["next_cursor"].as_str().map(str::to_owned);
    while let Some(c) = cursor {
        let page: Value = expect_json(app.get(&path(Some(&c)), Some(&token)).await, StatusCode::OK).await;
        seen.extend(page["items"].as_array().unwrap().iter().map(|e| e["id"].clone()));
        cursor = page["next_cursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seen.len(), 7, "each of the first seven entries exactly once");
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.as_str().cmp(&a.as_str()));
    sorted.dedup();
    assert_eq!(sorted.len(), 7);
    // Balances read newest first go down by one each step.
    let all: Value =
        expect_json(app.get(&format!("/v1/groups/{gid}/transactions?limit=200"), Some(&token)).await, StatusCode::OK)
            .await;
    let balances: Vec<i64> =
        all["items"].as_array().unwrap().iter().map(|e| e["balance_after"].as_i64().unwrap()).collect();
    assert_eq!(balances, vec![8, 7, 6, 5, 4, 3, 2, 1]);
    assert!(all["next_cursor"].is_null());
    // The user's activity holds the same entries.
    let activity: Value =
        expect_json(app.get(&format!("/v1/users/{}/activity?limit=200", user.id), Some(&token)).await, StatusCode::OK)
            .await;
    assert_eq!(activity["items"], all["items"]);
    for bad in [
        "limit=0",
        "limit=201",
        "limit=x",
        "cursor=garbage",
        "colour=red",
        "cursor=LTEwMDAwMDAwMDAwMDAwMDAwMDB8eA",
        "cursor=ODAwMDAwMDAwMDAwMDAwMDAwMHx4",
        "cursor=MTcwMDAwMDAwMDAwMDAwMHwA",
        "cursor=MTcwMDAwMDAwMDAwMDAwMHwwMDEtAA",
    ] {
        let res = app.get(&format!("/v1/groups/{gid}/transactions?{bad}"), Some(&token)).await;
        expect_error(res, StatusCode::BAD_REQUEST, "invalid_input").await;
    }
}

/// A member's activity pages through the entries of every group they are in (others'
/// entries in a shared group too), newest first, each exactly once; a group they left
/// is no longer in it.
#[tokio::test]
async fn a_members_activity_pages_through_all_their_groups_newest_first() {
    let app = TestApp::spawn().await;
    let [(ann, ann_token), (bob, bob_token)] = app.customers().await;
    let team = app.group(&bob_token).await;
    let left = app.group(&bob_token).await;
    for group in [&team, &left] {
        app.invite_and_join(&bob_token, group.id.as_str(), ann.id.as_str(), &ann_token, false).await;
    }
    for _ in 0..3 {
        app.award(ann.id.as_str(), None, 100, 1).await;
        app.award(ann.id.as_str(), Some(team.id.as_str()), 100, 1).await;
        app.award(bob.id.as_str(), Some(team.id.as_str()), 100, 1).await;
        app.award(ann.id.as_str(), Some(left.id.as_str()), 100, 1).await;
    }
    let leave = app.delete(&format!("/v1/groups/{}/members/{}", left.id, ann.id), Some(&ann_token)).await;
    assert!(leave.status().is_success(), "{}", leave.status());

    let position = |e: &Value| {
        let at: chrono::DateTime<chrono::Utc> = e["created_on"].as_str().unwrap().parse().unwrap();
        (at, e["id"].as_str().unwrap().to_owned())
    };
    let mut expected = Vec::new();
    for gid in [ann.personal_group_id.as_str(), team.id.as_str()] {
        let all: Value = expect_json(
            app.get(&format!("/v1/groups/{gid}/transactions?limit=200"), Some(&ann_token)).await,
            StatusCode::OK,
        )
        .await;
        expected.extend(all["items"].as_array().unwrap().iter().map(position));
    }
    expected.sort_by(|a, b| b.cmp(a));
    assert_eq!(expected.len(), 9);

    let mut seen = Vec::new();
    let mut path = format!("/v1/users/{}/activity?limit=2", ann.id);
    loop {
        let page: Value = expect_json(app.get(&path, Some(&ann_token)).await, StatusCode::OK).await;
        seen.extend(page["items"].as_array().unwrap().iter().map(position));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/users/{}/activity?limit=2&cursor={cursor}", ann.id),
            None => break,
        }
    }
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn the_home_region_vouches_for_the_user_whose_groups_are_asked() {
    let app = TestApp::spawn().await;
    let staff = app.staff_token().await;
    expect_error(app.get("/v1/users/001-zzzzzz/groups", Some(&staff)).await, StatusCode::NOT_FOUND, "not_found").await;
    // Another region's user: this region answers with its own part only, no index.
    let theirs: Value = expect_json(app.get("/v1/users/002-zzzzzz/groups", Some(&staff)).await, StatusCode::OK).await;
    assert_eq!(theirs, json!({"items": [], "unavailable": []}));
}
