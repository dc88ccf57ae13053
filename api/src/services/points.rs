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
use chrono::{DateTime, Utc};
use contract::dto::{Bill, EntryKind, NewBill, NewRedemption, Redemption, Role};
use contract::{EntryId, ErrorCode, GroupId, ItemId, RegionId, Regional, UserId};
use diesel::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::auth::Caller;
use crate::db::{catalogue, groups, idempotency, ledger, stored_id, users};
use crate::domain::{IdempotencyKey, Points, Qty};
use crate::error::ApiError;
use crate::services::batches::{Job, Outcome};
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

/// Runs `work` exactly once per (caller, key), in the group's next batch (see
/// `batches`): `work` reads and checks before it writes, and answers `Ok(Err(refusal))`
/// without writing anything when it refuses.
async fn run_once(
    state: &AppState,
    group: &GroupId,
    request: Idempotent,
    work: Box<crate::services::batches::Work>,
) -> Result<Recorded, ApiError> {
    let job = Job {
        caller_id: request.caller_id.clone(),
        key: request.key.as_str().to_owned(),
        fingerprint: request.fingerprint.clone(),
        request_id: request_id::current(),
        work,
    };
    let outcome = state.batches.run(&state.db, group, job).await?;
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

/// The items named by `ids`: from `remote` (another region's catalogue) when given, else
/// read from this region's catalogue inside the transaction.
fn priced(conn: &mut PgConnection, remote: Option<&Vec<PricedItem>>, ids: &[&str]) -> QueryResult<Vec<PricedItem>> {
    match remote {
        Some(items) => Ok(items.iter().filter(|i| ids.contains(&i.id.as_str())).cloned().collect()),
        None => Ok(catalogue::find_many(conn, ids)?.into_iter().map(PricedItem::from).collect()),
    }
}

fn to_json(value: &impl Serialize) -> QueryResult<Result<serde_json::Value, ApiError>> {
    Ok(Ok(serde_json::to_value(value).map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?))
}

fn refuse(error: ApiError) -> QueryResult<Result<serde_json::Value, ApiError>> {
    Ok(Err(error))
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
    let local = state.regions.local;
    let points_per_unit = state.config.points_per_unit;
    let key = request.key.as_str().to_owned();
    let gid = group_id.clone();
    let work = move |conn: &mut PgConnection| {
        let Some(group) = groups::lock(conn, gid.as_str())? else {
            return refuse(ApiError::not_found(format!("group {gid} not found")));
        };
        if !groups::is_member(conn, gid.as_str(), bill.user_id.as_str())? {
            return refuse(ApiError::forbidden(format!("user {} is not a member of group {gid}", bill.user_id)));
        }
        let ids: Vec<&str> = bill.lines.iter().map(|(id, _)| id.as_str()).collect();
        let items = priced(conn, remote_prices.as_deref(), &ids)?;
        let mut amount_cents: i64 = 0;
        for (id, qty) in &bill.lines {
            let Some(item) = items.iter().find(|i| i.id == id.as_str()) else {
                return refuse(ApiError::not_found(format!("catalogue item {id} not found")));
            };
            if !item.available {
                return refuse(ApiError::new(
                    ErrorCode::ItemUnavailable,
                    format!("catalogue item {id} is not available"),
                ));
            }
            amount_cents = amount_cents.saturating_add(item.price_cents.saturating_mul(qty.get()));
        }
        let points_awarded = (amount_cents / 100).saturating_mul(points_per_unit);
        let Some(balance_after) = group.points.checked_add(points_awarded) else {
            return refuse(ApiError::invalid_input("the group's balance would overflow"));
        };
        let entry = ledger::insert(
            conn,
            &ledger::NewEntryRow {
                id: EntryId::generate(local).as_str(),
                group_id: gid.as_str(),
                user_id: bill.user_id.as_str(),
                kind: EntryKind::Award.as_str(),
                points: points_awarded,
                amount_cents: Some(amount_cents),
                store_region: Some(bill.store_region.as_str()),
                balance_after,
                idempotency_key: &key,
            },
        )?;
        groups::set_points(conn, gid.as_str(), balance_after)?;
        to_json(&Bill {
            id: stored_id(&entry.id)?,
            user_id: bill.user_id.clone(),
            group_id: gid.clone(),
            store_region: bill.store_region,
            amount_cents,
            points_awarded,
            balance_after,
            created_on: entry.created_on,
        })
    };
    run_once(state, &group_id, request, Box::new(work)).await
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
    let local = state.regions.local;
    let key = request.key.as_str().to_owned();
    let caller = caller.clone();
    let gid = group_id.clone();
    let work = move |conn: &mut PgConnection| {
        let Some(group) = groups::lock(conn, gid.as_str())? else {
            return refuse(ApiError::not_found(format!("group {gid} not found")));
        };
        if caller.role != Role::Admin && !groups::is_member(conn, gid.as_str(), caller.user_id.as_str())? {
            return refuse(ApiError::forbidden("only members of the group redeem its points"));
        }
        let points = match &what {
            RedemptionRequest::Points(points) => points.get(),
            RedemptionRequest::Item(id, qty) => {
                let Some(item) = priced(conn, remote_prices.as_deref(), &[id.as_str()])?.pop() else {
                    return refuse(ApiError::not_found(format!("catalogue item {id} not found")));
                };
                if !item.available {
                    return refuse(ApiError::new(
                        ErrorCode::ItemUnavailable,
                        format!("catalogue item {id} is not available"),
                    ));
                }
                item.points_price.saturating_mul(qty.get())
            }
        };
        if group.points < points {
            return refuse(ApiError::new(
                ErrorCode::InsufficientPoints,
                format!("the group has {} points; {points} were asked for", group.points),
            ));
        }
        let balance_after = group.points - points;
        let entry = ledger::insert(
            conn,
            &ledger::NewEntryRow {
                id: EntryId::generate(local).as_str(),
                group_id: gid.as_str(),
                user_id: caller.user_id.as_str(),
                kind: EntryKind::Redeem.as_str(),
                points: -points,
                amount_cents: None,
                store_region: None,
                balance_after,
                idempotency_key: &key,
            },
        )?;
        groups::set_points(conn, gid.as_str(), balance_after)?;
        to_json(&Redemption {
            id: stored_id(&entry.id)?,
            group_id: gid.clone(),
            user_id: caller.user_id.clone(),
            points,
            balance_after,
            created_on: entry.created_on,
        })
    };
    run_once(state, &group_id, request, Box::new(work)).await
}

/// Deletes idempotency records past the retention period, every hour.
pub async fn purge_expired_records(state: actix_web::web::Data<AppState>) {
    let retention = chrono::Duration::hours(i64::from(state.config.idempotency.retention_hours.max(24)));
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        tick.tick().await;
        let cutoff: DateTime<Utc> = Utc::now() - retention;
        match state.db.run(move |conn| Ok(idempotency::purge_older_than(conn, cutoff)?)).await {
            Ok(purged) => tracing::info!(purged, "expired idempotency records purged"),
            Err(err) => tracing::warn!(%err, "purging idempotency records failed"),
        }
    }
}
