//! Assertions on the platform's raw answers, shared by the API's integration tests and
//! the system tests: the status, then the body as the contract says it comes.
// Assertions: a wrong answer stops the test loudly, with the body in the message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use reqwest::{Response, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Asserts the status and parses the body as JSON.
pub async fn expect_json<T: DeserializeOwned>(res: Response, status: StatusCode) -> T {
    let got = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(got, status, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad JSON ({e}): {text}"))
}

/// Asserts an error answer: its status, its code, and the envelope's shape (a message,
/// and the request id the `X-Request-Id` header carries).
pub async fn expect_error(res: Response, status: StatusCode, code: &str) -> Value {
    let request_id = res.headers().get("x-request-id").map(|v| v.to_str().unwrap().to_owned());
    let body: Value = expect_json(res, status).await;
    assert_eq!(body["error"]["code"], code, "body: {body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "body: {body}");
    assert_eq!(body["error"]["request_id"].as_str(), request_id.as_deref(), "body: {body}");
    body
}
