//! The public API through the router. Writes carry a fresh Idempotency-Key and are
//! retried with the same key after a network failure, a timeout or a 503, so a flaky
//! connection never bills or redeems twice.

use std::time::Duration;

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// How a command ended, and so the process's exit code.
#[derive(Debug)]
pub enum Failure {
    /// The platform refused (4xx): code, message, request id.
    Refused {
        status: u16,
        code: String,
        message: String,
        request_id: String,
    },
    /// The platform could not answer (5xx after retries, or the network).
    Unavailable(String),
    /// Not logged in, or the session expired.
    NotLoggedIn,
    Usage(String),
}

impl Failure {
    pub fn exit_code(&self) -> i32 {
        match self {
            Failure::Refused { status: 401, .. } | Failure::NotLoggedIn => 4,
            Failure::Refused { .. } => 1,
            Failure::Usage(_) => 2,
            Failure::Unavailable(_) => 3,
        }
    }

    pub fn explain(&self) -> String {
        match self {
            Failure::Refused { code, message, request_id, .. } => format!("{message} ({code}; request {request_id})"),
            Failure::Unavailable(why) => format!("the platform could not be reached: {why}"),
            Failure::NotLoggedIn => "you are not logged in: run `loyalty login`".to_owned(),
            Failure::Usage(why) => why.clone(),
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(err: anyhow::Error) -> Self {
        Failure::Unavailable(err.to_string())
    }
}

pub type Outcome<T> = Result<T, Failure>;

#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    pub base: String,
    token: Option<String>,
}

const WRITE_ATTEMPTS: u32 = 5;

impl Api {
    pub fn new(base: &str, token: Option<String>, ca_file: Option<&std::path::Path>) -> anyhow::Result<Api> {
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls::client_config(ca_file)?)
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(15))
            .build()?;
        Ok(Api { http, base: base.trim_end_matches('/').to_owned(), token })
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> Result<(u16, Value), reqwest::Error> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
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
        let bytes = response.bytes().await?;
        Ok((status, serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
    }

    fn judge<T: DeserializeOwned>(status: u16, body: Value) -> Outcome<T> {
        if (200..300).contains(&status) {
            return serde_json::from_value(if body.is_null() { Value::Object(Default::default()) } else { body })
                .map_err(|e| Failure::Unavailable(format!("unexpected answer: {e}")));
        }
        let error = &body["error"];
        let text = |k: &str| error[k].as_str().unwrap_or("-").to_owned();
        if status >= 500 {
            return Err(Failure::Unavailable(format!(
                "{} ({}; request {})",
                text("message"),
                text("code"),
                text("request_id")
            )));
        }
        Err(Failure::Refused { status, code: text("code"), message: text("message"), request_id: text("request_id") })
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Outcome<T> {
        let (status, body) =
            self.send(Method::GET, path, None, None).await.map_err(|e| Failure::Unavailable(e.to_string()))?;
        Self::judge(status, body)
    }

    /// A write that changes nothing when repeated by the platform's own rules (sign-up,
    /// login, joining, catalogue edits): sent once.
    pub async fn call<T: DeserializeOwned>(&self, method: Method, path: &str, body: Option<&Value>) -> Outcome<T> {
        let (status, body) =
            self.send(method, path, None, body).await.map_err(|e| Failure::Unavailable(e.to_string()))?;
        Self::judge(status, body)
    }

    /// A points write: one key, retried with it until a definite answer.
    pub async fn write_once<T: DeserializeOwned>(&self, path: &str, body: &Value) -> Outcome<T> {
        let key = ulid::Ulid::new().to_string();
        let mut last = String::new();
        for attempt in 0..WRITE_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
            }
            match self.send(Method::POST, path, Some(&key), Some(body)).await {
                Ok((503, body)) => last = body["error"]["message"].as_str().unwrap_or("unavailable").to_owned(),
                Ok((409, body)) if body["error"]["code"] == "idempotency_in_progress" => {
                    last = "still in progress".to_owned()
                }
                Ok((status, body)) => return Self::judge(status, body),
                Err(err) => last = err.to_string(),
            }
        }
        Err(Failure::Unavailable(format!(
            "{last} (tried {WRITE_ATTEMPTS} times with the same Idempotency-Key {key}: it was applied at most once)"
        )))
    }
}
