//! Client input never changes the health of an instance: arbitrary cursors, paths, query
//! strings and headers, sent as raw HTTP to the router, leave every instance in rotation
//! and never earn a strike (`router_upstream_strikes_total`), and none is answered with a
//! 5xx. Found this way (issue 18): a cursor whose region part held a space made the
//! router fail to build the upstream request, which counted against the instance; three
//! such requests took every region out of rotation.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

use crate::support::raw::exchange;
use crate::support::{Stack, expect_json};
use reqwest::StatusCode;

/// One request as bytes on the wire: method, target, extra headers, body.
#[derive(Debug, Clone)]
struct Raw {
    method: &'static str,
    target: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

/// Sends `raw` on its own connection; the status the router answered (0: no answer).
async fn send(router: &str, token: &str, raw: &Raw) -> u16 {
    let address = router.trim_start_matches("http://");
    let mut bytes =
        format!("{} {} HTTP/1.1\r\nhost: {address}\r\nconnection: close\r\n", raw.method, raw.target).into_bytes();
    if !raw.headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("authorization")) {
        bytes.extend(format!("authorization: Bearer {token}\r\n").as_bytes());
    }
    for (name, value) in &raw.headers {
        bytes.extend(name.as_bytes());
        bytes.extend(b": ");
        bytes.extend(value);
        bytes.extend(b"\r\n");
    }
    bytes.extend(format!("content-length: {}\r\n\r\n", raw.body.len()).as_bytes());
    bytes.extend(&raw.body);
    let status = exchange(router, None, &bytes).await;
    status.unwrap_or_else(|| panic!("the router did not answer {raw:?} within 15 s"))
}

/// Text an attacker might put anywhere: separators, escapes, traversal, unicode, controls.
fn nasty() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just(" ".to_owned()),
        Just("%".to_owned()),
        Just("%2F".to_owned()),
        Just("%00".to_owned()),
        Just("\0".to_owned()),
        Just("..".to_owned()),
        Just("/".to_owned()),
        Just("?".to_owned()),
        Just("#".to_owned()),
        Just("&".to_owned()),
        Just("=".to_owned()),
        Just("\\".to_owned()),
        Just("\"".to_owned()),
        Just("001-".to_owned()),
        Just("é€😀".to_owned()),
        Just("\u{7f}".to_owned()),
        "[a-zA-Z0-9_-]{1,12}",
        any::<String>(),
    ];
    prop::collection::vec(pieces, 0..6).prop_map(|p| p.concat())
}

