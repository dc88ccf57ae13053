//! Catalogue (menu) items of this region.

use chrono::{DateTime, Utc};
use contract::ItemId;
use diesel::prelude::*;

use super::schema::catalogue_items;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = catalogue_items)]
pub struct ItemRow {
    pub id: ItemId,
    pub name: String,
    pub category: String,
    pub price_cents: i64,
    pub points_price: i64,
    pub available: bool,
    pub updated_on: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = catalogue_items)]
pub struct NewItemRow<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub category: &'a str,
    pub price_cents: i64,
    pub points_price: i64,
    pub available: bool,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = catalogue_items)]
pub struct ItemChange {
    pub name: Option<String>,
    pub category: Option<String>,
    pub price_cents: Option<i64>,
    pub points_price: Option<i64>,
    pub available: Option<bool>,
}

pub fn all(conn: &mut PgConnection) -> QueryResult<Vec<ItemRow>> {
    catalogue_items::table
        .select(ItemRow::as_select())
        .order((catalogue_items::category.asc(), catalogue_items::name.asc(), catalogue_items::id.asc()))
        .load(conn)
}

pub fn find_many(conn: &mut PgConnection, ids: &[&str]) -> QueryResult<Vec<ItemRow>> {
    catalogue_items::table.filter(catalogue_items::id.eq_any(ids)).select(ItemRow::as_select()).load(conn)
}

/// Inserts unless the id is taken; `Ok(None)` means "pick another id".
pub fn insert(conn: &mut PgConnection, row: &NewItemRow<'_>) -> QueryResult<Option<ItemRow>> {
    diesel::insert_into(catalogue_items::table)
        .values(row)
        .on_conflict(catalogue_items::id)
        .do_nothing()
        .returning(ItemRow::as_returning())
        .get_result(conn)
        .optional()
}

pub fn update(conn: &mut PgConnection, id: &str, change: &ItemChange) -> QueryResult<Option<ItemRow>> {
    diesel::update(catalogue_items::table.find(id))
        .set((change, catalogue_items::updated_on.eq(diesel::dsl::now)))
        .returning(ItemRow::as_returning())
        .get_result(conn)
        .optional()
}

pub fn delete(conn: &mut PgConnection, id: &str) -> QueryResult<bool> {
    Ok(diesel::delete(catalogue_items::table.find(id)).execute(conn)? == 1)
}
