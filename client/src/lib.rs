//! The platform's HTTP API as Rust functions: one per endpoint, taking and returning
//! `contract`'s types. Every client of the API (the CLI, the load test, the bench, the
//! test suites, the regions' calls to each other) speaks through it, so a renamed path or
//! field is a compile error in one place instead of a runtime failure in six.
//!
//! One retry policy for all of them ([`Retry`]): a request is sent again only when that
//! cannot apply it twice. That is a GET, a write carrying an `Idempotency-Key` (sent again
//! with the same key), or any request the server did not read (the connection was
//! refused, or it answered `408`).

mod endpoints;
mod internal;
mod public;
mod retry;
pub mod testing;

use std::path::Path;
use std::time::{Duration, Instant};

use contract::{ErrorBody, ErrorCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use endpoints::{ALL as ENDPOINTS, Endpoint};
pub use public::PageQuery;
pub use reqwest::{Method, StatusCode};
pub use retry::Retry;

/// A client of one base URL (the router, or one instance), with or without a token.
/// Cloning is cheap and shares the connection pool.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
    service_token: Option<String>,
    /// A front end's visitor: their address and the proxy token that vouches for it.
    on_behalf_of: Option<(String, String)>,
    retry: Retry,
}

/// How a [`Client`] is made.
#[derive(Debug, Clone)]
pub struct Builder {
    base: String,
    ca_file: Option<std::path::PathBuf>,
    connect_timeout: Duration,
    timeout: Duration,
    pool_max_idle_per_host: usize,
    local_address: Option<std::net::IpAddr>,
    retry: Retry,
}

impl Builder {
    /// The address connections are made from (tests that play several clients).
    pub fn local_address(mut self, address: std::net::IpAddr) -> Self {
        self.local_address = Some(address);
        self
    }

    /// Extra roots (a private CA) beside the system's, for `https://` bases.
    pub fn ca_file(mut self, path: Option<&Path>) -> Self {
        self.ca_file = path.map(Path::to_path_buf);
        self
    }

    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The deadline of one attempt, answer included.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn pool_max_idle_per_host(mut self, connections: usize) -> Self {
        self.pool_max_idle_per_host = connections;
        self
    }

    pub fn retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    pub fn build(self) -> Result<Client, Error> {
        let tls = tls::client_config(self.ca_file.as_deref()).map_err(|e| Error::Setup(e.to_string()))?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .connect_timeout(self.connect_timeout)
            .timeout(self.timeout)
            .pool_max_idle_per_host(self.pool_max_idle_per_host)
            // Shorter than the services' keep-alive: never reuse a connection they closed.
            .pool_idle_timeout(Duration::from_secs(30))
            // The API never redirects; a redirect is an answer to show, not to follow
            // (the web console's tests look at its 303s).
            .redirect(reqwest::redirect::Policy::none())
            .local_address(self.local_address)
            .build()
            .map_err(|e| Error::Setup(e.to_string()))?;
        Ok(Client {
            http,
            base: self.base.trim_end_matches('/').to_owned(),
            token: None,
            service_token: None,
            on_behalf_of: None,
            retry: self.retry,
        })
    }
}

/// A successful answer: its value and how it came.
#[derive(Debug, Clone)]
pub struct Reply<T> {
    pub status: u16,
    pub value: T,
    /// `Idempotent-Replayed: true`: the answer of an earlier request with the same key.
    pub replayed: bool,
    /// Attempts after the first.
    pub retries: u32,
    /// From the first attempt to this answer.
    pub latency: Duration,
}

/// Why a call has no value.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The platform answered with an error (after retries, where they were allowed).
    #[error("{} ({}; request {}, HTTP {status})", .error.message, .error.code.name(), .error.request_id)]
    Status {
        status: u16,
        error: ErrorBody,
        /// A definite refusal remembered under the request's Idempotency-Key, replayed.
        replayed: bool,
        retries: u32,
        latency: Duration,
    },
    /// No answer: for a write, whether it applied is unknown (a keyed write applies at
    /// most once; sending it again with its key tells).
    #[error("no answer after {} attempts: {message}", .retries + 1)]
    NoAnswer { message: String, retries: u32 },
    /// An answer that is not what the contract says.
    #[error("unexpected answer (HTTP {status}): {message}")]
    Unexpected { status: u16, message: String },
    #[error("client setup: {0}")]
    Setup(String),
}

