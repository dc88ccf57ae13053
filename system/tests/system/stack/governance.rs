//! Groups belong to their members (contract v1.1), through the router of a real stack:
//! invitations across regions, redeem rights, removal and hand-over, closed personal
//! groups, no existence oracle, accountability, and the races on one invitation and on
//! a group's last places.

// Test-only code: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::{Stack, expect_error, expect_json};
use contract::dto::{Group, LedgerEntry, MemberRole, Page, User};
use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn in_index(stack: &Stack, user: &User, token: &str, group: &str) -> bool {
    let me: User = expect_json(stack.get(&format!("/v1/users/{}", user.id), Some(token)).await, StatusCode::OK).await;
    me.groups.iter().any(|g| g.as_str() == group)
}

async fn invite(stack: &Stack, token: &str, group: &str, body: Value) -> Value {
    expect_json(stack.post(&format!("/v1/groups/{group}/invitations"), Some(token), &body).await, StatusCode::CREATED)
        .await
}

async fn join(stack: &Stack, token: &str, group: &str, user: &User, code: &Value) -> reqwest::Response {
    let body = json!({"user_id": user.id, "invitation": code});
    stack.post(&format!("/v1/groups/{group}/members"), Some(token), &body).await
}

#[tokio::test]
async fn pools_belong_to_their_members() {
    let stack = Stack::start(1);
    let (olga, olga_token) = stack.customer("003").await;
    let (ben, ben_token) = stack.customer("002").await;
    let (eve, eve_token) = stack.customer("001").await;
    let staff1 = stack.staff("001").await;
    let group = stack.new_group(&olga_token, "Family", "Lyon", "001").await;
    let gid = group.id.as_str();
    assert_eq!((group.owner_id.as_str(), group.personal), (olga.id.as_str(), false));

    // Ben (another region) joins with an invitation addressed to him; Eve cannot use it,
    // and Ben's home region learns of the membership through the outbox.
    let for_ben = invite(&stack, &olga_token, gid, json!({"user_id": ben.id})).await;
    expect_error(
        join(&stack, &eve_token, gid, &eve, &for_ben["code"]).await,
        StatusCode::FORBIDDEN,
        "invitation_invalid",
    )
    .await;
    let joined: Value =
        expect_json(join(&stack, &ben_token, gid, &ben, &for_ben["code"]).await, StatusCode::CREATED).await;
    assert_eq!((joined["role"].as_str(), joined["can_redeem"].as_bool()), (Some("member"), Some(false)));
    stack.eventually("Ben's home region lists the group", || in_index(&stack, &ben, &ben_token, gid)).await;
    // Used once: used for good.
    expect_error(
        join(&stack, &eve_token, gid, &eve, &for_ben["code"]).await,
        StatusCode::FORBIDDEN,
        "invitation_invalid",
    )
    .await;

    // An expired invitation opens nothing (its expiry moved into the past in the database).
    let expiring = invite(&stack, &olga_token, gid, json!({"expires_in_secs": 60})).await;
    stack.sql(
        "001",
        &format!(
            "UPDATE invitations SET expires_at = now() - interval '1 second' WHERE id = '{}'",
            expiring["id"].as_str().unwrap()
        ),
    );
    expect_error(
        join(&stack, &eve_token, gid, &eve, &expiring["code"]).await,
        StatusCode::FORBIDDEN,
        "invitation_invalid",
    )
    .await;
    // Codes are kept only as hashes.
    assert_eq!(stack.sql("001", "SELECT count(*) FROM invitations WHERE code_hash LIKE '001-%'").trim(), "0");

    // Points in, then redeem rights: Ben may not until Olga grants it.
    let item = stack.add_item(&staff1, "001", "Crêpe", 5_000, 10).await;
    let bill = json!({"user_id": ben.id, "group_id": gid, "store_region": "001", "items": [{"item_id": item["id"], "qty": 2}]});
    let billed = stack.bill(&staff1, "bill-1", &bill).await;
    assert_eq!(billed["points_awarded"], 100);
    let redeem = format!("/v1/groups/{gid}/redemptions");
    expect_error(
        stack.post_once(&stack.router, &redeem, &ben_token, "r1", &json!({"points": 5})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let ben_in = format!("/v1/groups/{gid}/members/{}", ben.id);
    let granted: Value = expect_json(
        stack.request(Method::PATCH, &ben_in, Some(&olga_token), Some(&json!({"can_redeem": true}))).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(granted["can_redeem"], true);
    expect_json::<Value>(
        stack.post_once(&stack.router, &redeem, &ben_token, "r2", &json!({"points": 5})).await,
        StatusCode::CREATED,
    )
    .await;
    // A stranger who learnt the id: the group is not there, and nothing is spent.
    let stranger = expect_error(
        stack.post_once(&stack.router, &redeem, &eve_token, "steal", &json!({"points": 95})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let missing = expect_error(
        stack
            .post_once(&stack.router, "/v1/groups/001-zzzzzz/redemptions", &eve_token, "steal-2", &json!({"points": 1}))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let same = |body: &Value, id: &str| body["error"]["message"].as_str().unwrap().replace(id, "ID");
    assert_eq!(same(&stranger, gid), same(&missing, "001-zzzzzz"));
    for path in
        [format!("/v1/groups/{gid}"), format!("/v1/groups/{gid}/transactions"), format!("/v1/groups/{gid}/invitations")]
    {
        expect_error(stack.get(&path, Some(&eve_token)).await, StatusCode::NOT_FOUND, "not_found").await;
    }
    expect_error(
        stack.get(&format!("/v1/users/{}", ben.id), Some(&eve_token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // Every entry names who did it.
    let ledger: Page<LedgerEntry> =
        expect_json(stack.get(&format!("/v1/groups/{gid}/transactions"), Some(&olga_token)).await, StatusCode::OK)
            .await;
    let staff_id = stack.login_eventually("staff@001.loyalty.local", crate::support::STAFF_PASSWORD).await.user_id;
    let actors: Vec<_> = ledger.items.iter().map(|e| e.actor_id.clone()).collect();
    assert_eq!(actors, vec![Some(ben.id.clone()), Some(staff_id.clone())]);
    // Staff do not bill themselves.
    let own = json!({"user_id": staff_id, "store_region": "001", "items": [{"item_id": item["id"], "qty": 1}]});
    expect_error(
        stack.post_once(&stack.router, "/v1/bills", &staff1, "own", &own).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    // The owner cannot leave while Ben is there: she hands the group over first, and the
    // new owner may then remove her.
    let olga_in = format!("/v1/groups/{gid}/members/{}", olga.id);
    expect_error(
        stack.request(Method::DELETE, &olga_in, Some(&olga_token), None).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let handed: Group = expect_json(
        stack
            .request(Method::PATCH, &format!("/v1/groups/{gid}"), Some(&olga_token), Some(&json!({"owner_id": ben.id})))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(handed.owner_id, ben.id);
    // Crafted input: cursors this server never issued, a malformed invitation id, a long
    // guessed code. Each is the client's error, and the platform answers on.
    let invitations = format!("/v1/groups/{gid}/invitations");
    for cursor in ["eyJhZnRlciI6eyIwMDEiOiIgeCJ9fQ", "%00", "!!"] {
        let res = stack.get(&format!("{invitations}?cursor={cursor}"), Some(&ben_token)).await;
        expect_error(res, StatusCode::BAD_REQUEST, "invalid_input").await;
    }
    // A well-formed cursor made up by the client (the last microsecond of 9999, id
    // 999-zzzzzz) only moves within this group's own list, and to a stranger the list is
    // still not there.
    let forged = format!("{invitations}?cursor=MjUzNDAyMzAwNzk5OTk5OTk5fDk5OS16enp6eno");
    let page: Value = expect_json(stack.get(&forged, Some(&ben_token)).await, StatusCode::OK).await;
    assert!(!page["items"].as_array().unwrap().is_empty(), "{page}");
    expect_error(stack.get(&forged, Some(&eve_token)).await, StatusCode::NOT_FOUND, "not_found").await;
    expect_error(
        stack.request(Method::DELETE, &format!("{invitations}/nonsense"), Some(&ben_token), None).await,
        StatusCode::BAD_REQUEST,
        "invalid_id",
    )
    .await;
    let guess = json!(format!("{gid}.{}", "x".repeat(60_000)));
    expect_error(join(&stack, &eve_token, gid, &eve, &guess).await, StatusCode::FORBIDDEN, "invitation_invalid").await;
    expect_json::<Value>(stack.get("/v1/regions", None).await, StatusCode::OK).await;
    assert!(handed.memberships.iter().any(|m| m.user_id == olga.id && m.role == MemberRole::Member && m.can_redeem));
    // Ben, now the owner, removes Olga: her home region (003) forgets the group.
    assert_eq!(stack.request(Method::DELETE, &olga_in, Some(&ben_token), None).await.status(), StatusCode::NO_CONTENT);
    stack
        .eventually("Olga's home region drops the group", || async { !in_index(&stack, &olga, &olga_token, gid).await })
        .await;
    expect_error(stack.get(&format!("/v1/groups/{gid}"), Some(&olga_token)).await, StatusCode::NOT_FOUND, "not_found")
        .await;
    expect_error(
        stack.post_once(&stack.router, &redeem, &olga_token, "r3", &json!({"points": 1})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // A personal group is never joined, invited into, left or given away.
    let personal = format!("/v1/groups/{}", ben.personal_group_id);
    let admin = stack.admin().await;
    expect_error(
        stack.post(&format!("{personal}/members"), Some(&admin), &json!({"user_id": eve.id})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    expect_error(
        stack.post(&format!("{personal}/invitations"), Some(&ben_token), &json!({})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    expect_error(
        stack.request(Method::DELETE, &format!("{personal}/members/{}", ben.id), Some(&ben_token), None).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    expect_error(
        stack.request(Method::PATCH, &personal, Some(&ben_token), Some(&json!({"owner_id": eve.id}))).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let read: Group = expect_json(stack.get(&personal, Some(&ben_token)).await, StatusCode::OK).await;
    assert!(read.personal && read.members == vec![ben.id.clone()]);
}

#[tokio::test]
async fn one_invitation_admits_one_and_the_last_places_go_to_exactly_as_many() {
    let stack = Stack::start(1);
    let regions = ["001", "002", "003"];
    let (_, owner_token) = stack.customer("002").await;
    let joiners: Vec<(User, String)> = join_all((0..20).map(|i| stack.customer(regions[i % 3]))).await;

    // 20 users, one invitation, all at once: exactly one joins.
    let group = stack.new_group(&owner_token, "One seat", "Lima", "002").await;
    let gid = group.id.as_str().to_owned();
    let code = invite(&stack, &owner_token, &gid, json!({"can_redeem": true})).await["code"].clone();
    let answers = join_all(joiners.iter().map(|(user, token)| join(&stack, token, &gid, user, &code))).await;
    let statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses.iter().filter(|&&s| s == 201).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|&&s| s == 403).count(), 19, "{statuses:?}");
    let read: Group =
        expect_json(stack.get(&format!("/v1/groups/{gid}"), Some(&owner_token)).await, StatusCode::OK).await;
    assert_eq!(read.members.len(), 2);

    // A group of 7 (max_members is 10), 20 distinct invitations used at once: exactly 3 join.
    let admin = stack.admin().await;
    let full = stack.new_group(&owner_token, "Three seats", "Osaka", "003").await;
    let fid = full.id.as_str().to_owned();
    let fillers: Vec<(User, String)> = join_all((0..6).map(|i| stack.customer(regions[i % 3]))).await;
    for (user, _) in &fillers {
        let res = stack.post(&format!("/v1/groups/{fid}/members"), Some(&admin), &json!({"user_id": user.id})).await;
        expect_json::<Value>(res, StatusCode::CREATED).await;
    }
    let codes: Vec<Value> = join_all((0..20).map(|_| invite(&stack, &owner_token, &fid, json!({}))))
        .await
        .into_iter()
        .map(|i| i["code"].clone())
        .collect();
    let answers =
        join_all(joiners.iter().zip(&codes).map(|((user, token), code)| join(&stack, token, &fid, user, code))).await;
    let mut statuses = Vec::new();
    for answer in answers {
        let status = answer.status().as_u16();
        let body: Value = answer.json().await.unwrap();
        statuses.push((status, body["error"]["code"].as_str().unwrap_or("").to_owned()));
    }
    assert_eq!(statuses.iter().filter(|(s, _)| *s == 201).count(), 3, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|(s, c)| *s == 409 && c == "group_full").count(), 17, "{statuses:?}");
    let read: Group =
        expect_json(stack.get(&format!("/v1/groups/{fid}"), Some(&owner_token)).await, StatusCode::OK).await;
    assert_eq!((read.members.len(), read.max_members), (10, 10));
    // The refused joins left their invitations open; the three used name their users.
    let used =
        stack.sql("003", &format!("SELECT count(*) FROM invitations WHERE group_id = '{fid}' AND used_by IS NOT NULL"));
    assert_eq!(used.trim(), "3");
}
