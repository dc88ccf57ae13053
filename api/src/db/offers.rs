//! Offers of this region's groups, and each group's bill count per store region (from
//! which a discount's `every_n_bills` issues them). Bills read and write both in their
//! batch's transaction, after the groups are locked.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use contract::dto::{Offer, OfferState};
use contract::{DiscountId, EntryId, GroupId, OfferId, Regional};
use diesel::prelude::*;
use diesel::upsert::excluded;

use super::schema::{offers, store_bill_counts};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = offers)]
pub struct OfferRow {
    pub id: OfferId,
    pub group_id: GroupId,
    pub discount_id: DiscountId,
    pub state: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub used_by_bill: Option<EntryId>,
    pub created_on: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = offers)]
pub struct NewOfferRow {
    pub id: String,
    pub group_id: String,
    pub discount_id: String,
    pub state: &'static str,
    pub expires_at: Option<DateTime<Utc>>,
    pub issued_by: String,
}

impl OfferRow {
    pub fn to_dto(&self, now: DateTime<Utc>) -> Offer {
        let state = match (self.state.as_str(), self.expires_at) {
            ("used", _) => OfferState::Used,
            (_, Some(at)) if at <= now => OfferState::Expired,
            _ => OfferState::Open,
        };
        Offer {
            id: self.id.clone(),
            discount_id: self.discount_id.clone(),
            region: self.discount_id.region(),
            state,
            expires_at: self.expires_at,
            used_by_bill: self.used_by_bill.clone(),
            created_on: self.created_on,
        }
    }
}

/// The open offers of `groups` (expired ones included: the decision knows the time).
pub fn open_of(conn: &mut PgConnection, groups: &[&str]) -> QueryResult<Vec<OfferRow>> {
    offers::table
        .filter(offers::group_id.eq_any(groups))
        .filter(offers::state.eq("open"))
        .order(offers::id.asc())
        .select(OfferRow::as_select())
        .load(conn)
}

/// A group's offers, newest first.
pub fn of_group(conn: &mut PgConnection, group: &str, limit: i64) -> QueryResult<Vec<OfferRow>> {
    offers::table
        .filter(offers::group_id.eq(group))
        .order((offers::created_on.desc(), offers::id.desc()))
        .limit(limit)
        .select(OfferRow::as_select())
        .load(conn)
}

pub fn insert_many(conn: &mut PgConnection, rows: &[NewOfferRow]) -> QueryResult<Vec<OfferRow>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    diesel::insert_into(offers::table).values(rows).returning(OfferRow::as_returning()).get_results(conn)
}

/// Marks each (offer, bill) used by that bill; fails unless every one was open.
pub fn mark_used(conn: &mut PgConnection, used: &[(&str, &str)]) -> QueryResult<()> {
    for (offer, bill) in used {
        let marked = diesel::update(offers::table.find(offer).filter(offers::state.eq("open")))
            .set((offers::state.eq("used"), offers::used_by_bill.eq(bill), offers::updated_on.eq(diesel::dsl::now)))
            .execute(conn)?;
        if marked != 1 {
            return Err(diesel::result::Error::RollbackTransaction);
        }
    }
    Ok(())
}

/// Opens again the offers of wholly returned bills.
pub fn reopen(conn: &mut PgConnection, offers: &[&str]) -> QueryResult<()> {
    if !offers.is_empty() {
        diesel::update(offers::table.filter(offers::id.eq_any(offers)).filter(offers::state.eq("used")))
            .set((
                offers::state.eq("open"),
                offers::used_by_bill.eq(None::<String>),
                offers::updated_on.eq(diesel::dsl::now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Bills so far per (group, store region), for `groups`.
pub fn bill_counts(conn: &mut PgConnection, groups: &[&str]) -> QueryResult<HashMap<(String, String), i64>> {
    let rows: Vec<(String, String, i64)> = store_bill_counts::table
        .filter(store_bill_counts::group_id.eq_any(groups))
        .select((store_bill_counts::group_id, store_bill_counts::store_region, store_bill_counts::bills))
        .load(conn)?;
    Ok(rows.into_iter().map(|(group, store, bills)| ((group, store), bills)).collect())
}

pub fn set_bill_counts(conn: &mut PgConnection, counts: &[(&str, &str, i64)]) -> QueryResult<()> {
    if counts.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = counts
        .iter()
        .map(|(group, store, bills)| {
            (
                store_bill_counts::group_id.eq(*group),
                store_bill_counts::store_region.eq(*store),
                store_bill_counts::bills.eq(*bills),
            )
        })
        .collect();
    diesel::insert_into(store_bill_counts::table)
        .values(rows)
        .on_conflict((store_bill_counts::group_id, store_bill_counts::store_region))
        .do_update()
        .set(store_bill_counts::bills.eq(excluded(store_bill_counts::bills)))
        .execute(conn)?;
    Ok(())
}