impl Error {
    /// The contract's error code, when the platform answered with one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Status { error, .. } => Some(error.code),
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Status { status, .. } | Error::Unexpected { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn retries(&self) -> u32 {
        match self {
            Error::Status { retries, .. } | Error::NoAnswer { retries, .. } => *retries,
            _ => 0,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What one attempt brought back.
struct Raw {
    status: u16,
    replayed: bool,
    body: Vec<u8>,
}

impl Client {
    /// Defaults that suit an interactive client: 3 s to connect, 15 s per attempt.
    pub fn builder(base: &str) -> Builder {
        Builder {
            base: base.to_owned(),
            ca_file: None,
            connect_timeout: Duration::from_secs(3),
            timeout: Duration::from_secs(15),
            pool_max_idle_per_host: 32,
            local_address: None,
            retry: Retry::default(),
        }
    }

    /// A plain client of `base` with the defaults.
    pub fn new(base: &str) -> Result<Client> {
        Client::builder(base).build()
    }

    /// The same client (same pool) presenting `token`.
    pub fn with_token(&self, token: impl Into<String>) -> Client {
        Client { token: Some(token.into()), ..self.clone() }
    }

    /// The same client without a token.
    pub fn anonymous(&self) -> Client {
        Client { token: None, ..self.clone() }
    }

    /// The same client (same pool) for another base URL.
    pub fn with_base(&self, base: &str) -> Client {
        Client { base: base.trim_end_matches('/').to_owned(), ..self.clone() }
    }

    /// The same client presenting the services' token on `/internal` calls.
    pub fn with_service_token(&self, token: impl Into<String>) -> Client {
        Client { service_token: Some(token.into()), ..self.clone() }
    }

    /// The same client speaking for a visitor at `address`, vouched for by the router's
    /// proxy token (a front end such as the web console), so the router's per-address
    /// limits count the visitor and not the front end.
    pub fn on_behalf_of(&self, address: std::net::IpAddr, proxy_token: &str) -> Client {
        Client { on_behalf_of: Some((address.to_string(), proxy_token.to_owned())), ..self.clone() }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// A request the contract does not describe, on the same pool, roots and timeouts
    /// (with the token, if any): for tests that send malformed or hostile requests on
    /// purpose, and for the services' operational endpoints (`/metrics`).
    pub fn raw(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.vouched(self.http.request(method, format!("{}{path}", self.base)));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    fn vouched(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.on_behalf_of {
            Some((address, token)) => request
                .header(contract::secret::PROXY_TOKEN_HEADER, token)
                .header(contract::secret::PROXY_CLIENT_HEADER, address),
            None => request,
        }
    }

    /// Sends `method path` with `body` (and `key` as its Idempotency-Key), retrying as
    /// [`Retry`] allows, and decodes a 2xx answer as `T` (`()` for an empty one).
    pub async fn call<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<&B>,
    ) -> Result<Reply<T>> {
        let body = body.map(serde_json::to_vec).transpose().map_err(|e| Error::Setup(e.to_string()))?;
        let started = Instant::now();
        let (raw, retries) = self.exchange(&method, path, key, body.as_deref()).await?;
        decode(raw, retries, started.elapsed())
    }

    /// A GET whose 2xx body is read whole and not decoded: for load generators, which
    /// measure the platform rather than the decoding. `path` may be a whole URL when the
    /// client's base is empty.
    pub async fn get_bytes(&self, path: &str) -> Result<Reply<Vec<u8>>> {
        let started = Instant::now();
        let (raw, retries) = self.exchange(&Method::GET, path, None, None).await?;
        if !(200..300).contains(&raw.status) {
            return Err(failure(raw, retries, started.elapsed()));
        }
        Ok(Reply { status: raw.status, value: raw.body, replayed: raw.replayed, retries, latency: started.elapsed() })
    }

    /// Sends until an answer that is final, or until [`Retry`] says stop.
    async fn exchange(
        &self,
        method: &Method,
        path: &str,
        key: Option<&str>,
        body: Option<&[u8]>,
    ) -> Result<(Raw, u32)> {
        let resendable = method == Method::GET || key.is_some();
        let mut retries = 0;
        loop {
            let attempt = self.attempt(method, path, key, body).await;
            let again = match &attempt {
                Ok(raw) => {
                    contract::error::request_unread(raw.status)
                        || (resendable && retry::answer_says_again(raw.status, &raw.body))
                }
                Err(err) => retry::unsent(err) || (resendable && retry::may_be_lost(err)),
            };
            if again && retries + 1 < self.retry.attempts {
                tokio::time::sleep(self.retry.backoff(retries)).await;
                retries += 1;
                continue;
            }
            let raw = attempt.map_err(|err| Error::NoAnswer { message: describe(&err), retries })?;
            return Ok((raw, retries));
        }
    }

    async fn attempt(
        &self,
        method: &Method,
        path: &str,
        key: Option<&str>,
        body: Option<&[u8]>,
    ) -> Result<Raw, reqwest::Error> {
        let mut request = self.vouched(self.http.request(method.clone(), format!("{}{path}", self.base)));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(token) = &self.service_token {
            request = request.header(contract::internal::SERVICE_TOKEN_HEADER, token);
        }
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(body) = body {
            request = request.header(reqwest::header::CONTENT_TYPE, "application/json").body(body.to_vec());
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let replayed = response.headers().get("idempotent-replayed").is_some_and(|v| v == "true");
        let body = response.bytes().await?.to_vec();
        Ok(Raw { status, replayed, body })
    }
}

/// The whole chain of causes: reqwest's own message is often just "error sending request".
fn describe(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn decode<T: DeserializeOwned>(raw: Raw, retries: u32, latency: Duration) -> Result<Reply<T>> {
    if (200..300).contains(&raw.status) {
        let body: &[u8] = if raw.body.is_empty() { b"null" } else { &raw.body };
        let value = serde_json::from_slice(body)
            .map_err(|e| Error::Unexpected { status: raw.status, message: e.to_string() })?;
        return Ok(Reply { status: raw.status, value, replayed: raw.replayed, retries, latency });
    }
    Err(failure(raw, retries, latency))
}

/// A non-2xx answer: the contract's envelope, or something that is not the platform's.
fn failure(raw: Raw, retries: u32, latency: Duration) -> Error {
    match serde_json::from_slice::<contract::ErrorEnvelope>(&raw.body) {
        Ok(envelope) => {
            Error::Status { status: raw.status, error: envelope.error, replayed: raw.replayed, retries, latency }
        }
        Err(_) => Error::Unexpected {
            status: raw.status,
            message: String::from_utf8_lossy(&raw.body).chars().take(200).collect(),
        },
    }
}

/// A fresh Idempotency-Key: a ULID, unique without coordination.
pub fn new_key() -> String {
    ulid::Ulid::new().to_string()
}
