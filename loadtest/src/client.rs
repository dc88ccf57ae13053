//! Talking to the platform as a client would: JSON over HTTP through the router. Writes
//! carry their Idempotency-Key and are retried with it after a timeout, a lost
//! connection or a `503`, so a write is applied at most once whatever the network does.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub replayed: bool,
    pub latency: Duration,
}

impl Reply {
    pub fn code(&self) -> String {
        self.body["error"]["code"].as_str().unwrap_or("unknown").to_owned()
    }

    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A write's fate as the client knows it.
#[derive(Debug, Clone)]
pub enum Sent {
    Answered {
        reply: Reply,
        retries: u32,
    },
    /// Every attempt timed out or lost its connection: the outcome is unknown.
    Lost {
        retries: u32,
        error: String,
    },
}

#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
}

const MAX_WRITE_ATTEMPTS: u32 = 6;

impl Api {
    pub fn new(base: &str, ca_file: Option<&std::path::Path>, timeout: Duration) -> anyhow::Result<Api> {
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls::client_config(ca_file)?)
            .timeout(timeout)
            .pool_max_idle_per_host(256)
            .build()?;
        Ok(Api { http, base: base.trim_end_matches('/').to_owned() })
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Reply, reqwest::Error> {
        let started = Instant::now();
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let replayed = response.headers().get("idempotent-replayed").is_some_and(|v| v == "true");
        let bytes = response.bytes().await?;
        let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap_or(Value::Null) };
        Ok(Reply { status, body, replayed, latency: started.elapsed() })
    }

    /// A read or a set-up call; `Err` only when the network failed.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Result<Reply, reqwest::Error> {
        self.call(Method::GET, path, token, None, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Result<Reply, reqwest::Error> {
        self.call(Method::POST, path, token, None, Some(body)).await
    }

    /// A points write, retried with the same key until it gets a definite answer.
    pub async fn write(&self, path: &str, token: &str, key: &str, body: &Value) -> Sent {
        let mut retries = 0;
        let mut last_error = String::new();
        for attempt in 0..MAX_WRITE_ATTEMPTS {
            if attempt > 0 {
                retries += 1;
                tokio::time::sleep(Duration::from_millis(50 << attempt.min(5))).await;
            }
            match self.call(Method::POST, path, Some(token), Some(key), Some(body)).await {
                Ok(reply) => {
                    let retry_later =
                        reply.status == 503 || (reply.status == 409 && reply.code() == "idempotency_in_progress");
                    if !retry_later {
                        return Sent::Answered { reply, retries };
                    }
                    last_error = format!("{} {}", reply.status, reply.code());
                }
                Err(err) => last_error = err.to_string(),
            }
        }
        Sent::Lost { retries, error: last_error }
    }
}
