//! Forwarding one request to one region: pick a healthy instance (round robin), send,
//! and retry on another instance only when that cannot apply the request twice (a GET,
//! a request carrying an Idempotency-Key, or any request the instance did not read). A
//! region with no healthy instance gets a 503 at once, without waiting for a timeout.

use std::time::{Duration, Instant};

use actix_web::http::header::{HeaderMap, HeaderName};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse};
use bytes::Bytes;
use contract::RegionId;
use http_body_util::{BodyExt, Full};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use observability::request_id;

use crate::error::RouterError;
use crate::startup::AppState;

/// A request as the router passes it on: method, path with query, headers, body.
#[derive(Clone)]
pub struct Outgoing {
    pub method: Method,
    pub path_and_query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// What a region answered.
pub struct Answer {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

/// The client a worker forwards with: hyper's pooled HTTP/1.1 client, used directly. A
/// forward builds its `http::Request` from the parts it already has; reqwest's URL parse
/// (IDNA included) and request builder were a few % of the router's CPU per request.
/// `https://` instances get TLS (rustls), `http://` ones plain TCP; a pooled connection
/// keeps its session, so the handshake is paid once per connection, not per request.
pub type Client = hyper_util::client::legacy::Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

pub fn client(connect_timeout: Duration, tls: rustls::ClientConfig) -> Client {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(connect_timeout));
    // The TLS wrapper needs the TCP connector to accept https URIs too.
    connector.enforce_http(false);
    let connector =
        HttpsConnectorBuilder::new().with_tls_config(tls).https_or_http().enable_http1().wrap_connector(connector);
    hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(256)
        // Shorter than the APIs' keep-alive (75 s): never reuse a connection they closed.
        .pool_idle_timeout(Duration::from_secs(30))
        .pool_timer(TokioTimer::new())
        .build(connector)
}

/// Why an attempt got no answer.
enum Failure {
    /// No answer within the deadline (connecting included).
    Timeout,
    /// The instance refused the connection: it is gone.
    Refused,
    /// Sent, but the answer was lost (it may have been applied).
    Lost(String),
    /// The request could not be built: nothing was sent.
    Unsendable(String),
}

impl Failure {
    fn of(err: &hyper_util::client::legacy::Error) -> Failure {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
        while let Some(cause) = source {
            if cause.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::TimedOut) {
                return Failure::Timeout;
            }
            source = cause.source();
        }
        if err.is_connect() { Failure::Refused } else { Failure::Lost(err.to_string()) }
    }
}

/// One exchange: `outgoing` to `base` (an instance's URL), answered within `timeout`.
async fn exchange(client: &Client, base: &str, outgoing: &Outgoing, timeout: Duration) -> Result<Answer, Failure> {
    let mut request = http::Request::builder()
        .method(outgoing.method.as_str())
        .uri(format!("{base}{}", outgoing.path_and_query))
        .body(Full::new(outgoing.body.clone()))
        .map_err(|e| Failure::Unsendable(e.to_string()))?;
    // actix-web speaks `http` 0.2, hyper `http` 1: convert at this boundary.
    let headers = request.headers_mut();
    for (name, value) in &outgoing.headers {
        if !hop_by_hop(name.as_str())
            && name != "x-request-id"
            && let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(name.as_str().as_bytes()),
                http::HeaderValue::from_bytes(value.as_bytes()),
            )
        {
            headers.append(name, value);
        }
    }
    if let Ok(id) = http::HeaderValue::from_str(&request_id::current()) {
        headers.insert("x-request-id", id);
    }
    let answered = async {
        let response = client.request(request).await.map_err(|e| Failure::of(&e))?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(|e| Failure::Lost(e.to_string()))?.to_bytes();
        let status = StatusCode::from_u16(parts.status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        Ok(Answer { status, headers: parts.headers, body })
    };
    tokio::time::timeout(timeout, answered).await.unwrap_or(Err(Failure::Timeout))
}

fn hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "host"
            | "content-length"
            | "date"
    )
}

impl Outgoing {
    pub fn from_request(req: &HttpRequest, body: Bytes) -> Outgoing {
        let path_and_query =
            req.uri().path_and_query().map_or_else(|| req.path().to_owned(), |pq| pq.as_str().to_owned());
        Outgoing { method: req.method().clone(), path_and_query, headers: req.headers().clone(), body }
    }

    /// Another request made on behalf of this one (fan-out): same caller, same request id.
    pub fn derived(&self, method: Method, path_and_query: String) -> Outgoing {
        Outgoing { method, path_and_query, headers: self.headers.clone(), body: Bytes::new() }
    }

