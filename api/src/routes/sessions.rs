use actix_web::{HttpResponse, web};
use contract::ErrorEnvelope;
use contract::dto::{NewSession, Session};

use crate::error::ApiError;
use crate::services::accounts;
use crate::startup::AppState;

#[utoipa::path(post, path = "/v1/sessions", tag = "sessions", request_body = NewSession, responses(
    (status = 201, body = Session),
    (status = 401, description = "Wrong email or password (never says which)", body = ErrorEnvelope),
    (status = 429, description = "Too many failures for this email", body = ErrorEnvelope)))]
pub async fn create_session(state: web::Data<AppState>, body: web::Json<NewSession>) -> Result<HttpResponse, ApiError> {
    let session = accounts::log_in(&state, &body).await?;
    Ok(HttpResponse::Created().json(session))
}
