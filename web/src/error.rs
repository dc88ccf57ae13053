//! What a refusal looks like in the console: a page that says in words what happened,
//! with the platform's request id when the platform answered, a banner when a region is
//! down, and a redirect to the login page when the session has none (or has expired).

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpResponse, ResponseError};
use contract::ErrorCode;
use maud::html;

use crate::pages::layout;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// The platform refused or could not answer.
    #[error("{0}")]
    Platform(#[from] client::Error),
    #[error("please log in")]
    NotLoggedIn,
    #[error("the email or the password is wrong")]
    WrongLogin,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("this form has expired or was not sent from this console; reload the page and try again")]
    Csrf,
    #[error("{0}")]
    Invalid(String),
    #[error("the session cookie could not be read: {0}")]
    Session(String),
}

/// `raw` (trimmed) read as a `T`, or a refusal that says what it should have been
/// (`what`: "a group id").
pub fn parsed<T: std::str::FromStr>(raw: &str, what: &str) -> Result<T, WebError> {
    raw.trim().parse().map_err(|_| WebError::Invalid(format!("{raw:?} is not {what}")))
}

impl WebError {
    pub fn session(e: impl std::fmt::Display) -> WebError {
        WebError::Session(e.to_string())
    }

    /// A region that does not answer: say so as a banner, not as a failure of the page.
    fn unavailable(&self) -> bool {
        matches!(self, WebError::Platform(e) if matches!(e.code(), Some(ErrorCode::RegionUnavailable))
            || matches!(e, client::Error::NoAnswer { .. }))
    }
}

impl ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        match self {
            WebError::Platform(e) => match e.status() {
                // An expired or revoked token is "log in again", not a failure.
                Some(401) => StatusCode::SEE_OTHER,
                Some(status) => StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
                None => StatusCode::BAD_GATEWAY,
            },
            WebError::NotLoggedIn => StatusCode::SEE_OTHER,
            WebError::WrongLogin => StatusCode::UNAUTHORIZED,
            WebError::Forbidden(_) | WebError::Csrf => StatusCode::FORBIDDEN,
            WebError::Invalid(_) => StatusCode::BAD_REQUEST,
            WebError::Session(_) => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status == StatusCode::SEE_OTHER {
            return HttpResponse::SeeOther().insert_header((header::LOCATION, "/login")).finish();
        }
        let request_id = match self {
            WebError::Platform(client::Error::Status { error, .. }) => Some(error.request_id.clone()),
            _ => None,
        };
        let title = if self.unavailable() { "A region is unavailable" } else { "That did not work" };
        let body = html! {
            @if self.unavailable() {
                p.banner.down role="alert" { "The platform could not reach a region just now; try again in a moment." }
            }
            p { (self.to_string()) }
            @if let Some(id) = request_id { p.muted { "Request id: " code { (id) } } }
            p { a href="/" { "Back to the console" } }
        };
        HttpResponse::build(status)
            .content_type(ContentType::html())
            .body(layout::page(title, None, body).into_string())
    }
}
