//! Points move only here: bills award them, redemptions spend them. Each runs inside a
//! SERIALIZABLE transaction in the group's region that locks the group row, checks, writes
//! the ledger entry, the new balance and the idempotency record, and commits; requests
//! for the same group arriving together share one transaction (group commit, `batches`).
//!
//! Idempotency: the record of (caller, key) is looked up first inside the same
//! transaction. A concurrent duplicate blocks on the record's primary key until the first
//! commits, then fails with a unique violation, is retried, and replays the stored answer.
//! Definite refusals (not found, insufficient points, ...) are remembered like successes;
//! failures that may be transient (5xx) are not, so their retry runs again.

use actix_web::HttpResponse;
use contract::dto::{Bill, EntryKind, NewBill, NewRedemption, Redemption, Role};
use contract::{ErrorCode, GroupId, ItemId, RegionId, Regional, UserId};
use diesel::QueryResult;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::auth::Caller;
use crate::db::ledger::EntryRow;
use crate::db::{stored_id, users};
use crate::domain::{IdempotencyKey, Points, Qty};
use crate::error::ApiError;
use crate::services::batch_tx::{Change, Seen};
use crate::services::batches::{Job, Outcome, Write};
use crate::services::groups::Standing;
use crate::services::members::may_redeem;
use crate::services::pricing::{self, PricedItem};
use crate::startup::AppState;
use observability::request_id;

/// The response of an idempotent request, fresh or replayed.
pub struct Recorded {
    status: u16,
    body: serde_json::Value,
    replayed: bool,
}

impl Recorded {
    pub fn into_response(self) -> HttpResponse {
        let status = actix_web::http::StatusCode::from_u16(self.status).unwrap_or(actix_web::http::StatusCode::OK);
        let mut response = HttpResponse::build(status);
        if self.replayed {
            response.insert_header(("Idempotent-Replayed", "true"));
        }
        response.json(self.body)
    }
}

/// Who asked, with which key, for exactly what.
pub struct Idempotent {
    caller_id: String,
    key: IdempotencyKey,
    fingerprint: String,
}

impl Idempotent {
    pub fn new(caller: &Caller, key: IdempotencyKey, method: &str, path: &str, body: &impl Serialize) -> Idempotent {
        let mut digest = Sha256::new();
        digest.update(method.as_bytes());
        digest.update(b" ");
        digest.update(path.as_bytes());
        digest.update(b"\n");
        // The parsed body re-serialised: whitespace and key order do not change it.
        digest.update(serde_json::to_vec(body).unwrap_or_default());
        let fingerprint = digest.finalize().iter().map(|b| format!("{b:02x}")).collect();
        Idempotent { caller_id: caller.user_id.to_string(), key, fingerprint }
    }
}

/// Runs a request's write exactly once per (caller, key), in a coming batch (see
/// `batches`).
async fn run_once(state: &AppState, request: Idempotent, write: Write) -> Result<Recorded, ApiError> {
    let job = Job {
        caller_id: request.caller_id,
        key: request.key.as_str().to_owned(),
        fingerprint: request.fingerprint.clone(),
        request_id: request_id::current(),
        write,
    };
    let outcome = state.batches.run(&state.db, job).await?;
    match outcome {
        Outcome::Fresh { status, body } => {
            metrics::counter!("points_requests_total", "outcome" => status.to_string()).increment(1);
            Ok(Recorded { status, body, replayed: false })
        }
        Outcome::Existing(record) if record.fingerprint == request.fingerprint => {
            metrics::counter!("idempotent_replays_total").increment(1);
            Ok(Recorded { status: record.response_status as u16, body: record.response_body, replayed: true })
        }
        Outcome::Existing(_) => Err(ApiError::new(
            ErrorCode::IdempotencyKeyReused,
            "this Idempotency-Key was already used with a different request",
        )),
    }
}

/// The item `id`: from `remote` (another region's catalogue) when given, else from this
/// region's catalogue as the batch read it.
fn priced<'a>(seen: &'a Seen<'_>, remote: Option<&'a Vec<PricedItem>>, id: &str) -> Option<&'a PricedItem> {
    match remote {
        Some(items) => items.iter().find(|item| item.id == id),
        None => seen.item(id),
    }
}

/// The items of this region's catalogue a batch must read for `ids`: none when the
/// prices came from another region.
fn local_items<'a>(remote: Option<&Vec<PricedItem>>, ids: impl Iterator<Item = &'a ItemId>) -> Vec<String> {
    if remote.is_some() { Vec::new() } else { ids.map(ToString::to_string).collect() }
}

