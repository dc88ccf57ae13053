use actix_web::{HttpResponse, web};
use contract::dto::{Bill, BillQuote, NewBill, NewReturn, Receipt, Return};
use contract::{EntryId, ErrorEnvelope};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::routes::answers;
use crate::routes::extract::{Here, KeyedJson};
use crate::routes::openapi::Keyed;
use crate::services::AppState;
use crate::services::points::{self, BillRequest};
use crate::services::receipts;

#[utoipa::path(post, path = "/v1/bills", tag = "points", security(("bearer" = [])), request_body = NewBill,
    params(Keyed),
    responses(
        (status = 201, body = Bill),
        (status = 403, body = ErrorEnvelope),
        (status = 409, description = "item_unavailable", body = ErrorEnvelope),
))]
pub async fn create_bill(
    state: web::Data<AppState>,
    caller: Caller,
    body: KeyedJson<NewBill>,
) -> Result<HttpResponse, ApiError> {
    let bill = BillRequest::parse(&state, &body)?;
    Ok(answers::respond(points::bill(&state, &caller, body.idempotent(&caller), bill).await?))
}

#[utoipa::path(post, path = "/v1/bills/quote", tag = "points", security(("bearer" = [])), request_body = NewBill,
    description = "What `POST /v1/bills` with the same body would come to now (staff, admin): the same figures and \
        the same refusals, read without locking and writing nothing. No Idempotency-Key. The answer adds the \
        group's current `balance`.",
    responses(
        (status = 200, body = BillQuote),
        (status = 403, body = ErrorEnvelope),
        (status = 409, description = "item_unavailable", body = ErrorEnvelope)))]
pub async fn quote_bill(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<NewBill>,
) -> Result<web::Json<BillQuote>, ApiError> {
    let bill = BillRequest::parse(&state, &body)?;
    let (user_id, store_region) = (bill.user_id.clone(), bill.store_region);
    let quoted = points::quote(&state, &caller, bill).await?;
    let change = quoted.decision.map_err(|refusal| answers::refusal_error(&refusal, &quoted.group_id))?;
    let amount_cents = change.amount_cents.unwrap_or_default();
    let discount_cents = change.discount.as_ref().map_or(0, |d| d.amount_cents);
    Ok(web::Json(BillQuote {
        user_id,
        group_id: quoted.group_id,
        store_region,
        gross_cents: change.gross_cents.unwrap_or(amount_cents),
        discount_cents,
        discounts: change.discount.into_iter().collect(),
        amount_cents,
        points_awarded: change.points,
        balance: quoted.balance,
    }))
}

/// Staff and admins. `lines` are (item, quantity) of the bill; left out, everything not
/// yet returned. `amount_cents` is those lines' share of what was paid (after the bill's
/// discount) and `points_reversed` what the bill awarded for them, both fixed when it was
/// billed, never recomputed. Returning more of an item than is left is `409
/// already_returned`. A wholly returned bill opens again the offer it used.
///
/// A balance never goes below zero. Where the group has spent the points, the return
/// takes what the group holds (`points_taken`, the ledger entry's points) and the rest
/// becomes the group's debt (`points_owed`, the entry's `debt_change`): its next awards
/// pay the debt first (their `debt_paid`, and a negative `debt_change` in the ledger), so
/// points redeemed from a purchase that is then returned are recovered, not lost.
#[utoipa::path(post, path = "/v1/bills/{bill_id}/returns", tag = "points", security(("bearer" = [])), request_body = NewReturn,
    params(Keyed),
    responses(
        (status = 201, body = Return),
        (status = 403, body = ErrorEnvelope),
        (status = 409, description = "already_returned", body = ErrorEnvelope),
))]
pub async fn return_bill(
    state: web::Data<AppState>,
    caller: Caller,
    Here(bill): Here<EntryId>,
    body: KeyedJson<NewReturn>,
) -> Result<HttpResponse, ApiError> {
    let request = body.idempotent(&caller);
    Ok(answers::respond(points::return_bill(&state, &caller, request, bill, &body).await?))
}

/// The bill's receipt: the bill as it was answered, who billed it, each line's share of
/// what was paid and earned with the units returned so far, and the returns. For staff
/// and admins (who take returns), the group's members and the customer it was billed to
/// (even after leaving the group); anyone else gets `404`, as for a missing bill.
#[utoipa::path(get, path = "/v1/bills/{bill_id}", tag = "points", security(("bearer" = [])),
    responses((status = 200, body = Receipt), (status = 404, body = ErrorEnvelope)))]
pub async fn read_bill(
    state: web::Data<AppState>,
    caller: Caller,
    Here(bill): Here<EntryId>,
) -> Result<web::Json<Receipt>, ApiError> {
    Ok(web::Json(answers::receipt(&receipts::of_bill(&state, &caller, bill).await?)?))
}
