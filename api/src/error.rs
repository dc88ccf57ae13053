//! The crate's one error type. Layering (as in crates.io): queries return diesel's
//! `QueryResult`, services and handlers return `ApiError`, and the one `ResponseError`
//! impl turns it into the contract's envelope. Internal details are logged here, once,
//! and never sent to the client.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use contract::{ErrorBody, ErrorCode, ErrorEnvelope, IdError};
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use observability::request_id;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// Seconds for `Retry-After`, sent with 429 and 503.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError { code, message: message.into(), retry_after: None }
    }

    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidInput, message)
    }

    pub fn invalid_id(what: &str, value: &str, err: IdError) -> Self {
        Self::new(ErrorCode::InvalidId, format!("{what} {value:?} is not a valid id: {err}"))
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthenticated, message)
    }

    /// The database (or the gate in front of it) cannot serve now; nothing was applied.
    pub fn region_unavailable(message: impl Into<String>) -> Self {
        ApiError { retry_after: Some(1), ..Self::new(ErrorCode::RegionUnavailable, message) }
    }

    /// Logs the cause and answers with a message that says nothing internal.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(ErrorCode::Internal, "internal error")
    }

    pub fn http_status(&self) -> StatusCode {
        StatusCode::from_u16(self.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The envelope as sent for the request `request_id`.
    pub fn envelope(&self, request_id: String) -> ErrorEnvelope {
        ErrorEnvelope { error: ErrorBody { code: self.code, message: self.message.clone(), request_id } }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.http_status()
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.http_status());
        if let Some(secs) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        response.json(self.envelope(request_id::current()))
    }
}

/// Postgres reports deadlocks as SQLSTATE 40P01, which diesel does not expose; the text
/// is untranslated on every connection (`db::pin_messages`).
pub fn is_deadlock(err: &DieselError) -> bool {
    matches!(err, DieselError::DatabaseError(DatabaseErrorKind::Unknown, info) if info.message().contains("deadlock detected"))
}

impl From<DieselError> for ApiError {
    fn from(err: DieselError) -> Self {
        match &err {
            DieselError::NotFound => ApiError::not_found("not found"),
            DieselError::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                _,
            ) => {
                tracing::warn!(%err, "database connection lost");
                ApiError::region_unavailable("the region's database is unavailable")
            }
            DieselError::DatabaseError(_, info) if info.message().contains("statement timeout") => {
                tracing::warn!(%err, "statement timed out");
                ApiError::new(ErrorCode::Timeout, "the region's database did not answer in time")
            }
            _ => ApiError::internal(err),
        }
    }
}

impl From<diesel::r2d2::PoolError> for ApiError {
    fn from(err: diesel::r2d2::PoolError) -> Self {
        tracing::warn!(%err, "no database connection");
        ApiError::region_unavailable("the region's database is unavailable")
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(err: actix_web::error::BlockingError) -> Self {
        ApiError::internal(err)
    }
}
