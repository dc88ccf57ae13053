//! The router's one error type, answered in the contract's envelope. Errors that ask the
//! client to come back (a region down, a rate limit) carry `Retry-After`; whether the
//! router itself may retry a request is the forwarder's decision (`forward.rs`).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use contract::{ErrorBody, ErrorCode, ErrorEnvelope, RegionId};
use observability::request_id;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct RouterError {
    pub code: ErrorCode,
    pub message: String,
    pub retry_after: Option<u64>,
    /// The methods a path answers, for a 405's `Allow` header.
    pub allow: Option<&'static str>,
}

impl RouterError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        RouterError { code, message: message.into(), retry_after: None, allow: None }
    }

    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidInput, message)
    }

    pub fn not_found() -> Self {
        Self::new(ErrorCode::NotFound, "no such endpoint")
    }

    /// A known path asked with another method than the ones in `allow`.
    pub fn method_not_allowed(allow: &'static str) -> Self {
        RouterError {
            allow: Some(allow),
            ..Self::new(ErrorCode::MethodNotAllowed, format!("this path answers {allow} only"))
        }
    }

    /// Nothing was sent to the region: safe to retry after `Retry-After`.
    pub fn region_unavailable(region: RegionId) -> Self {
        Self::unavailable(format!("region {region} is unavailable; retry later"))
    }

    /// Not enough of the platform answered to serve this now: retry after `Retry-After`.
    pub fn unavailable(message: impl Into<String>) -> Self {
        RouterError { retry_after: Some(1), ..Self::new(ErrorCode::RegionUnavailable, message) }
    }

    /// A rate limit: retry after `secs`.
    pub fn rate_limited(secs: u64) -> Self {
        RouterError {
            retry_after: Some(secs),
            ..Self::new(ErrorCode::RateLimited, "too many requests; retry after the time in Retry-After")
        }
    }

    /// The region did not answer in time: the request may or may not have been applied;
    /// retry with the same Idempotency-Key.
    pub fn timeout(region: RegionId) -> Self {
        Self::new(ErrorCode::Timeout, format!("region {region} did not answer in time"))
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(ErrorCode::Internal, "internal error")
    }
}

impl ResponseError for RouterError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if let Some(secs) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        if let Some(allow) = self.allow {
            response.insert_header((header::ALLOW, allow));
        }
        response.json(ErrorEnvelope {
            error: ErrorBody { code: self.code, message: self.message.clone(), request_id: request_id::current() },
        })
    }
}