    fn retry_safe(&self) -> bool {
        matches!(self.method, Method::GET | Method::HEAD) || self.headers.contains_key("idempotency-key")
    }
}

impl Answer {
    pub fn into_response(self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        for (name, value) in &self.headers {
            if !hop_by_hop(name.as_str())
                && let (Ok(name), Ok(value)) = (
                    HeaderName::from_bytes(name.as_str().as_bytes()),
                    actix_web::http::header::HeaderValue::from_bytes(value.as_bytes()),
                )
            {
                response.append_header((name, value));
            }
        }
        response.body(self.body)
    }
}

pub async fn forward(state: &AppState, region: RegionId, outgoing: &Outgoing) -> Result<Answer, RouterError> {
    send(state, region, outgoing, state.request_timeout).await
}

/// Sends `outgoing` to `region` with a deadline per attempt.
pub async fn send(
    state: &AppState,
    region: RegionId,
    outgoing: &Outgoing,
    timeout: std::time::Duration,
) -> Result<Answer, RouterError> {
    let upstream = state.upstreams.region(region).ok_or_else(|| {
        RouterError::new(contract::ErrorCode::UnknownRegion, format!("region {region} is not part of this deployment"))
    })?;
    // A request the router cannot build is the client's fault: refuse it before any
    // instance is involved, so crafted input never counts against an instance's health.
    if http::uri::PathAndQuery::try_from(outgoing.path_and_query.as_str()).is_err() {
        return Err(RouterError::invalid_input("the request's path or query string cannot be forwarded"));
    }
    let candidates = state.upstreams.candidates(upstream);
    if candidates.is_empty() {
        metrics::counter!("router_fast_failures_total", "region" => region.to_string()).increment(1);
        return Err(RouterError::region_unavailable(region));
    }
    // Any request goes again when the instance did not read it (a refused connection, a
    // 408); a safe one also when its answer was lost or late. Even a one-instance region
    // gets a second try: a pooled connection the instance had just closed fails without
    // the instance being down.
    let safe = outgoing.retry_safe();
    let attempts = candidates.len().max(2);
    let mut last_error = RouterError::region_unavailable(region);
    for (attempt, &instance) in candidates.iter().cycle().take(attempts).enumerate() {
        if attempt > 0 {
            metrics::counter!("router_retries_total", "region" => region.to_string()).increment(1);
        }
        let started = Instant::now();
        let result = exchange(&state.client, &instance.url, outgoing, timeout).await;
        metrics::histogram!("router_upstream_duration_seconds", "region" => region.to_string())
            .record(started.elapsed().as_secs_f64());
        match result {
            Ok(answer) if contract::error::request_unread(answer.status.as_u16()) => {
                tracing::info!(%region, url = %instance.url, "instance closed the connection unread");
                state.upstreams.record_answer(instance);
                last_error = RouterError::region_unavailable(region);
            }
            Ok(answer) => {
                state.upstreams.record_answer(instance);
                return Ok(answer);
            }
            Err(Failure::Unsendable(err)) => {
                // Not the instance's doing (the path was checked above; this is a header
                // or body hyper will not send): no strike, and no other instance tried.
                tracing::info!(%region, %err, "request cannot be forwarded");
                return Err(RouterError::invalid_input("the request cannot be forwarded"));
            }
            Err(Failure::Timeout) => {
                tracing::warn!(%region, url = %instance.url, "forward timed out");
                last_error = RouterError::timeout(region);
                if !safe || candidates.len() == 1 {
                    // It may have been applied; or the only instance is slow, and trying
                    // it again would double the wait.
                    break;
                }
            }
            Err(Failure::Refused) => {
                tracing::warn!(%region, url = %instance.url, "forward refused");
                // Refused: the instance is gone; take it out now, not at the next check.
                state.upstreams.take_out(instance);
                last_error = RouterError::region_unavailable(region);
            }
            Err(Failure::Lost(err)) => {
                tracing::warn!(%region, url = %instance.url, %err, "forward failed");
                // Sent, but the answer was lost (it may have been applied): one strike.
                state.upstreams.record_failure(instance, "lost");
                last_error = RouterError::new(
                    contract::ErrorCode::RegionUnavailable,
                    format!("region {region} dropped the connection; retry with the same Idempotency-Key"),
                );
                if !safe {
                    break;
                }
            }
        }
    }
    Err(last_error)
}

#[cfg(test)]
mod tests {
    use std::sync::LazyLock;

