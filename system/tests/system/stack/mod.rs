//! The whole platform as a client sees it: three regions and the router, brought up by
//! the local deployment's scripts, driven only through the router's public API.

mod authorization;
mod closing;
mod discounts;
mod governance;
mod hostile_input;
mod index_audit;
mod input_rules;
mod keys;
mod limits;
mod revocations;
mod tokens;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::support::{PASSWORD, Stack, expect_error, expect_json, regions};
use contract::dto::{Group, User, UserGroups};
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn accounts_are_global_and_found_by_email() {
    let stack = Stack::start(1);
    for region in &regions() {
        let (user, _) = stack.customer(region).await;
        assert_eq!(user.home_region.as_str(), region);
        assert!(user.id.as_str().starts_with(region));
        let session = stack.login(&user.email, PASSWORD).await;
        assert_eq!(session.user_id, user.id, "login finds the home region from the email alone");
    }
    // One email, one account, across regions and whatever the case.
    let (ann, _) = stack.customer("001").await;
    let again = json!({"email": ann.email.to_uppercase(), "password": PASSWORD, "full_name": "Other Ann", "home_region": "003"});
    expect_error(stack.post("/v1/users", None, &again).await, StatusCode::CONFLICT, "email_taken").await;
    // Concurrent sign-ups with one email in three regions: exactly one wins.
    let email = format!("race-{}@stack.test", ulid::Ulid::new().to_string().to_lowercase());
    let attempts = join_all(regions().iter().cycle().take(6).map(|region| {
        let body = json!({"email": email, "password": PASSWORD, "full_name": "Racer", "home_region": region});
        let stack = &stack;
        async move { stack.post("/v1/users", None, &body).await.status() }
    }))
    .await;
    assert_eq!(attempts.iter().filter(|s| **s == StatusCode::CREATED).count(), 1, "{attempts:?}");
    assert!(attempts.iter().all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT), "{attempts:?}");
    // A refused sign-up does not hold its email: bad input releases the reservation.
    let email = format!("retry-{}@stack.test", ulid::Ulid::new().to_string().to_lowercase());
    let bad = json!({"email": email, "password": "short", "full_name": "R", "home_region": "002"});
    expect_error(stack.post("/v1/users", None, &bad).await, StatusCode::BAD_REQUEST, "invalid_input").await;
    let good = json!({"email": email, "password": PASSWORD, "full_name": "R", "home_region": "002"});
    expect_json::<User>(stack.post("/v1/users", None, &good).await, StatusCode::CREATED).await;

    // Bootstrap accounts reach the directory through the outbox.
    let admin = stack.admin().await;
    for region in &regions() {
        stack.staff(region).await;
    }
    // Login failures look the same whether or not the email exists.
    let wrong = stack.post("/v1/sessions", None, &json!({"email": ann.email, "password": "wrong password"})).await;
    let unknown =
        stack.post("/v1/sessions", None, &json!({"email": "nobody@stack.test", "password": "wrong password"})).await;
    let (wrong, unknown) = (
        expect_error(wrong, StatusCode::UNAUTHORIZED, "unauthenticated").await,
        expect_error(unknown, StatusCode::UNAUTHORIZED, "unauthenticated").await,
    );
    assert_eq!(wrong["error"]["message"], unknown["error"]["message"]);
    // Staff anywhere find a customer of any region by email (the router asks the email's
    // directory); a customer is refused alike for an email that is someone's or no one's.
    let staff = stack.staff("002").await;
    let (cleo, cleo_token) = stack.customer("003").await;
    let find = |email: &str| format!("/v1/users?email={}", email.replace('@', "%40"));
    let found: User =
        expect_json(stack.get(&find(&cleo.email.to_uppercase()), Some(&staff)).await, StatusCode::OK).await;
    assert_eq!(found.id, cleo.id);
    expect_error(stack.get(&find("nobody@stack.test"), Some(&staff)).await, StatusCode::NOT_FOUND, "not_found").await;
    let probes = [ann.email.as_str(), "nobody@stack.test", "nul%00@stack.test"];
    for email in probes {
        expect_error(stack.get(&find(email), Some(&cleo_token)).await, StatusCode::FORBIDDEN, "forbidden").await;
    }
    // Crafted queries: none, twice, or not an email, answered in the envelope.
    let twice = format!("{}&email=nobody%40stack.test", find(&cleo.email));
    for path in ["/v1/users", "/v1/users?mail=x", twice.as_str(), "/v1/users?email=nul%00%40stack.test"] {
        expect_error(stack.get(path, Some(&staff)).await, StatusCode::BAD_REQUEST, "invalid_input").await;
    }

    // The router answers malformed and unknown ids itself, and never forwards /internal.
    expect_error(stack.get("/v1/users/nonsense", Some(&admin)).await, StatusCode::BAD_REQUEST, "invalid_id").await;
    expect_error(stack.get("/v1/users/009-abcdef", Some(&admin)).await, StatusCode::NOT_FOUND, "unknown_region").await;
    for path in ["/internal/events", "/internal/directory/reservations"] {
        expect_error(stack.post(path, None, &json!({})).await, StatusCode::NOT_FOUND, "not_found").await;
    }
    expect_error(stack.get("/internal/catalogue", None).await, StatusCode::NOT_FOUND, "not_found").await;
    let regions: Value = expect_json(stack.get("/v1/regions", None).await, StatusCode::OK).await;
    assert_eq!(
        regions["items"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect::<Vec<_>>(),
        ["up", "up", "up"]
    );
    // Request ids pass through every hop.
    let res = stack
        .http
        .raw(client::Method::GET, &format!("{}/v1/users/{}", stack.router, ann.id))
        .bearer_auth(&admin)
        .header("X-Request-Id", "stack-trace-1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "stack-trace-1");
}

#[tokio::test]
async fn groups_span_regions_and_bills_price_from_any_region() {
    let stack = Stack::start(1);
    let (ann, ann_token) = stack.customer("001").await;
    let (bob, bob_token) = stack.customer("002").await;
    let staff3 = stack.staff("003").await;
    let group = stack.new_group(&staff3, "Tokyo team", "Tokyo", "003").await;
    assert_eq!(group.region.as_str(), "003");
    for (user, token) in [(&ann, &ann_token), (&bob, &bob_token)] {
        let res = stack.invite_and_join(&staff3, group.id.as_str(), user.id.as_str(), token, true).await;
        expect_json::<Value>(res, StatusCode::CREATED).await;
    }
    // The membership index in each member's home region converges.
    for (user, token) in [(&ann, &ann_token), (&bob, &bob_token)] {
        stack
            .eventually("the group shows in the member's home region", || async {
                let me: User = stack.get(&format!("/v1/users/{}", user.id), Some(token)).await.json().await.unwrap();
                me.groups.contains(&group.id)
            })
            .await;
    }
    let read: Group =
        expect_json(stack.get(&format!("/v1/groups/{}", group.id), Some(&ann_token)).await, StatusCode::OK).await;
    assert_eq!(read.members.len(), 3);

    // A bill in group 003's region, priced from region 002's catalogue.
    let staff2 = stack.staff("002").await;
    let item = stack.add_item(&staff2, "002", "Tacos", 1_550, 200).await;
    let bill = json!({"user_id": ann.id, "group_id": group.id, "store_region": "002", "items": [{"item_id": item["id"], "qty": 2}]});
    let billed = stack.bill(&staff3, "cross-bill-1", &bill).await;
    assert_eq!(billed["amount_cents"], 3_100);
    assert_eq!(billed["points_awarded"], 31);
    // And one into Ann's personal group in 001, by the region's staff.
    let staff1 = stack.staff("001").await;
    let item1 = stack.add_item(&staff1, "001", "Crepe", 700, 70).await;
    for i in 0..3 {
        let bill = json!({"user_id": ann.id, "store_region": "001", "items": [{"item_id": item1["id"], "qty": 1}]});
        stack.bill(&staff1, &format!("b1-{i}"), &bill).await;
    }
    // Bob redeems from the shared group through the router.
    let path = format!("/v1/groups/{}/redemptions", group.id);
    let redeemed: Value = expect_json(
        stack.post_once(&stack.router, &path, &bob_token, "bob-1", &json!({"points": 11})).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(redeemed["balance_after"], 20);

    // Fan-out: Ann's groups from 001 and 003, with their points.
    let mine: UserGroups =
        expect_json(stack.get(&format!("/v1/users/{}/groups", ann.id), Some(&ann_token)).await, StatusCode::OK).await;
    assert!(mine.unavailable.is_empty());
    assert!(mine.memberships.is_none(), "the home region's index stays inside the router");
    let points: Vec<(String, i64)> = mine.items.iter().map(|g| (g.id.to_string(), g.points)).collect();
    assert_eq!(points, vec![(ann.personal_group_id.to_string(), 21), (group.id.to_string(), 20)]);

    // Activity merged across regions, newest first, paged with one cursor.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/users/{}/activity?limit=2&cursor={c}", ann.id),
            None => format!("/v1/users/{}/activity?limit=2", ann.id),
        };
        let page: Value = expect_json(stack.get(&path, Some(&ann_token)).await, StatusCode::OK).await;
        seen.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5, "3 bills in 001, 1 bill and 1 redemption in 003: {seen:#?}");
    let keys: Vec<(String, String)> = seen
        .iter()
        .map(|e| (e["created_on"].as_str().unwrap().to_owned(), e["id"].as_str().unwrap().to_owned()))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(keys, sorted, "newest first across regions");
    assert_eq!(keys.iter().collect::<BTreeSet<_>>().len(), 5, "each entry once");

    // Leaving converges too.
    assert_eq!(
        stack
            .request(
                reqwest::Method::DELETE,
                &format!("/v1/groups/{}/members/{}", group.id, bob.id),
                Some(&bob_token),
                None
            )
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    stack
        .eventually("the group leaves Bob's index", || async {
            let me: User = stack.get(&format!("/v1/users/{}", bob.id), Some(&bob_token)).await.json().await.unwrap();
            !me.groups.contains(&group.id)
        })
        .await;
}

#[tokio::test]
async fn a_region_that_is_down_fails_fast_and_the_others_keep_working() {
    let stack = Stack::start(1);
    let (ann, ann_token) = stack.customer("001").await;
    let staff2 = stack.staff("002").await;
    let group = stack.new_group(&staff2, "Americas", "Lima", "002").await;
    expect_json::<Value>(
        stack.invite_and_join(&staff2, group.id.as_str(), ann.id.as_str(), &ann_token, true).await,
        StatusCode::CREATED,
    )
    .await;
    stack
        .eventually("the join reaches Ann's index", || async {
            let me: User = stack.get(&format!("/v1/users/{}", ann.id), Some(&ann_token)).await.json().await.unwrap();
            me.groups.contains(&group.id)
        })
        .await;

    let (dora, dora_token) = stack.customer("002").await;
    let staff1 = stack.staff("001").await;

    stack.kill_api("002", 0);
    stack
        .eventually("the router sees region 002 down", || async {
            let regions: Value = stack.get("/v1/regions", None).await.json().await.unwrap();
            regions["items"][1]["status"] == "down"
        })
        .await;
    let started = Instant::now();
    let res = stack.get(&format!("/v1/groups/{}", group.id), Some(&ann_token)).await;
    let took = started.elapsed();
    assert!(res.headers().contains_key("retry-after"));
    expect_error(res, StatusCode::SERVICE_UNAVAILABLE, "region_unavailable").await;
    assert!(took < Duration::from_secs(1), "no waiting for a timeout: {took:?}");
    // Fan-out: a partial answer, naming what is missing.
    let mine: UserGroups =
        expect_json(stack.get(&format!("/v1/users/{}/groups", ann.id), Some(&ann_token)).await, StatusCode::OK).await;
    assert_eq!(mine.items.iter().map(|g| g.id.clone()).collect::<Vec<_>>(), vec![ann.personal_group_id.clone()]);
    assert_eq!(mine.unavailable, vec![group.id.clone()]);
    // Other regions are unaffected: sign-up and login work whichever region keeps the
    // email's directory entry (two of its three directory regions answer).
    let (carl, _) = stack.customer("003").await;
    assert_eq!(carl.home_region.as_str(), "003");
    assert_eq!(stack.get(&format!("/v1/users/{}", ann.id), Some(&ann_token)).await.status(), StatusCode::OK);
    // A password change of one of 002's users waits for 002, and finding them by email
    // too; finding a user of another region does not.
    let change = json!({"current_password": PASSWORD, "new_password": "changed while down"});
    let path = format!("/v1/users/{}/password", dora.id);
    let res = stack.request(reqwest::Method::PUT, &path, Some(&dora_token), Some(&change)).await;
    expect_error(res, StatusCode::SERVICE_UNAVAILABLE, "region_unavailable").await;
    let find = |email: &str| format!("/v1/users?email={}", email.replace('@', "%40"));
    expect_error(
        stack.get(&find(&dora.email), Some(&staff1)).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "region_unavailable",
    )
    .await;
    expect_json::<User>(stack.get(&find(&ann.email), Some(&staff1)).await, StatusCode::OK).await;

    // Healing: the region comes back and serves again, nothing restarted but it.
    stack.up();
    stack
        .eventually("region 002 serves again", || async {
            stack.get(&format!("/v1/groups/{}", group.id), Some(&ann_token)).await.status() == StatusCode::OK
        })
        .await;
    // The change refused while 002 was down applied nothing: the old password still opens.
    assert_eq!(stack.login(&dora.email, PASSWORD).await.user_id, dora.id);
}

#[tokio::test]
async fn a_retry_on_another_instance_applies_once() {
    let stack = Stack::start(2);
    let (ann, ann_token) = stack.customer("001").await;
    let staff1 = stack.staff("001").await;
    let item = stack.add_item(&staff1, "001", "Soup", 5_000, 10).await;
    let bill = json!({"user_id": ann.id, "store_region": "001", "items": [{"item_id": item["id"], "qty": 1}]});
    // The first attempt reaches instance 0; its retries land on instance 1 and on the router.
    let first: Value = expect_json(
        stack.post_once(&stack.api_url("001", 0), "/v1/bills", &staff1, "bill-k", &bill).await,
        StatusCode::CREATED,
    )
    .await;
    let retry = stack.post_once(&stack.api_url("001", 1), "/v1/bills", &staff1, "bill-k", &bill).await;
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(expect_json::<Value>(retry, StatusCode::CREATED).await, first);
    // Kill instance 0: the router moves to instance 1, and a retry there still applies once.
    stack.kill_api("001", 0);
    let path = format!("/v1/groups/{}/redemptions", ann.personal_group_id);
    let twenty = json!({"points": 20});
    let statuses =
        join_all((0..6).map(|_| stack.post_once(&stack.router, &path, &ann_token, "redeem-k", &twenty))).await;
    let mut fresh = 0;
    for res in statuses {
        assert_eq!(res.status(), StatusCode::CREATED, "{:?}", res.text().await);
        fresh += usize::from(!res.headers().contains_key("idempotent-replayed"));
    }
    assert_eq!(fresh, 1);
    let ledger: Value = expect_json(
        stack.get(&format!("/v1/groups/{}/transactions", ann.personal_group_id), Some(&ann_token)).await,
        StatusCode::OK,
    )
    .await;
    let points: Vec<i64> = ledger["items"].as_array().unwrap().iter().map(|e| e["points"].as_i64().unwrap()).collect();
    assert_eq!(points, vec![-20, 50], "one bill and one redemption, whatever the retries");
}

#[tokio::test]
async fn a_sign_up_that_died_half_way_blocks_its_email_only_until_its_lease_lapses() {
    let stack = Stack::start(1);
    let regions: Vec<contract::RegionId> = regions().iter().map(|r| r.parse().unwrap()).collect();
    let email = format!("orphan-{}@stack.test", ulid::Ulid::new().to_string().to_lowercase());
    let directory = contract::directory::directory_regions(&contract::email::Email::parse(&email).unwrap(), &regions);
    // A router reserved the email for a sign-up in 001 in every directory region (a
    // majority is enough to hold it) and died before creating the user.
    for region in &directory {
        let orphan = stack
            .http
            .raw(
                client::Method::POST,
                &format!("{}/internal/directory/reservations", stack.api_url(region.as_str(), 0)),
            )
            .header("X-Service-Token", stack.service_token())
            .json(&json!({"email": email, "home_region": "001"}))
            .send()
            .await
            .unwrap();
        assert_eq!(orphan.json::<Value>().await.unwrap()["outcome"], "reserved");
    }
    let body = json!({"email": email, "password": PASSWORD, "full_name": "Late", "home_region": "003"});
    expect_error(stack.post("/v1/users", None, &body).await, StatusCode::CONFLICT, "email_taken").await;
    // Past the lease, the router asks 001, learns no such user exists, and takes over.
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    let user: User = expect_json(stack.post("/v1/users", None, &body).await, StatusCode::CREATED).await;
    assert_eq!(user.home_region.as_str(), "003");
    assert_eq!(stack.login(&email, PASSWORD).await.user_id, user.id);
}