/// Percent-encodes every byte that is not unreserved, so the request line stays valid and
/// the router's own parser is passed.
fn escaped(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A region's ledger position of its own shape (microseconds, `|`, an id), at any time
/// chrono can read and with any id: a year Postgres cannot keep, or a NUL byte in the id,
/// once answered 500.
fn position() -> impl Strategy<Value = String> {
    let micros = prop_oneof![
        any::<i64>(),
        -8_000_000_000_000_000_000i64..-200_000_000_000_000_000,
        0i64..253_402_300_800_000_000,
    ];
    (micros, nasty()).prop_map(|(micros, id)| URL_SAFE_NO_PAD.encode(format!("{micros}|{id}")))
}

/// A merge cursor of the router's shape, with any text or a position where positions go;
/// or a region's own position.
fn cursor() -> impl Strategy<Value = String> {
    let region = prop_oneof![Just("001"), Just("002"), Just("003"), Just("999"), Just("x")];
    let after = prop::collection::btree_map(region.clone(), prop_oneof![nasty(), position()], 0..4);
    let done = prop::collection::vec(region, 0..3);
    prop_oneof![
        (after, done)
            .prop_map(|(after, done)| URL_SAFE_NO_PAD.encode(json!({"after": after, "done": done}).to_string())),
        nasty().prop_map(|text| URL_SAFE_NO_PAD.encode(text)),
        nasty(),
        position(),
    ]
}

fn request(user: String, group: String) -> impl Strategy<Value = Raw> {
    let u = user.clone();
    let activity = (cursor(), any::<bool>()).prop_map(move |(c, raw)| Raw {
        method: "GET",
        target: format!("/v1/users/{u}/activity?cursor={}", if raw { c } else { escaped(&c) }),
        headers: vec![],
        body: vec![],
    });
    let g2 = group.clone();
    // The group's own lists: its history, and (for its owner) its invitations.
    let list = prop_oneof![Just("transactions"), Just("invitations")];
    // Half without other parameters, which would be refused before the cursor is read.
    let query = prop_oneof![Just(String::new()), nasty()];
    let history = (list, cursor(), query).prop_map(move |(list, c, q)| Raw {
        method: "GET",
        target: format!("/v1/groups/{g2}/{list}?cursor={}&{}", escaped(&c), escaped(&q)),
        headers: vec![],
        body: vec![],
    });
    let u3 = user.clone();
    let path = (nasty(), nasty(), any::<bool>()).prop_map(move |(a, b, raw)| {
        let (a, b) = if raw { (a, b) } else { (escaped(&a), escaped(&b)) };
        Raw { method: "GET", target: format!("/v1/users/{u3}/{a}?{b}"), headers: vec![], body: vec![] }
    });
    let anywhere = (nasty(), any::<bool>()).prop_map(|(p, raw)| Raw {
        method: "GET",
        target: format!("/v1/{}", if raw { p } else { escaped(&p) }),
        headers: vec![],
        body: vec![],
    });
    let header_name = prop_oneof![
        Just("authorization".to_owned()),
        Just("idempotency-key".to_owned()),
        Just("x-request-id".to_owned()),
        Just("content-type".to_owned()),
        Just("x-forwarded-for".to_owned()),
        Just("cookie".to_owned()),
        "[a-z][a-z0-9-]{0,20}",
    ];
    let header_value = prop::collection::vec(prop_oneof![32u8..127, 128u8..=255, Just(b'\t')], 0..300);
    let g4 = group.clone();
    let headers = (prop::collection::vec((header_name, header_value), 1..4), any::<bool>(), nasty()).prop_map(
        move |(headers, write, body)| {
            if write {
                Raw {
                    method: "POST",
                    target: format!("/v1/groups/{g4}/redemptions"),
                    headers,
                    body: json!({"points": body}).to_string().into_bytes(),
                }
            } else {
                Raw { method: "GET", target: format!("/v1/groups/{g4}"), headers, body: vec![] }
            }
        },
    );
    prop_oneof![activity, history, path, anywhere, headers]
}

async fn strikes(stack: &Stack) -> f64 {
    let text = stack
        .http
        .raw(client::Method::GET, &format!("{}/metrics", stack.router_admin))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| l.starts_with("router_upstream_strikes_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn hostile_input_never_takes_an_instance_out() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let stack = Stack::start(1);
    let (user, token, group) = runtime.block_on(async {
        let (user, token) = stack.customer("002").await;
        let group = stack.new_group(&token, "Hostile", "Here", "003").await;
        (user, token, group)
    });
    let before = runtime.block_on(strikes(&stack));
    // The attack as reported: three requests whose cursor puts a space into every
    // region's upstream URL. Each used to count against an instance of every region.
    let reported = URL_SAFE_NO_PAD.encode(json!({"after": {"001": " x", "002": " x", "003": " x"}}).to_string());
    for _ in 0..3 {
        let raw = Raw {
            method: "GET",
            target: format!("/v1/users/{}/activity?cursor={reported}", user.id),
            headers: vec![],
            body: vec![],
        };
        assert_eq!(runtime.block_on(send(&stack.router, &token, &raw)), 400);
    }
    // Positions of the cursor's own shape that Postgres cannot compare: a time before
    // 4713 BC, one after 9999, a NUL byte in the id. Each was a 500 from the region.
    for position in ["-210866803200000001|001-x", "8000000000000000000|001-x", "1700000000000000|001-\0"] {
        let cursor = URL_SAFE_NO_PAD.encode(position);
        for list in ["transactions", "invitations"] {
            let raw = Raw {
                method: "GET",
                target: format!("/v1/groups/{}/{list}?cursor={cursor}", group.id),
                headers: vec![],
                body: vec![],
            };
            assert_eq!(runtime.block_on(send(&stack.router, &token, &raw)), 400, "{position:?} on {list}");
        }
    }
    runtime.block_on(all_up(&stack));
    let mut runner = TestRunner::new(Config { cases: 400, failure_persistence: None, ..Config::default() });
    let strategy = request(user.id.to_string(), group.id.to_string());
    let result = runner.run(&strategy, |raw| {
        let status = runtime.block_on(send(&stack.router, &token, &raw));
        prop_assert!(status != 0 && status < 500, "{raw:?} was answered {status}");
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    runtime.block_on(async {
        assert_eq!(strikes(&stack).await, before, "client input counted against an instance");
        all_up(&stack).await;
    });
}

async fn all_up(stack: &Stack) {
    let regions: Value = expect_json(stack.get("/v1/regions", None).await, StatusCode::OK).await;
    let statuses: Vec<&str> =
        regions["items"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, vec!["up"; crate::support::regions().len()]);
}

/// What the router answers by itself, before any region hears of the request: a method a
/// path does not answer (405, with Allow), a body that is not a JSON object, and a caller
/// without a token who names a region that does not exist (401, not a region oracle).
#[tokio::test]
async fn the_router_refuses_wrong_methods_non_object_bodies_and_tokenless_callers_first() {
    let stack = Stack::start(1);
    let (user, token) = stack.customer("001").await;

    let res = stack.request(reqwest::Method::DELETE, "/v1/bills", Some(&token), None).await;
    assert_eq!(res.headers().get("allow").and_then(|v| v.to_str().ok()), Some("POST"));
    crate::support::expect_error(res, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;

    // serde would read `[null, null]` as a patch of nothing; the router refuses it.
    let res = stack
        .http
        .raw(reqwest::Method::PATCH, &format!("{}/v1/users/{}", stack.router, user.id))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("[null, null]")
        .send()
        .await
        .unwrap();
    crate::support::expect_error(res, StatusCode::BAD_REQUEST, "invalid_input").await;

    let res = stack.post("/v1/groups", None, &json!({"name": "x", "location": "y", "region": "099"})).await;
    crate::support::expect_error(res, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let res = stack.get("/v1/groups/099-abcdef", None).await;
    crate::support::expect_error(res, StatusCode::UNAUTHORIZED, "unauthenticated").await;

    // A receipt asked for by a crafted id, or with a method it does not answer, never
    // leaves the router; a made-up bill of a real region is no one's.
    for crafted in ["002-x'%20OR%201=1", "..%2F..%2Finternal", "002-", "99-01JD3Q6M2V8X4Y5Z6A7B8C9D0E"] {
        let res = stack.get(&format!("/v1/bills/{crafted}"), Some(&token)).await;
        crate::support::expect_error(res, StatusCode::BAD_REQUEST, "invalid_id").await;
    }
    let made_up = "/v1/bills/002-01JD3Q6M2V8X4Y5Z6A7B8C9D0E";
    crate::support::expect_error(stack.get(made_up, Some(&token)).await, StatusCode::NOT_FOUND, "not_found").await;
    let res = stack.request(reqwest::Method::DELETE, made_up, Some(&token), None).await;
    assert_eq!(res.headers().get("allow").and_then(|v| v.to_str().ok()), Some("GET"));
    crate::support::expect_error(res, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
}