    use chrono::Duration;
    use client::testing::{Flake, FlakyInstance};
    use client::{Client, Method, Retry};
    use contract::dto::Role;
    use contract::token::{Signer, new_signing_key};
    use serde_json::{Value, json};

    use crate::config::{Config, RegionConfig};

    /// Region 001's signing key; the router holds its public key.
    static KEY: LazyLock<Signer> = LazyLock::new(|| Signer::from_seed("001k1", &new_signing_key().0).unwrap());

    fn token_of(key: &Signer, ttl_secs: i64) -> String {
        key.issue("001-abc123", Role::Customer, Duration::seconds(ttl_secs)).unwrap().0
    }

    /// The router, in process, with region 001 served by the instances at `urls`, tried in
    /// that order first; and a client of it with a good token that never resends, so every
    /// retry seen is the router's.
    async fn router_before(urls: Vec<String>) -> Client {
        tls::install_default_provider();
        let mut config = Config {
            listen: "127.0.0.1:0".into(),
            admin_listen: "127.0.0.1:0".into(),
            workers: Some(1),
            regions: vec![RegionConfig { id: "001".into(), name: "Europe".into(), urls }],
            ..Config::default()
        };
        config.auth.verifying_keys.insert(KEY.kid().into(), KEY.public_key().into());
        let app = crate::Application::build(config).await.unwrap();
        let url = format!("http://127.0.0.1:{}", app.port());
        actix_web::rt::spawn(app.run_until_stopped());
        Client::builder(&url).retry(Retry::never()).build().unwrap().with_token(token_of(&KEY, 60))
    }

    #[actix_web::test]
    async fn a_token_no_region_signed_never_reaches_an_instance() {
        let instance = FlakyInstance::start(Flake::Dropped, 0).await;
        let router = router_before(vec![instance.url.clone()]).await;
        // Made up; signed by a key that calls itself 001k1; 001's own but expired.
        let stranger = Signer::from_seed("001k1", &new_signing_key().0).unwrap();
        for token in ["token".to_owned(), token_of(&stranger, 60), token_of(&KEY, -60)] {
            let err = new_group(&router.with_token(token)).await.unwrap_err();
            assert_eq!(err.code(), Some(contract::ErrorCode::Unauthenticated), "{err}");
        }
        assert_eq!(instance.received(), 0);
        assert_eq!(new_group(&router).await.unwrap().status, 201, "a good token is forwarded");
    }

    #[actix_web::test]
    async fn a_router_without_a_key_of_each_region_does_not_start() {
        let config = Config { listen: "127.0.0.1:0".into(), admin_listen: "127.0.0.1:0".into(), ..Config::default() };
        let err = crate::Application::build(config).await.err().unwrap();
        assert!(err.to_string().contains("no key of region 001"), "{err}");
    }

    async fn new_group(client: &Client) -> client::Result<client::Reply<Value>> {
        client.call(Method::POST, "/v1/groups", None, Some(&json!({"name": "n", "region": "001"}))).await
    }

    #[actix_web::test]
    async fn a_request_the_instance_did_not_read_is_sent_again_whatever_it_is() {
        let instance = FlakyInstance::start(Flake::Unread, 1).await;
        let reply = new_group(&router_before(vec![instance.url.clone()]).await).await.unwrap();
        assert_eq!((reply.status, instance.received()), (201, 1));
    }

    #[actix_web::test]
    async fn an_unkeyed_write_whose_answer_was_lost_is_not_sent_again() {
        let instance = FlakyInstance::start(Flake::Dropped, 1).await;
        let err = new_group(&router_before(vec![instance.url.clone()]).await).await.unwrap_err();
        assert_eq!(err.code(), Some(contract::ErrorCode::RegionUnavailable), "{err}");
        assert_eq!(instance.received(), 1, "it may have been applied: sent once");
    }

    #[actix_web::test]
    async fn a_write_an_instance_refused_goes_to_the_next_instance() {
        // A port bound but not listened on: connecting to it is refused. Held to the end,
        // so no other server of this or a parallel test can be given it (a port freed
        // at once was, and the router's request met that server).
        let held = tokio::net::TcpSocket::new_v4().unwrap();
        held.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let gone = format!("http://{}", held.local_addr().unwrap());
        let instance = FlakyInstance::start(Flake::Dropped, 0).await;
        let reply = new_group(&router_before(vec![gone, instance.url.clone()]).await).await.unwrap();
        assert_eq!((reply.status, instance.received()), (201, 1), "never sent to the first: sent on, once");
    }
}
