//! Points move only here: bills award them, redemptions spend them. A request becomes a
//! typed write (`db::points::PointsWrite`, its rule from `domain::points`) and joins its
//! group's queue (`group_commit`); the batch it lands in runs in one SERIALIZABLE
//! transaction in the group's region that locks the group row, decides, writes the ledger
//! entry, the new balance and the idempotency record, and commits.
//!
//! Idempotency: a (caller, key) answered before replays its answer and changes nothing;
//! a concurrent duplicate fails on the record's primary key, its batch runs again and
//! finds the record. Definite refusals (not found, insufficient points, ...) are
//! remembered like successes; failures that may be transient (5xx) are not, so their
//! retry runs again.

use std::ops::Range;
use std::sync::Arc;

use contract::dto::{NewBill, NewRedemption, NewReturn, Role};
use contract::{EntryId, ErrorCode, GroupId, ItemId, RegionId, Regional, UserId};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::auth::Caller;
use crate::db::points::{PointsWrite, Render, Stored};
use crate::db::{Db, idempotency, ledger, users};
use crate::domain::points::{Change, Prices, Refusal, Rule, Spend, Store};
use crate::domain::{IdempotencyKey, Points, Qty};
use crate::error::ApiError;
use crate::services::AppState;
use crate::services::group_commit::{self, Batch, GroupCommit, Unqueued};
use crate::services::{discounts, pricing};
use observability::request_id;

/// The points writes of this instance, batched per group.
pub type PointsQueue = GroupCommit<PointsBatch>;

/// How the queue applies a batch: one transaction of the points store, again while it
/// meets a conflict.
pub struct PointsBatch {
    db: Db,
    region: RegionId,
    render: Render,
}

impl PointsBatch {
    pub fn queue(db: Db, region: RegionId, render: Render, limits: group_commit::Limits) -> Arc<PointsQueue> {
        GroupCommit::new(PointsBatch { db, region, render }, limits)
    }
}

impl Batch for PointsBatch {
    type Job = PointsWrite;
    type Lane = GroupId;
    type Outcome = Stored;
    type Error = ApiError;

    fn lane(write: &PointsWrite) -> &GroupId {
        &write.group_id
    }

    async fn apply(&self, writes: Arc<Vec<PointsWrite>>, range: Range<usize>) -> Result<Vec<Stored>, ApiError> {
        let (region, render) = (self.region, self.render);
        self.db.retrying(move |conn| crate::db::points::apply(conn, region, &writes[range.clone()], render)).await
    }

    /// The database slow or away fails every write alike; anything else may be one
    /// write's own.
    fn may_be_one_jobs(error: &ApiError) -> bool {
        error.code == ErrorCode::Internal
    }
}

/// The answer of an idempotent request, fresh or replayed.
pub struct Answered {
    pub status: u16,
    pub body: serde_json::Value,
    pub replayed: bool,
}

impl Answered {
    /// The answer an earlier request under the same key was given, when it was this very
    /// request (`fingerprint`); another request under a used key is refused.
    pub fn replay(record: idempotency::RecordRow, fingerprint: &str) -> Result<Answered, ApiError> {
        if record.fingerprint != fingerprint {
            return Err(ApiError::new(
                ErrorCode::IdempotencyKeyReused,
                "this Idempotency-Key was already used with a different request",
            ));
        }
        Ok(Answered { status: record.response_status as u16, body: record.response_body, replayed: true })
    }
}

