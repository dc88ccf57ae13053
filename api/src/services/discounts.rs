//! A store region's discounts: managed by its staff and admins, read by anyone logged
//! in, and by other regions (over `/internal`) to price bills of this region's menu.
//! Bills read them from a cache with the catalogue's TTL whose generation every change
//! on this instance bumps: a change applies at once to the next bill priced here, on
//! this region's other instances and in other regions within the TTL (the catalogue's
//! rule). Reading them in every batch's transaction cost a statement per batch.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use contract::dto::{Audience, Discount, DiscountPatch, NewDiscount};
use contract::numbers::{Cents, CentsOff, EveryNBills, PercentOff};
use contract::text::{Category, Name};
use contract::{DiscountId, RegionId, Regional};
use diesel::Connection;
use moka::future::Cache;

use crate::auth::Caller;
use crate::db::discounts::DiscountRow;
use crate::db::{self, discounts};
use crate::domain::discounts::Terms;
use crate::domain::{optional_text, required_text, within};
use crate::error::ApiError;
use crate::services::AppState;

/// This region's discounts as bills read them, by generation.
pub struct DiscountCache {
    entries: Cache<u64, Arc<Vec<Terms>>>,
    generation: AtomicU64,
}

impl DiscountCache {
    pub fn new(ttl: Duration) -> DiscountCache {
        DiscountCache {
            entries: Cache::builder().max_capacity(4).time_to_live(ttl).build(),
            generation: AtomicU64::new(0),
        }
    }

    fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }
}

/// This region's discounts, for its bills.
pub async fn terms_here(state: &AppState) -> Result<Arc<Vec<Terms>>, ApiError> {
    let cache = &state.discounts;
    cache
        .entries
        .try_get_with(cache.generation.load(Ordering::SeqCst), async {
            let rows = state.db.run(|conn| Ok(discounts::all(conn)?)).await?;
            Ok(Arc::new(rows.iter().map(DiscountRow::terms).collect()))
        })
        .await
        .map_err(|err: Arc<ApiError>| (*err).clone())
}

fn ensure_manages(caller: &Caller, region: RegionId) -> Result<(), ApiError> {
    if caller.manages_region(region) {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!("only staff of region {region} and admins change its discounts")))
    }
}

/// Exactly one of percent and amount off.
fn off(percent: Option<i32>, cents: Option<i64>) -> Result<(Option<i32>, Option<i64>), ApiError> {
    match (percent, cents) {
        (Some(p), None) => Ok((Some(within::<PercentOff>("percent_off", p.into())? as i32), None)),
        (None, Some(c)) => Ok((None, Some(within::<CentsOff>("amount_off_cents", c)?))),
        _ => Err(ApiError::invalid_input("send exactly one of percent_off and amount_off_cents")),
    }
}

fn window(from: Option<DateTime<Utc>>, until: Option<DateTime<Utc>>) -> Result<(), ApiError> {
    if [from, until].into_iter().flatten().any(|at| !contract::time::keepable(at)) {
        let years = contract::time::YEARS;
        return Err(ApiError::invalid_input(format!(
            "valid_from and valid_until must fall in the years {} to {}",
            years.start(),
            years.end()
        )));
    }
    match (from, until) {
        (Some(from), Some(until)) if from >= until => {
            Err(ApiError::invalid_input("valid_from must be before valid_until"))
        }
        _ => Ok(()),
    }
}

fn every_n(value: Option<i32>, audience: Audience) -> Result<Option<i32>, ApiError> {
    match value {
        Some(_) if audience != Audience::Offer => {
            Err(ApiError::invalid_input("every_n_bills issues offers: it needs audience \"offer\""))
        }
        Some(n) => Ok(Some(within::<EveryNBills>("every_n_bills", n.into())? as i32)),
        None => Ok(None),
    }
}

