//! Closing an account through the router: refused while the user is in a group of
//! another region (that region is asked) and while a region does not answer; then the
//! user's token is refused, every region that keeps their email's directory entry
//! forgets it and refuses that user's confirmation for good (as the router's repair or a
//! retried event would send it), and the email signs up again.

use crate::support::{PASSWORD, Stack, expect_error, expect_json};
use contract::dto::User;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

/// `path` of region `region`'s API, as the router would call it.
#[allow(clippy::unwrap_used)] // test helper
async fn internal(stack: &Stack, region: &str, method: Method, path: &str, body: Option<&Value>) -> Response {
    let mut req = stack
        .http
        .raw(method, &format!("{}{path}", stack.api_url(region, 0)))
        .header("X-Service-Token", stack.service_token());
    if let Some(body) = body {
        req = req.json(body);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn a_closed_accounts_email_is_forgotten_by_every_region_and_signs_up_again() {
    let stack = Stack::with_faults();
    let (ann, token) = stack.customer("001").await;
    let (_, olga) = stack.customer("003").await;
    let group = stack.new_group(&olga, "Club", "Lima", "002").await;
    let gid = group.id.as_str();
    expect_json::<Value>(stack.invite_and_join(&olga, gid, ann.id.as_str(), &token, false).await, StatusCode::CREATED)
        .await;
    let account = format!("/v1/users/{}", ann.id);
    let closure = json!({"current_password": PASSWORD});

    // A member of a group of 002 the moment she joined it: 002 is asked, not her index
    // (which learns of the join only when its event arrives).
    let refused = stack.request(Method::DELETE, &account, Some(&token), Some(&closure)).await;
    expect_error(refused, StatusCode::CONFLICT, "still_a_member").await;
    let leave = format!("/v1/groups/{gid}/members/{}", ann.id);
    assert_eq!(stack.request(Method::DELETE, &leave, Some(&token), None).await.status(), StatusCode::NO_CONTENT);
    // While 003 does not answer, whether she is a member there is unknown: nothing is erased.
    stack.fault("api-003-0", json!({"fault": "drop"})).await;
    let waits = stack.request(Method::DELETE, &account, Some(&token), Some(&closure)).await;
    expect_error(waits, StatusCode::SERVICE_UNAVAILABLE, "region_unavailable").await;
    stack.heal().await;
    expect_json::<User>(stack.get(&account, Some(&token)).await, StatusCode::OK).await;
    // Sent ten times at once: closed once; the others meet a revoked token or no account,
    // or are told to wait for a turn at hashing (429 with Retry-After).
    let closing = (0..10).map(|_| stack.request(Method::DELETE, &account, Some(&token), Some(&closure)));
    let mut statuses: Vec<u16> =
        futures_util::future::join_all(closing).await.iter().map(|res| res.status().as_u16()).collect();
    statuses.sort_unstable();
    assert_eq!(statuses.iter().filter(|s| **s == 204).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| [204, 401, 404, 429].contains(s)), "{statuses:?}");
    let revoked = stack.sql("001", &format!("SELECT count(*) FROM token_revocations WHERE user_id = '{}'", ann.id));
    assert_eq!(revoked.trim(), "1", "one closure, one revocation");
    expect_error(stack.get(&account, Some(&token)).await, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let staff = stack.staff("002").await;
    expect_error(stack.get(&account, Some(&staff)).await, StatusCode::NOT_FOUND, "not_found").await;

    // Every region that kept her email's entry forgets it, and refuses her from then on.
    let email = ann.email.clone();
    let regions: Vec<contract::RegionId> = crate::support::regions().iter().map(|r| r.parse().unwrap()).collect();
    let directory = contract::directory::directory_regions(&contract::email::Email::parse(&email).unwrap(), &regions);
    let look_up = format!("/internal/directory?email={email}");
    for region in &directory {
        let region = region.as_str();
        stack
            .eventually(&format!("{region} forgets the entry"), || async {
                internal(&stack, region, Method::GET, &look_up, None).await.status() == StatusCode::NOT_FOUND
            })
            .await;
        let again = json!({"email": email, "user_id": ann.id});
        let res = internal(&stack, region, Method::POST, "/internal/directory/confirmations", Some(&again)).await;
        expect_error(res, StatusCode::CONFLICT, "email_taken").await;
        assert_eq!(internal(&stack, region, Method::GET, &look_up, None).await.status(), StatusCode::NOT_FOUND);
    }

    // The email is free: it signs up again, homed elsewhere, as someone new.
    let body = json!({"email": email, "password": PASSWORD, "full_name": "Ann Again", "home_region": "003"});
    let fresh: User = expect_json(stack.post("/v1/users", None, &body).await, StatusCode::CREATED).await;
    assert_eq!(fresh.home_region.as_str(), "003");
    assert_eq!(stack.login(&email, PASSWORD).await.user_id, fresh.id);
}

/// A stack with fault links, Ann (a customer of 001, logged in) and an invitation for
/// her into a group of 002 she is not in yet.
struct Club {
    stack: Stack,
    ann: User,
    token: String,
    gid: String,
    code: String,
}

impl Club {
    async fn open(name: &str) -> Club {
        let stack = Stack::with_faults();
        let (ann, token) = stack.customer("001").await;
        let (_, olga) = stack.customer("002").await;
        let gid = stack.new_group(&olga, name, "Quito", "002").await.id.to_string();
        let code = stack.invitation_code(&olga, &gid, false).await;
        Club { stack, ann, token, gid, code }
    }
}

/// A partition that keeps 002 from learning 001's revocations: a closure in 001 asks 002
/// (no membership), commits, and the closed account's token still opens a group of 002,
/// which has not heard of it; once 001's list has gone unread too long, 002 refuses that
/// token's writes. When the partition heals, the join's event reaches 001, which finds
/// the account closed and has 002 end the membership: no group keeps a member nobody is.
#[tokio::test]
async fn a_join_that_slipped_past_a_closure_is_ended_once_the_home_region_hears_of_it() {
    let Club { stack, ann, token, gid, code } = Club::open("Late club").await;
    let gid = gid.as_str();

    // Nothing reaches 001 but the user, straight to its API: she closes her account.
    stack.fault("api-001-0", json!({"fault": "drop"})).await;
    let cut = std::time::Instant::now();
    let closure = json!({"current_password": PASSWORD});
    let closed = stack
        .http
        .raw(Method::DELETE, &format!("{}/v1/users/{}", stack.api_url("001", 0), ann.id))
        .bearer_auth(&token)
        .json(&closure)
        .send()
        .await
        .unwrap();
    assert_eq!(closed.status(), StatusCode::NO_CONTENT);
    // 002 has not learnt of the revocation: her token joins its group.
    let join = json!({"user_id": ann.id, "invitation": code});
    let joined = stack.post(&format!("/v1/groups/{gid}/members"), Some(&token), &join).await;
    assert_eq!(joined.status(), StatusCode::CREATED, "{}", joined.text().await.unwrap_or_default());
    let membership = format!("SELECT active FROM group_members WHERE group_id = '{gid}' AND user_id = '{}'", ann.id);
    assert_eq!(stack.sql("002", &membership).trim(), "t");
    // Once 001's denylist has gone unread for `auth.revocation_stale_ms` (10 s), 002 takes
    // no more writes from 001's users: the revoked token still reads, but spends nothing.
    let (redeem, attempt) = (format!("/v1/groups/{gid}/redemptions"), std::cell::Cell::new(0));
    stack
        .eventually("002 refuses writes of 001's users", || {
            attempt.set(attempt.get() + 1);
            let (key, redeem, token, stack) = (format!("stale-{}", attempt.get()), &redeem, &token, &stack);
            async move {
                let res = stack.post_once(&stack.router, redeem, token, &key, &json!({"points": 1})).await;
                res.status() == StatusCode::SERVICE_UNAVAILABLE
            }
        })
        .await;
    eprintln!("STALE: 002 refused 001's users' writes {:.1} s after the cut", cut.elapsed().as_secs_f64());
    assert_eq!(stack.get(&format!("/v1/groups/{gid}"), Some(&token)).await.status(), StatusCode::OK, "reads go on");

    stack.heal().await;
    stack
        .eventually("002 ends the closed account's membership", || async {
            stack.sql("002", &membership).trim() == "f"
        })
        .await;
    let index = format!("SELECT active FROM user_group_index WHERE group_id = '{gid}' AND user_id = '{}'", ann.id);
    stack.eventually("001's index follows", || async { stack.sql("001", &index).trim() == "f" }).await;
    let refused = || async { stack.get(&format!("/v1/groups/{gid}"), Some(&token)).await.status() == 401 };
    stack.eventually("002 learns of the revocation", refused).await;
}

/// A join whose region had already answered the closure's question, and whose event
/// reaches the home region before the closing transaction reads: the closure sees a
/// membership newer than its question and is refused. (003 answers slowly, so the join
/// in 002 and its event fit between 002's answer and the transaction.)
#[tokio::test]
async fn a_join_between_the_question_and_the_closing_transaction_refuses_the_closure() {
    let Club { stack, ann, token, gid, code } = Club::open("Quick club").await;
    let gid = gid.as_str();
    let admin = stack.admin().await;
    stack.fault("api-003-0", json!({"fault": "latency", "ms": 900})).await;

    // An admin's closure takes no password hashing: 002 is asked at once, 003 answers
    // after about two seconds.
    let account = format!("/v1/users/{}", ann.id);
    let nothing = json!({});
    let closing = stack.request(Method::DELETE, &account, Some(&admin), Some(&nothing));
    let joining = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let join = json!({"user_id": ann.id, "invitation": code});
        stack.post(&format!("/v1/groups/{gid}/members"), Some(&token), &join).await
    };
    let (closed, joined) = tokio::join!(closing, joining);
    assert_eq!(joined.status(), StatusCode::CREATED);
    let refused: Value = expect_json(closed, StatusCode::CONFLICT).await;
    assert_eq!(refused["error"]["code"], "still_a_member", "{refused}");
    assert!(refused["error"]["message"].as_str().is_some_and(|m| m.contains(gid)), "{refused}");
    stack.heal().await;
    expect_json::<User>(stack.get(&account, Some(&token)).await, StatusCode::OK).await;
}

/// Closures that do not name the personal group's balance, sent through the router:
/// crafted numbers are refused as bad input, wrong ones (twenty at once) as
/// `points_remaining` or told to wait for a turn at hashing, a stranger's learns nothing;
/// the account stays open and the points stay until a closure names them.
#[tokio::test]
async fn crafted_and_repeated_closures_through_the_router_give_up_nothing() {
    let stack = Stack::start(1);
    let (ann, token) = stack.customer("001").await;
    let staff = stack.staff("001").await;
    let item = stack.add_item(&staff, "001", "Last supper", 4_000, 10).await;
    let bill = json!({"user_id": ann.id, "store_region": "001", "items": [{"item_id": item["id"], "qty": 1}]});
    stack.bill(&staff, &format!("last-{}", ann.id), &bill).await;
    let account = format!("/v1/users/{}", ann.id);
    let with = |forfeit: Value| json!({"current_password": PASSWORD, "forfeit_points": forfeit});

    for crafted in [json!(-40), json!("40"), json!(40.5), json!({"points": 40})] {
        let res = stack.request(Method::DELETE, &account, Some(&token), Some(&with(crafted))).await;
        expect_error(res, StatusCode::BAD_REQUEST, "invalid_input").await;
    }
    let wrong = with(json!(39));
    let burst = (0..20).map(|_| stack.request(Method::DELETE, &account, Some(&token), Some(&wrong)));
    let statuses: Vec<u16> = futures_util::future::join_all(burst).await.iter().map(|r| r.status().as_u16()).collect();
    assert!(statuses.iter().all(|s| [409, 429].contains(s)) && statuses.contains(&409), "{statuses:?}");
    let (_, eve) = stack.customer("002").await;
    let res = stack.request(Method::DELETE, &account, Some(&eve), Some(&with(json!(40)))).await;
    expect_error(res, StatusCode::NOT_FOUND, "not_found").await;
    let pool = format!("/v1/groups/{}", ann.personal_group_id);
    let kept: Value = expect_json(stack.get(&pool, Some(&token)).await, StatusCode::OK).await;
    assert_eq!(kept["points"], 40, "nothing given up");

    let closed = stack.request(Method::DELETE, &account, Some(&token), Some(&with(json!(40)))).await;
    assert_eq!(closed.status(), StatusCode::NO_CONTENT);
    let pool = ann.personal_group_id.as_str();
    let last =
        format!("SELECT kind, points FROM ledger_entries WHERE group_id = '{pool}' ORDER BY created_on DESC LIMIT 1");
    assert_eq!(stack.sql("001", &last).trim(), "forfeit|-40");
}