fn bill_answer(entry: &EntryRow) -> QueryResult<serde_json::Value> {
    to_json(&Bill {
        id: stored_id(&entry.id)?,
        user_id: stored_id(&entry.user_id)?,
        group_id: stored_id(&entry.group_id)?,
        store_region: stored_id(entry.store_region.as_deref().unwrap_or_default())?,
        amount_cents: entry.amount_cents.unwrap_or_default(),
        points_awarded: entry.points,
        balance_after: entry.balance_after,
        created_on: entry.created_on,
    })
}

fn redemption_answer(entry: &EntryRow) -> QueryResult<serde_json::Value> {
    to_json(&Redemption {
        id: stored_id(&entry.id)?,
        group_id: stored_id(&entry.group_id)?,
        user_id: stored_id(&entry.user_id)?,
        points: -entry.points,
        balance_after: entry.balance_after,
        created_on: entry.created_on,
    })
}

fn to_json(value: &impl Serialize) -> QueryResult<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))
}

/// A bill, parsed.
pub struct BillRequest {
    pub user_id: UserId,
    pub group_id: Option<GroupId>,
    pub store_region: RegionId,
    pub lines: Vec<(ItemId, Qty)>,
}

impl BillRequest {
    pub fn parse(state: &AppState, new: &NewBill) -> Result<BillRequest, ApiError> {
        let regions = &state.regions;
        let user_id: UserId = regions.parse_id("user_id", &new.user_id)?;
        let group_id = new.group_id.as_deref().map(|g| regions.parse_local_id("group", g)).transpose()?;
        if group_id.is_none() {
            // The personal group lives with the user.
            regions.ensure_local("user", user_id.region())?;
        }
        let store_region = regions.parse_region("store_region", &new.store_region)?;
        if !(1..=100).contains(&new.items.len()) {
            return Err(ApiError::invalid_input("items must have 1 to 100 lines"));
        }
        let lines = new
            .items
            .iter()
            .map(|line| {
                let item: ItemId = regions.parse_id("item_id", &line.item_id)?;
                if item.region() != store_region {
                    return Err(ApiError::invalid_input(format!("item {item} is not on region {store_region}'s menu")));
                }
                Ok((item, Qty::parse(line.qty)?))
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        Ok(BillRequest { user_id, group_id, store_region, lines })
    }
}

pub async fn bill(
    state: &AppState,
    caller: &Caller,
    request: Idempotent,
    bill: BillRequest,
) -> Result<Recorded, ApiError> {
    if !caller.is_staff_or_admin() {
        return Err(ApiError::forbidden("only staff and admins bill customers"));
    }
    if caller.role == Role::Staff && caller.is(&bill.user_id) {
        return Err(ApiError::forbidden("staff do not bill themselves: another member of staff bills you"));
    }
    let actor_id = caller.user_id.to_string();
    let group_id = match bill.group_id.clone() {
        Some(group) => group,
        None => {
            let user = bill.user_id.to_string();
            let row = state.db.run(move |conn| Ok(users::find(conn, &user)?)).await?;
            let row = row.ok_or_else(|| ApiError::not_found(format!("user {} not found", bill.user_id)))?;
            row.personal_group_id.parse().map_err(ApiError::internal)?
        }
    };
    let remote_prices = pricing::items_of(state, bill.store_region).await?;
    let points_per_unit = state.config.points_per_unit;
    let items = local_items(remote_prices.as_deref(), bill.lines.iter().map(|(id, _)| id));
    let member = Some(bill.user_id.to_string());
    let gid = group_id.clone();
    let decide = move |seen: &Seen<'_>| {
        if !seen.is_member {
            return Err(ApiError::forbidden(format!("user {} is not a member of group {gid}", bill.user_id)));
        }
        let mut amount_cents: i64 = 0;
        for (id, qty) in &bill.lines {
            let Some(item) = priced(seen, remote_prices.as_deref(), id.as_str()) else {
                return Err(ApiError::not_found(format!("catalogue item {id} not found")));
            };
            if !item.available {
                return Err(ApiError::new(ErrorCode::ItemUnavailable, format!("catalogue item {id} is not available")));
            }
            amount_cents = amount_cents.saturating_add(item.price_cents.saturating_mul(qty.get()));
        }
        Ok(Change {
            user_id: bill.user_id.to_string(),
            actor_id: actor_id.clone(),
            kind: EntryKind::Award,
            points: (amount_cents / 100).saturating_mul(points_per_unit),
            amount_cents: Some(amount_cents),
            store_region: Some(bill.store_region),
        })
    };
    let write = Write { group_id, member, items, decide: Box::new(decide), answer: bill_answer };
    run_once(state, request, write).await
}

/// A redemption, parsed: a number of points, or an item of this region's menu.
pub enum RedemptionRequest {
    Points(Points),
    Item(ItemId, Qty),
}

impl RedemptionRequest {
    pub fn parse(state: &AppState, new: &NewRedemption) -> Result<RedemptionRequest, ApiError> {
        match (new.points, new.item_id.as_deref(), new.qty) {
            (Some(points), None, None) => Ok(RedemptionRequest::Points(Points::parse(points)?)),
            (None, Some(item), qty) => {
                let item = state.regions.parse_id("catalogue item", item)?;
                Ok(RedemptionRequest::Item(item, Qty::parse(qty.unwrap_or(1))?))
            }
            _ => Err(ApiError::invalid_input("send either {points} or {item_id, qty}")),
        }
    }
}

pub async fn redeem(
    state: &AppState,
    caller: &Caller,
    request: Idempotent,
    group_id: GroupId,
    what: RedemptionRequest,
) -> Result<Recorded, ApiError> {
    let remote_prices = match &what {
        RedemptionRequest::Item(item, _) => pricing::items_of(state, item.region()).await?,
        RedemptionRequest::Points(_) => None,
    };
    let items = match &what {
        RedemptionRequest::Item(id, _) => local_items(remote_prices.as_deref(), std::iter::once(id)),
        RedemptionRequest::Points(_) => Vec::new(),
    };
    // Admins redeem for any group; the membership is asked only of others. Strangers are
    // turned away before their write is queued, and the batch asks again as it spends.
    state.redeem_rights.check(state, caller, &group_id).await?;
    let is_admin = caller.role == Role::Admin;
    let is_staff = caller.role == Role::Staff;
    let member = (!is_admin).then(|| caller.user_id.to_string());
    let user_id = caller.user_id.to_string();
    let gid = group_id.clone();
    let decide = move |seen: &Seen<'_>| {
        if !is_admin {
            let member = match (seen.is_member, is_staff) {
                (true, _) => Standing::Member { can_redeem: seen.can_redeem },
                (false, true) => Standing::Staff,
                (false, false) => Standing::Stranger,
            };
            may_redeem(member, &gid)?;
        }
        let points = match &what {
            RedemptionRequest::Points(points) => points.get(),
            RedemptionRequest::Item(id, qty) => {
                let Some(item) = priced(seen, remote_prices.as_deref(), id.as_str()) else {
                    return Err(ApiError::not_found(format!("catalogue item {id} not found")));
                };
                if !item.available {
                    return Err(ApiError::new(
                        ErrorCode::ItemUnavailable,
                        format!("catalogue item {id} is not available"),
                    ));
                }
                item.points_price.saturating_mul(qty.get())
            }
        };
        if seen.balance < points {
            return Err(ApiError::new(
                ErrorCode::InsufficientPoints,
                format!("the group has {} points; {points} were asked for", seen.balance),
            ));
        }
        Ok(Change {
            user_id: user_id.clone(),
            actor_id: user_id.clone(),
            kind: EntryKind::Redeem,
            points: -points,
            amount_cents: None,
            store_region: None,
        })
    };
    let rights = (group_id.clone(), caller.user_id.clone());
    let write = Write { group_id, member, items, decide: Box::new(decide), answer: redemption_answer };
    let recorded = run_once(state, request, write);
    // What the spending transaction found about the caller's right, kept for the next
    // admission check: a redemption applied renews it, a refusal for want of it drops it.
    match recorded.await {
        Ok(recorded) => {
            match (recorded.replayed, recorded.status) {
                (false, 201) => state.redeem_rights.remember(&rights.0, &rights.1),
                (false, 403 | 404) => state.redeem_rights.forget(&rights.0, &rights.1),
                _ => {}
            }
            Ok(recorded)
        }
        Err(err) => {
            if matches!(err.code, ErrorCode::Forbidden | ErrorCode::NotFound) {
                state.redeem_rights.forget(&rights.0, &rights.1);
            }
            Err(err)
        }
    }
}