/// Who asked, with which key, for exactly what.
pub struct Idempotent {
    pub caller_id: String,
    pub key: IdempotencyKey,
    pub fingerprint: String,
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

/// Runs `rule` on `group_id` exactly once per (caller, key), in a coming batch; what became
/// of it (`None` when its key was answered before), and its answer.
async fn run_once(
    state: &AppState,
    request: Idempotent,
    group_id: GroupId,
    rule: Rule,
) -> Result<(Option<Result<(), Refusal>>, Answered), ApiError> {
    let write = PointsWrite {
        caller_id: request.caller_id,
        key: request.key.as_str().to_owned(),
        fingerprint: request.fingerprint.clone(),
        group_id,
        rule,
        request_id: request_id::current(),
    };
    let stored = state.batches.run(write).await.map_err(|unqueued| match unqueued {
        Unqueued::LaneFull => {
            ApiError::region_unavailable("too many writes are waiting on this group; nothing was applied, retry")
        }
        Unqueued::TimedOut => ApiError::new(
            ErrorCode::Timeout,
            "the group's writes did not finish in time; this one may still apply: retry it with the same Idempotency-Key",
        ),
        Unqueued::Stopped => ApiError::internal("the batch runner stopped"),
        Unqueued::Failed(err) => err,
    })?;
    match stored {
        Stored::Decided { decision, answer: (status, body) } => {
            metrics::counter!("points_requests_total", "outcome" => status.to_string()).increment(1);
            Ok((Some(decision.map(drop)), Answered { status, body, replayed: false }))
        }
        Stored::Replayed(record) => {
            let answered = Answered::replay(record, &request.fingerprint)?;
            metrics::counter!("idempotent_replays_total").increment(1);
            Ok((None, answered))
        }
    }
}

/// Prices from another region's catalogue when `item`'s region is not this one.
async fn prices_of(state: &AppState, item: &ItemId) -> Result<Prices, ApiError> {
    Ok(match pricing::store_of(state, item.region(), |store| store.has_item(item.as_str())).await? {
        Some(store) => Prices::From(store),
        None => Prices::Here,
    })
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
) -> Result<Answered, ApiError> {
    let (group_id, rule) = bill_rule(state, caller, bill).await?;
    Ok(run_once(state, request, group_id, rule).await?.1)
}

/// What a bill would come to now: its group, the group's balance, and the decision.
pub struct Quoted {
    pub group_id: GroupId,
    pub balance: i64,
    pub decision: Result<Change, Refusal>,
}

/// What `bill` would come to now, decided by the same rule on the same data read without
/// locks, and nothing written.
pub async fn quote(state: &AppState, caller: &Caller, bill: BillRequest) -> Result<Quoted, ApiError> {
    let (group_id, rule) = bill_rule(state, caller, bill).await?;
    let group = group_id.clone();
    let (balance, decision) = state.db.run(move |conn| Ok(crate::db::points::quote(conn, &group, &rule)?)).await?;
    Ok(Quoted { group_id, balance, decision })
}

/// Who may bill whom, which group a bill credits, and the rule that decides it.
async fn bill_rule(state: &AppState, caller: &Caller, bill: BillRequest) -> Result<(GroupId, Rule), ApiError> {
    if !caller.is_staff_or_admin() {
        return Err(ApiError::forbidden("only staff and admins bill customers"));
    }
    if caller.role == Role::Staff && caller.is(&bill.user_id) {
        return Err(ApiError::forbidden("staff do not bill themselves: another member of staff bills you"));
    }
    let group_id = match bill.group_id.clone() {
        Some(group) => group,
        None => {
            let user = bill.user_id.to_string();
            let row = state.db.run(move |conn| Ok(users::find(conn, &user)?)).await?;
            let row = row.ok_or_else(|| ApiError::not_found(format!("user {} not found", bill.user_id)))?;
            row.personal_group_id
        }
    };
    let has_lines = |store: &Store| bill.lines.iter().all(|(item, _)| store.has_item(item.as_str()));
    let (discounts, prices) = match pricing::store_of(state, bill.store_region, has_lines).await? {
        Some(store) => (store.discounts.clone(), Prices::From(store)),
        None => (discounts::terms_here(state).await?, Prices::Here),
    };
    let rule = Rule::Bill {
        user_id: bill.user_id.to_string(),
        actor_id: caller.user_id.to_string(),
        store_region: bill.store_region,
        prices,
        discounts,
        lines: bill.lines,
        points_per_unit: state.config.points_per_unit,
    };
    Ok((group_id, rule))
}

/// Takes back `lines` of a bill (all that is left when `None`): staff and admins, keyed
/// like a bill. The bill's group is read first (a bill never moves); the return then
/// decides in that group's queue, on the bill's lines as its transaction reads them.
pub async fn return_bill(
    state: &AppState,
    caller: &Caller,
    request: Idempotent,
    bill_id: EntryId,
    new: &NewReturn,
) -> Result<Answered, ApiError> {
    if !caller.is_staff_or_admin() {
        return Err(ApiError::forbidden("only staff and admins take returns"));
    }
    let lines = match &new.lines {
        None => None,
        Some(lines) if !(1..=100).contains(&lines.len()) => {
            return Err(ApiError::invalid_input("lines must have 1 to 100 entries, or be left out for the whole bill"));
        }
        Some(lines) => Some(
            lines
                .iter()
                .map(|line| Ok((state.regions.parse_id("item_id", &line.item_id)?, Qty::parse(line.qty)?)))
                .collect::<Result<Vec<(ItemId, Qty)>, ApiError>>()?,
        ),
    };
    let id = bill_id.to_string();
    let found = state.db.run(move |conn| Ok(ledger::bills(conn, &[&id])?)).await?;
    let bill = found.into_iter().next().ok_or_else(|| ApiError::not_found(format!("bill {bill_id} not found")))?;
    let rule = Rule::Return { actor_id: caller.user_id.to_string(), bill_id: bill_id.to_string(), lines };
    Ok(run_once(state, request, bill.group_id, rule).await?.1)
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
) -> Result<Answered, ApiError> {
    let (spend, prices) = match what {
        RedemptionRequest::Item(item, qty) => {
            let prices = prices_of(state, &item).await?;
            (Spend::Item(item, qty), prices)
        }
        RedemptionRequest::Points(points) => (Spend::Points(points), Prices::Here),
    };
    // Admins redeem for any group; the membership is asked only of others. Strangers are
    // turned away before their write is queued, and the batch asks again as it spends.
    state.redeem_rights.check(state, caller, &group_id).await?;
    let rule = Rule::Redeem {
        user_id: caller.user_id.to_string(),
        admin: caller.role == Role::Admin,
        staff: caller.role == Role::Staff,
        spend,
        prices,
    };
    let (decision, answered) = run_once(state, request, group_id.clone(), rule).await?;
    // What the spending transaction found about the caller's right, kept for the next
    // admission check: a redemption applied renews it, a refusal for want of it drops it.
    match decision {
        Some(Ok(())) => state.redeem_rights.remember(&group_id, &caller.user_id),
        Some(Err(Refusal::NoRightToRedeem | Refusal::StaffNotMember | Refusal::GroupNotFound)) => {
            state.redeem_rights.forget(&group_id, &caller.user_id)
        }
        _ => {}
    }
    Ok(answered)
}
