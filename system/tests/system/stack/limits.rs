//! The limits a real deployment runs with, through the router, each client address
//! spoken as by a load balancer (`X-Forwarded-For`): a flood of logins from one address
//! is told to wait while another address is served, a stranger who fails on purpose
//! cannot lock an account's owner out (from one address or from forty), and a client
//! that reaches the router past the load balancer cannot name another address.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::{Response, StatusCode};
use serde_json::json;

use crate::support::raw::exchange;
use crate::support::{Options, PASSWORD, Stack};

async fn log_in_from(stack: &Stack, address: &str, email: &str, password: &str) -> Response {
    client::testing::log_in_from(&stack.http, &stack.router, address, email, password).await
}

#[tokio::test]
async fn one_address_flooding_logins_waits_and_cannot_lock_an_owner_out() {
    let stack = Stack::start_with(Options { instances: 1, drill: false, real_limits: true, tls: false });
    let (owner, _) = stack.customer("002").await;

    // A stranger guesses the owner's password from one address: five failures, then that
    // (email, address) pair waits, longer with each further failure.
    let mut answers = Vec::new();
    for _ in 0..7 {
        let res = log_in_from(&stack, "198.51.100.7", &owner.email, "wrong password").await;
        answers.push((res.status(), res.headers().get("retry-after").cloned()));
    }
    assert!(answers[..5].iter().all(|(s, _)| *s == StatusCode::UNAUTHORIZED), "{answers:?}");
    assert!(answers[5..].iter().all(|(s, wait)| *s == StatusCode::TOO_MANY_REQUESTS && wait.is_some()), "{answers:?}");
    // The owner, from their own address, is not locked out.
    let res = log_in_from(&stack, "203.0.113.9", &owner.email, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::CREATED);

    // A flood of logins for unknown emails from one address: its burst (20) is served,
    // the rest is told to wait by the router, and no answer is a 5xx. The flood names a
    // new visitor on every request, as the console does, with a guessed proxy token: the
    // router believes neither header, so every login still counts against its sender.
    let mut statuses = Vec::new();
    let started = std::time::Instant::now();
    for n in 0..30 {
        let res = stack
            .http
            .raw(client::Method::POST, &format!("{}/v1/sessions", stack.router))
            .header("x-forwarded-for", "192.0.2.1")
            .header(contract::secret::PROXY_CLIENT_HEADER, format!("10.9.8.{n}"))
            .header(contract::secret::PROXY_TOKEN_HEADER, format!("guess-{n}"))
            .json(&json!({"email": format!("nobody-{n}@stack.test"), "password": "wrong password"}))
            .send()
            .await
            .unwrap();
        let waited = res.headers().contains_key("retry-after");
        statuses.push(res.status());
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(waited);
            let body: serde_json::Value = res.json().await.unwrap();
            assert_eq!(body["error"]["code"], "rate_limited");
        }
    }
    // The bucket refills one login a second.
    let refilled = started.elapsed().as_secs() as usize + 1;
    let served = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    assert!(served >= 20 && served <= 20 + refilled && served < 30, "{statuses:?} in {:?}", started.elapsed());
    assert!(statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED || *s == StatusCode::TOO_MANY_REQUESTS));
    // Meanwhile another address logs in as usual.
    let res = log_in_from(&stack, "192.0.2.2", &owner.email, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::CREATED);

    // The same flood from 127.0.0.2, outside the proxies' network (127.0.0.1 here): it
    // names a new address in X-Forwarded-For each time, and the router counts every
    // login against the connection's own address all the same.
    let mut statuses = Vec::new();
    let started = std::time::Instant::now();
    for n in 0..30 {
        let body = json!({"email": format!("past-{n}@stack.test"), "password": "wrong password"}).to_string();
        statuses.push(log_in_past_the_proxies(&stack.router, &format!("203.0.113.{n}"), &body).await);
    }
    let refilled = started.elapsed().as_secs() as usize + 1;
    let served = statuses.iter().filter(|s| **s == 401).count();
    assert!(served >= 20 && served <= 20 + refilled && served < 30, "{statuses:?} in {:?}", started.elapsed());
    assert!(statuses.iter().all(|s| *s == 401 || *s == 429), "{statuses:?}");

    // The owner's password guessed from forty addresses, each far from its own lockout:
    // past 30 failures a minute (the 5 above count; the 2 their pair's lockout refused
    // were never tried), the account lets in only networks
    // its owner logged in from. No budget at the router refuses the owner with them.
    let mut statuses = Vec::new();
    for n in 0..40 {
        let res = log_in_from(&stack, &format!("198.18.{n}.1"), &owner.email, "wrong password").await;
        statuses.push(res.status().as_u16());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 25, "{statuses:?}");
    assert!(statuses[25..].iter().all(|s| *s == 429), "{statuses:?}");
    // Operators see it: the owner's region counts each refusal (and the pair's two above).
    assert_eq!(stack.api_metric("002", 0, "login_refusals_total").await, 17.0);
    let res = log_in_from(&stack, "100.64.0.1", &owner.email, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "the right password, from a network the owner never used");
    let res = log_in_from(&stack, "203.0.113.200", &owner.email, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::CREATED, "the owner, at home");
}

