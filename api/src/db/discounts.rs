//! Discounts of this region's menu.

use chrono::{DateTime, Utc};
use contract::dto::{Audience, Discount};
use contract::{DiscountId, Regional};
use diesel::prelude::*;

use super::schema::discounts;
use crate::domain::discounts::Terms;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = discounts)]
pub struct DiscountRow {
    pub id: DiscountId,
    pub name: String,
    pub percent_off: Option<i32>,
    pub amount_off_cents: Option<i64>,
    pub min_spend_cents: i64,
    pub category: Option<String>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub audience: Audience,
    pub every_n_bills: Option<i32>,
    pub created_on: DateTime<Utc>,
    pub updated_on: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = discounts)]
pub struct NewDiscountRow<'a> {
    pub id: &'a DiscountId,
    pub name: &'a str,
    pub percent_off: Option<i32>,
    pub amount_off_cents: Option<i64>,
    pub min_spend_cents: i64,
    pub category: Option<&'a str>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub audience: Audience,
    pub every_n_bills: Option<i32>,
}

/// A change; `Some(None)` clears an optional column.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = discounts)]
pub struct DiscountChange {
    pub name: Option<String>,
    pub percent_off: Option<Option<i32>>,
    pub amount_off_cents: Option<Option<i64>>,
    pub min_spend_cents: Option<i64>,
    pub category: Option<Option<String>>,
    pub valid_from: Option<Option<DateTime<Utc>>>,
    pub valid_until: Option<Option<DateTime<Utc>>>,
    pub every_n_bills: Option<Option<i32>>,
}

impl DiscountRow {
    /// As a bill reads it: the same terms as another region's answer gives.
    pub fn terms(&self) -> Terms {
        Terms::from(&self.to_dto(Utc::now()))
    }

    /// As the contract sends it; `active` is "valid at `now`".
    pub fn to_dto(&self, now: DateTime<Utc>) -> Discount {
        let valid = self.valid_from.is_none_or(|from| from <= now) && self.valid_until.is_none_or(|until| now < until);
        Discount {
            id: self.id.clone(),
            region: self.id.region(),
            name: self.name.clone(),
            percent_off: self.percent_off,
            amount_off_cents: self.amount_off_cents,
            min_spend_cents: self.min_spend_cents,
            category: self.category.clone(),
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            audience: self.audience,
            every_n_bills: self.every_n_bills,
            active: valid,
            created_on: self.created_on,
            updated_on: self.updated_on,
        }
    }
}

pub fn all(conn: &mut PgConnection) -> QueryResult<Vec<DiscountRow>> {
    discounts::table.select(DiscountRow::as_select()).order(discounts::id.asc()).load(conn)
}

/// The discount, locked until the transaction ends: a change is checked as a whole
/// against what it changes.
pub fn lock(conn: &mut PgConnection, id: &str) -> QueryResult<Option<DiscountRow>> {
    discounts::table.find(id).select(DiscountRow::as_select()).for_update().first(conn).optional()
}

/// Inserts unless the id is taken; `Ok(None)` means "pick another id".
pub fn insert(conn: &mut PgConnection, row: &NewDiscountRow<'_>) -> QueryResult<Option<DiscountRow>> {
    diesel::insert_into(discounts::table)
        .values(row)
        .on_conflict(discounts::id)
        .do_nothing()
        .returning(DiscountRow::as_returning())
        .get_result(conn)
        .optional()
}

pub fn update(conn: &mut PgConnection, id: &str, change: &DiscountChange) -> QueryResult<Option<DiscountRow>> {
    diesel::update(discounts::table.find(id))
        .set((change, discounts::updated_on.eq(diesel::dsl::now)))
        .returning(DiscountRow::as_returning())
        .get_result(conn)
        .optional()
}

pub fn delete(conn: &mut PgConnection, id: &str) -> QueryResult<bool> {
    Ok(diesel::delete(discounts::table.find(id)).execute(conn)? == 1)
}