pub async fn list(state: &AppState, region: RegionId) -> Result<Vec<Discount>, ApiError> {
    state.regions.ensure_local("discounts", region)?;
    let rows = state.db.run(|conn| Ok(discounts::all(conn)?)).await?;
    let now = Utc::now();
    Ok(rows.iter().map(|row| row.to_dto(now)).collect())
}

pub async fn add(state: &AppState, caller: &Caller, region: RegionId, new: &NewDiscount) -> Result<Discount, ApiError> {
    state.regions.ensure_local("discounts", region)?;
    ensure_manages(caller, region)?;
    let name = required_text::<Name>("name", &new.name)?;
    let (percent_off, amount_off_cents) = off(new.percent_off, new.amount_off_cents)?;
    let min_spend_cents = within::<Cents>("min_spend_cents", new.min_spend_cents.unwrap_or(0))?;
    let category = optional_text::<Category>("category", new.category.as_deref())?;
    window(new.valid_from, new.valid_until)?;
    let every_n_bills = every_n(new.every_n_bills, new.audience)?;
    let (valid_from, valid_until, audience) = (new.valid_from, new.valid_until, new.audience);
    let row = state
        .db
        .run(move |conn| {
            let row = db::with_fresh_id(
                || DiscountId::generate(region),
                |id| {
                    let row = discounts::NewDiscountRow {
                        id,
                        name: &name,
                        percent_off,
                        amount_off_cents,
                        min_spend_cents,
                        category: category.as_deref(),
                        valid_from,
                        valid_until,
                        audience,
                        every_n_bills,
                    };
                    discounts::insert(conn, &row)
                },
            )?;
            Ok(row)
        })
        .await?;
    state.discounts.invalidate();
    Ok(row.to_dto(Utc::now()))
}

pub async fn change(
    state: &AppState,
    caller: &Caller,
    id: DiscountId,
    patch: &DiscountPatch,
) -> Result<Discount, ApiError> {
    ensure_manages(caller, id.region())?;
    let name = patch.name.as_deref().map(|n| required_text::<Name>("name", n)).transpose()?;
    let (percent_off, amount_off_cents) = match (patch.percent_off, patch.amount_off_cents) {
        (None, None) => (None, None),
        (percent, cents) => {
            let (percent, cents) = off(percent, cents)?;
            (Some(percent), Some(cents))
        }
    };
    let min_spend_cents = patch.min_spend_cents.map(|m| within::<Cents>("min_spend_cents", m)).transpose()?;
    let category = match &patch.category {
        None => None,
        Some(category) => Some(optional_text::<Category>("category", category.as_deref())?),
    };
    let patch = patch.clone();
    let key = id.to_string();
    let row = state
        .db
        .run(move |conn| {
            conn.transaction(|conn| {
                let Some(current) = discounts::lock(conn, &key)? else { return Ok(None) };
                // The result must still make sense as a whole: check it against what is stored.
                let from = patch.valid_from.unwrap_or(current.valid_from);
                let until = patch.valid_until.unwrap_or(current.valid_until);
                window(from, until)?;
                every_n(patch.every_n_bills.unwrap_or(current.every_n_bills), current.audience)?;
                let change = discounts::DiscountChange {
                    name,
                    percent_off,
                    amount_off_cents,
                    min_spend_cents,
                    category,
                    valid_from: patch.valid_from,
                    valid_until: patch.valid_until,
                    every_n_bills: patch.every_n_bills,
                };
                Ok(discounts::update(conn, &key, &change)?)
            })
        })
        .await?;
    let row = row.ok_or_else(|| ApiError::not_found(format!("discount {id} not found")))?;
    state.discounts.invalidate();
    Ok(row.to_dto(Utc::now()))
}

pub async fn remove(state: &AppState, caller: &Caller, id: DiscountId) -> Result<(), ApiError> {
    ensure_manages(caller, id.region())?;
    let key = id.to_string();
    if !state.db.run(move |conn| Ok(discounts::delete(conn, &key)?)).await? {
        return Err(ApiError::not_found(format!("discount {id} not found")));
    }
    state.discounts.invalidate();
    Ok(())
}