/// `POST /v1/sessions` on a connection from 127.0.0.2 that claims to forward for
/// `forwarded_for`; the status of the answer.
async fn log_in_past_the_proxies(router: &str, forwarded_for: &str, body: &str) -> u16 {
    let address = router.trim_start_matches("http://");
    let request = format!(
        "POST /v1/sessions HTTP/1.1\r\nhost: {address}\r\nconnection: close\r\nx-forwarded-for: {forwarded_for}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    exchange(router, "127.0.0.2".parse().ok(), request.as_bytes()).await.unwrap_or(0)
}

async fn post_from(
    stack: &Stack,
    address: &str,
    path: &str,
    token: Option<&str>,
    body: &serde_json::Value,
) -> Response {
    let mut req = stack
        .http
        .raw(client::Method::POST, &format!("{}{path}", stack.router))
        .header("x-forwarded-for", address)
        .json(body);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn sign_ups_invitation_guesses_and_email_look_ups_are_limited_per_address_and_caller() {
    let stack = Stack::start_with(Options { instances: 1, drill: false, real_limits: true, tls: false });
    // Sign-ups from one address: a burst of 10, then one every 2 s.
    let started = std::time::Instant::now();
    let mut statuses = Vec::new();
    for n in 0..14 {
        let body = json!({"email": format!("burst-{n}-{}@stack.test", ulid::Ulid::new().to_string().to_lowercase()),
                          "password": PASSWORD, "full_name": "Burst", "home_region": "001"});
        let res = post_from(&stack, "198.51.100.20", "/v1/users", None, &body).await;
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(res.headers().contains_key("retry-after"));
        }
        statuses.push(res.status());
    }
    let refilled = started.elapsed().as_secs() as usize / 2 + 1;
    let created = statuses.iter().filter(|s| **s == StatusCode::CREATED).count();
    assert!(created >= 10 && created <= 10 + refilled && created < 14, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == StatusCode::CREATED || *s == StatusCode::TOO_MANY_REQUESTS));

    // Guessing invitation codes: one account gets 5 answers, then waits (the group's
    // region keys the lockout by the caller its token proves); an account elsewhere is
    // not held up by it.
    let (_, owner_token) = stack.customer("002").await;
    let group = stack.new_group(&owner_token, "Guarded", "Here", "002").await;
    let members = format!("/v1/groups/{}/members", group.id);
    let (guesser, guesser_token) = stack.customer("001").await;
    let mut answers = Vec::new();
    for n in 0..8 {
        let body = json!({"user_id": guesser.id, "invitation": format!("{}.guess{n}", group.id)});
        let res = post_from(&stack, "198.51.100.30", &members, Some(&guesser_token), &body).await;
        answers.push((res.status(), res.headers().contains_key("retry-after")));
    }
    assert!(answers[..5].iter().all(|(s, _)| *s == StatusCode::FORBIDDEN), "{answers:?}");
    assert!(answers[5..].iter().all(|(s, wait)| *s == StatusCode::TOO_MANY_REQUESTS && *wait), "{answers:?}");
    assert_eq!(stack.api_metric("002", 0, "join_refusals_total").await, 3.0);
    let (other, other_token) = stack.customer("003").await;
    let body = json!({"user_id": other.id, "invitation": format!("{}.guess", group.id)});
    let res = post_from(&stack, "198.51.100.31", &members, Some(&other_token), &body).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // A stranger who names someone else spends nobody's attempts: twelve joins naming
    // `other` (each refused, 403), then `other` joins with the code they were given. The
    // router's budget keyed by the body's `user_id` answered `other` 429 here.
    let (_, stranger_token) = stack.customer("001").await;
    for n in 0..12 {
        let body = json!({"user_id": other.id, "invitation": format!("{}.named{n}", group.id)});
        let res = post_from(&stack, "198.51.100.32", &members, Some(&stranger_token), &body).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "join {n} naming another user");
    }
    let code = stack.invitation_code(&owner_token, group.id.as_str(), false).await;
    let body = json!({"user_id": other.id, "invitation": code});
    let res = post_from(&stack, "198.51.100.31", &members, Some(&other_token), &body).await;
    assert_eq!(res.status(), StatusCode::CREATED);

    // Staff finding users by email: 20 at once from 20 addresses, then the account waits,
    // from any address; staff of another region are not held up by it.
    let find = |n: usize| format!("/v1/users?email=nobody-{n}%40stack.test");
    let staff = stack.staff("001").await;
    let started = std::time::Instant::now();
    let mut statuses = Vec::new();
    for n in 0..26 {
        statuses.push(get_from(&stack, &format!("198.51.100.{}", 100 + n), &find(n), &staff).await.status());
    }
    let refilled = started.elapsed().as_secs() as usize + 1;
    let answered = statuses.iter().filter(|s| **s == StatusCode::NOT_FOUND).count();
    assert!(answered >= 20 && answered <= 20 + refilled && answered < 26, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == StatusCode::NOT_FOUND || *s == StatusCode::TOO_MANY_REQUESTS));
    let res = get_from(&stack, "198.51.100.99", &find(99), &stack.staff("002").await).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

