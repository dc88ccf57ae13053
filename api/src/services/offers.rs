//! Offers: a group's single-use entitlements to a store region's `offer` discounts. Staff
//! and admins issue them (keyed: the same key issues one offer, however often it is
//! sent); a discount's `every_n_bills` issues them with the bills (`db::points`); a bill
//! uses the best one in the transaction that writes it.

use chrono::Utc;
use contract::dto::{Audience, NewOffer, Offer};
use contract::{DiscountId, GroupId, OfferId, Regional};

use crate::auth::Caller;
use crate::db::offers::{self, NewOfferRow};
use crate::db::{self, idempotency};
use crate::domain::points::Store;
use crate::error::ApiError;
use crate::services::groups::with_standing;
use crate::services::points::{Answered, Idempotent};
use crate::services::{AppState, discounts, groups, pricing};

/// A group's offers, newest first (members, staff, admins; anyone else 404).
pub async fn list(state: &AppState, caller: &Caller, group: GroupId) -> Result<Vec<Offer>, ApiError> {
    let caller = caller.clone();
    let rows = state
        .db
        .run(move |conn| {
            let (_, standing) = with_standing(conn, &caller, &group)??;
            standing.require_sight(&group)?;
            Ok(offers::of_group(conn, group.as_str(), 500)?)
        })
        .await?;
    let now = Utc::now();
    Ok(rows.iter().map(|row| row.to_dto(now)).collect())
}

/// Whether `discount` exists as an `offer` discount of its store region.
async fn ensure_offer_discount(state: &AppState, discount: &DiscountId) -> Result<(), ApiError> {
    // Another region's discounts come with its catalogue, this region's from the cache
    // its bills read (a change made here is seen at once).
    let has_discount = |store: &Store| store.discounts.iter().any(|t| t.id == discount.as_str());
    let audience = match pricing::store_of(state, discount.region(), has_discount).await? {
        Some(store) => store.discounts.iter().find(|t| t.id == discount.as_str()).map(|t| t.audience),
        None => discounts::terms_here(state).await?.iter().find(|t| t.id == discount.as_str()).map(|t| t.audience),
    };
    match audience {
        None => Err(ApiError::not_found(format!("discount {discount} not found"))),
        Some(Audience::Everyone) => Err(ApiError::invalid_input(format!(
            "discount {discount} is for everyone: an offer needs a discount of audience \"offer\""
        ))),
        Some(Audience::Offer) => Ok(()),
    }
}

/// Issues an offer of `new.discount_id` to `group`, once per (caller, key).
pub async fn issue(
    state: &AppState,
    caller: &Caller,
    request: Idempotent,
    group: GroupId,
    new: &NewOffer,
) -> Result<Answered, ApiError> {
    if !caller.is_staff_or_admin() {
        return Err(ApiError::forbidden("only staff and admins issue offers"));
    }
    let discount: DiscountId = state.regions.parse_id("discount_id", &new.discount_id)?;
    if new.expires_at.is_some_and(|at| at <= Utc::now() || !contract::time::keepable(at)) {
        let last = contract::time::YEARS.end();
        return Err(ApiError::invalid_input(format!(
            "expires_at must be in the future, and in the year {last} at the latest"
        )));
    }
    ensure_offer_discount(state, &discount).await?;
    let (caller, expires_at) = (caller.clone(), new.expires_at);
    let region = state.regions.local;
    let fingerprint = request.fingerprint.clone();
    state
        .db
        .retrying(move |conn| {
            // A concurrent duplicate fails on the record's primary key, and runs again here.
            let keys = [(request.caller_id.as_str(), request.key.as_str())];
            if let Some(record) = idempotency::find_many(conn, &keys)?.into_values().next() {
                return Ok(Err(record));
            }
            conn.build_transaction().serializable().run(|conn| {
                let standing = match groups::lock_with_standing(conn, &caller, &group)? {
                    Ok((_, standing)) => standing,
                    Err(missing) => return Ok(Ok(Err(missing))),
                };
                if let Err(missing) = standing.require_sight(&group) {
                    return Ok(Ok(Err(missing)));
                }
                let row = NewOfferRow {
                    id: OfferId::generate(region).to_string(),
                    group_id: group.to_string(),
                    discount_id: discount.to_string(),
                    state: "open",
                    expires_at,
                    issued_by: caller.user_id.to_string(),
                };
                let inserted = offers::insert_many(conn, &[row])?.into_iter().next();
                db::groups::add_open_offers(conn, &[(group.as_str(), 1)])?;
                let offer = inserted.ok_or(diesel::result::Error::NotFound)?.to_dto(Utc::now());
                let body =
                    serde_json::to_value(&offer).map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
                idempotency::insert_many(
                    conn,
                    &[idempotency::NewRecordRow {
                        caller_id: &request.caller_id,
                        key: request.key.as_str(),
                        fingerprint: &request.fingerprint,
                        response_status: 201,
                        response_body: &body,
                    }],
                )?;
                Ok(Ok(Ok(body)))
            })
        })
        .await
        .and_then(|outcome| match outcome {
            Ok(Ok(body)) => Ok(Answered { status: 201, body, replayed: false }),
            Ok(Err(refused)) => Err(refused),
            Err(record) => Answered::replay(record, &fingerprint),
        })
}
