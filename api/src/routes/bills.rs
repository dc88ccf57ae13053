use actix_web::{HttpRequest, HttpResponse, web};
use contract::ErrorEnvelope;
use contract::dto::{Bill, NewBill};

use crate::auth::Caller;
use crate::domain::IdempotencyKey;
use crate::error::ApiError;
use crate::routes::answers;
use crate::services::AppState;
use crate::services::points::{self, BillRequest, Idempotent};

#[utoipa::path(post, path = "/v1/bills", tag = "points", security(("bearer" = [])), request_body = NewBill,
    params(("Idempotency-Key" = String, Header, description = "1..=255 printable ASCII characters, scoped to the caller")),
    responses(
        (status = 201, body = Bill, description = "Also the replay of an earlier request with the same key (header Idempotent-Replayed: true)"),
        (status = 400, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
        (status = 409, description = "item_unavailable", body = ErrorEnvelope),
        (status = 422, description = "idempotency_key_reused", body = ErrorEnvelope)))]
pub async fn create_bill(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    body: web::Json<NewBill>,
) -> Result<HttpResponse, ApiError> {
    let key = IdempotencyKey::from_request(&req)?;
    let bill = BillRequest::parse(&state, &body)?;
    let request = Idempotent::new(&caller, key, "POST", req.path(), &*body);
    Ok(answers::respond(points::bill(&state, &caller, request, bill).await?))
}