async fn get_from(stack: &Stack, address: &str, path: &str, token: &str) -> Response {
    let url = format!("{}{path}", stack.router);
    stack
        .http
        .raw(client::Method::GET, &url)
        .header("x-forwarded-for", address)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// One customer asks the router for 110 groups in region 002, ten at a time: the region
/// makes 100 (`groups.max_owned`), refuses the rest `409 limit_reached` however they
/// race, and their invitations are bounded too.
#[tokio::test]
async fn one_customer_owns_a_bounded_number_of_groups_asked_for_at_once() {
    let stack = Stack::start(1);
    let (_, token) = stack.customer("001").await;
    let new = json!({"name": "Mine", "location": "Here", "region": "002"});
    let mut statuses = std::collections::BTreeMap::<(u16, String), usize>::new();
    let mut made = Vec::new();
    for _ in 0..11 {
        let answers =
            futures_util::future::join_all((0..10).map(|_| stack.post("/v1/groups", Some(&token), &new))).await;
        for res in answers {
            let status = res.status().as_u16();
            let body: serde_json::Value = res.json().await.unwrap();
            if status == 201 {
                made.push(body["id"].as_str().unwrap().to_owned());
            }
            *statuses.entry((status, body["error"]["code"].as_str().unwrap_or("").to_owned())).or_default() += 1;
        }
    }
    assert_eq!(statuses.get(&(201, String::new())), Some(&100), "{statuses:?}");
    assert_eq!(statuses.get(&(409, "limit_reached".into())), Some(&10), "{statuses:?}");

    // A group keeps at most 100 invitations, asked for ten at a time as well.
    let invitations = format!("/v1/groups/{}/invitations", made[0]);
    let (options, mut refused) = (json!({}), 0);
    for _ in 0..11 {
        let answers =
            futures_util::future::join_all((0..10).map(|_| stack.post(&invitations, Some(&token), &options))).await;
        refused += answers.iter().filter(|res| res.status() == StatusCode::CONFLICT).count();
        assert!(answers.iter().all(|res| [201, 409].contains(&res.status().as_u16())));
    }
    assert_eq!(refused, 10);
}
