//! How a points write is answered over HTTP: the status and body of a decision (kept
//! with its Idempotency-Key, so a replay repeats them exactly) and the
//! `Idempotent-Replayed` header of a replay.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use contract::dto::{AppliedDiscount, Bill, Receipt, ReceiptLine, Redemption, Return};
use contract::{ErrorCode, GroupId};
use diesel::QueryResult;
use serde::Serialize;

use crate::db::ledger::EntryRow;
use crate::db::points::{Answer, PointsWrite};
use crate::domain::points::{Refusal, Rule};
use crate::domain::returns::ReturnRefusal;
use crate::error::ApiError;
use crate::services::groups::group_not_found;
use crate::services::points::Answered;
use crate::services::receipts;

/// The answer of a decision (`db::points::Render`).
pub fn render(write: &PointsWrite, decision: Result<&EntryRow, &Refusal>) -> QueryResult<Answer> {
    match (decision, &write.rule) {
        (Ok(entry), Rule::Bill { .. }) => Ok((201, to_json(&bill(entry)?)?)),
        (Ok(entry), Rule::Redeem { .. }) => Ok((201, to_json(&redemption(entry)?)?)),
        (Ok(entry), Rule::Return { .. }) => Ok((201, to_json(&returned(entry)?)?)),
        (Err(refusal), _) => {
            let error = refusal_error(refusal, &write.group_id);
            Ok((error.code.http_status(), to_json(&error.envelope(write.request_id.clone()))?))
        }
    }
}

/// A refusal in the contract's words.
pub fn refusal_error(refusal: &Refusal, group: &GroupId) -> ApiError {
    match refusal {
        Refusal::GroupNotFound => group_not_found(group),
        Refusal::NotAMember { user_id } => {
            ApiError::forbidden(format!("user {user_id} is not a member of group {group}"))
        }
        Refusal::NoRightToRedeem => {
            ApiError::forbidden("your membership of this group does not include redeeming its points")
        }
        Refusal::StaffNotMember => ApiError::forbidden("only members of the group redeem its points"),
        Refusal::ItemNotFound(id) => ApiError::not_found(format!("catalogue item {id} not found")),
        Refusal::ItemUnavailable(id) => {
            ApiError::new(ErrorCode::ItemUnavailable, format!("catalogue item {id} is not available"))
        }
        Refusal::InsufficientPoints { balance, asked } => ApiError::new(
            ErrorCode::InsufficientPoints,
            format!("the group has {balance} points; {asked} were asked for"),
        ),
        Refusal::BalanceOverflow => ApiError::invalid_input("the group's balance would overflow"),
        Refusal::BillNotFound(bill) => ApiError::not_found(format!("bill {bill} not found")),
        Refusal::Return(ReturnRefusal::AlreadyReturned(item)) => ApiError::new(
            ErrorCode::AlreadyReturned,
            format!("the bill has no more of {item} to return: it was not bought, or it was returned already"),
        ),
        Refusal::Return(ReturnRefusal::NotItemised) => {
            ApiError::invalid_input("this bill was made before bills kept their lines: it cannot be returned here")
        }
    }
}

/// The response of an idempotent request, fresh or replayed.
pub fn respond(answered: Answered) -> HttpResponse {
    let status = StatusCode::from_u16(answered.status).unwrap_or(StatusCode::OK);
    let mut response = HttpResponse::build(status);
    if answered.replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    response.json(answered.body)
}

fn bill(entry: &EntryRow) -> QueryResult<Bill> {
    Ok(Bill {
        id: entry.id.clone(),
        user_id: entry.user_id.clone(),
        group_id: entry.group_id.clone(),
        store_region: entry.store_region.ok_or_else(|| {
            diesel::result::Error::DeserializationError(format!("bill {} has no store region", entry.id).into())
        })?,
        amount_cents: entry.amount_cents.unwrap_or_default(),
        // The entry adds what did not pay off the group's debt.
        points_awarded: entry.points - entry.debt_change.unwrap_or(0),
        balance_after: entry.balance_after,
        created_on: entry.created_on,
        gross_cents: entry.gross_cents.or(entry.amount_cents).unwrap_or_default(),
        discount_cents: entry.discount_cents.unwrap_or_default(),
        discounts: applied(entry).into_iter().collect(),
        debt_paid: -entry.debt_change.unwrap_or(0),
    })
}

fn returned(entry: &EntryRow) -> QueryResult<Return> {
    let owed = entry.debt_change.unwrap_or(0);
    Ok(Return {
        id: entry.id.clone(),
        bill_id: entry.bill_id.clone().ok_or_else(|| {
            diesel::result::Error::DeserializationError(format!("return {} names no bill", entry.id).into())
        })?,
        group_id: entry.group_id.clone(),
        amount_cents: entry.amount_cents.unwrap_or_default(),
        points_reversed: -entry.points + owed,
        points_taken: -entry.points,
        points_owed: owed,
        balance_after: entry.balance_after,
        created_on: entry.created_on,
    })
}

/// A bill's receipt in the contract's words: the bill and its returns as they were answered.
pub fn receipt(read: &receipts::Receipt) -> QueryResult<Receipt> {
    let lines = read.lines.iter().map(|line| ReceiptLine {
        item_id: line.item_id.clone(),
        qty: line.qty,
        paid_cents: line.paid_cents,
        points: line.points,
        returned_qty: line.returned_qty,
    });
    Ok(Receipt {
        bill: bill(&read.bill)?,
        actor_id: read.bill.actor_id.clone(),
        lines: lines.collect(),
        returns: read.returns.iter().map(returned).collect::<QueryResult<_>>()?,
    })
}

/// The discount a bill applied, as its entry keeps it.
fn applied(entry: &EntryRow) -> Option<AppliedDiscount> {
    Some(AppliedDiscount {
        discount_id: entry.discount_id.clone()?,
        offer_id: entry.offer_id.clone(),
        name: entry.discount_name.clone().unwrap_or_default(),
        amount_cents: entry.discount_cents.unwrap_or_default(),
    })
}

fn redemption(entry: &EntryRow) -> QueryResult<Redemption> {
    Ok(Redemption {
        id: entry.id.clone(),
        group_id: entry.group_id.clone(),
        user_id: entry.user_id.clone(),
        points: -entry.points,
        balance_after: entry.balance_after,
        created_on: entry.created_on,
    })
}

fn to_json(value: &impl Serialize) -> QueryResult<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))
}
