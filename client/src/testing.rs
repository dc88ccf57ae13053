//! Test aids shared by the crates' tests: assertions on the platform's raw answers (the
//! status, then the body as the contract says it comes), and [`FlakyInstance`], an
//! instance that fails on the wire the ways a real one does only by chance.
// Assertions: a wrong answer stops the test loudly, with the body in the message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::SeqCst;

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

/// `POST /v1/sessions` to `base` as a router forwards it for a client at `address`
/// (`X-Forwarded-For`): the raw answer.
pub async fn log_in_from(http: &crate::Client, base: &str, address: &str, email: &str, password: &str) -> Response {
    http.raw(crate::Method::POST, &format!("{base}/v1/sessions"))
        .header("x-forwarded-for", address)
        .json(&serde_json::json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
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

/// What a [`FlakyInstance`] does with its first requests.
#[derive(Debug, Clone, Copy)]
pub enum Flake {
    /// Answers `408` and closes, as actix-web does on a connection whose request did not
    /// arrive within its `client_request_timeout`: the request was not read.
    Unread,
    /// Reads the request and closes without an answer: it may have been applied.
    Dropped,
}

/// An HTTP/1.1 instance for the wire conditions a real one shows only by chance: its
/// first `times` requests meet `flake`, later ones get `201 {"received": n}`.
/// `GET /readyz` always gets `200`. It counts the requests it read (dropped ones
/// included), so a test can tell how often a request could have applied.
pub struct FlakyInstance {
    pub url: String,
    received: Arc<AtomicUsize>,
}

impl FlakyInstance {
    pub async fn start(flake: Flake, times: usize) -> FlakyInstance {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (received, left) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(times)));
        let counter = received.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, flake, left.clone(), counter.clone()));
            }
        });
        FlakyInstance { url, received }
    }

    /// Requests read, health checks aside.
    pub fn received(&self) -> usize {
        self.received.load(SeqCst)
    }
}

async fn serve(socket: tokio::net::TcpStream, flake: Flake, left: Arc<AtomicUsize>, received: Arc<AtomicUsize>) {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::io::BufReader::new(socket);
    loop {
        let (mut head, mut line, mut length) = (String::new(), String::new(), 0usize);
        loop {
            line.clear();
            if socket.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().unwrap();
            }
            head.push_str(&line);
        }
        let mut body = vec![0; length];
        socket.read_exact(&mut body).await.unwrap();
        let (status, answer) = if head.starts_with("GET /readyz ") {
            ("200 OK", r#"{"status":"ready"}"#.to_owned())
        } else if left.fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1)).is_ok() {
            if let Flake::Unread = flake {
                let _ = socket
                    .write_all(b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            } else {
                received.fetch_add(1, SeqCst);
            }
            return;
        } else {
            ("201 Created", format!(r#"{{"received":{}}}"#, received.fetch_add(1, SeqCst) + 1))
        };
        let answer = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
            answer.len()
        );
        if socket.write_all(answer.as_bytes()).await.is_err() {
            return;
        }
    }
}
