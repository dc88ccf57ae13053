//! Catalogue (menu) items of this region.

use contract::ItemId;
use contract::dto::CatalogueItem;
use diesel::prelude::*;

use super::schema::catalogue_items;

/// The columns of a [`CatalogueItem`], in its fields' order (`created_on` is not sent).
type ItemColumns = (
    catalogue_items::id,
    catalogue_items::name,
    catalogue_items::category,
    catalogue_items::price_cents,
    catalogue_items::points_price,
    catalogue_items::available,
    catalogue_items::updated_on,
);
/// Diesel's columns are unit structs: the tuple's default is the selection.
fn item() -> ItemColumns {
    ItemColumns::default()
}

#[derive(Debug, Insertable)]
#[diesel(table_name = catalogue_items)]
pub struct NewItemRow<'a> {
    pub id: &'a ItemId,
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

pub fn all(conn: &mut PgConnection) -> QueryResult<Vec<CatalogueItem>> {
    catalogue_items::table
        .select(item())
        .order((catalogue_items::category.asc(), catalogue_items::name.asc(), catalogue_items::id.asc()))
        .load(conn)
}

pub fn find_many(conn: &mut PgConnection, ids: &[&str]) -> QueryResult<Vec<CatalogueItem>> {
    catalogue_items::table.filter(catalogue_items::id.eq_any(ids)).select(item()).load(conn)
}

/// Inserts unless the id is taken; `Ok(None)` means "pick another id".
pub fn insert(conn: &mut PgConnection, row: &NewItemRow<'_>) -> QueryResult<Option<CatalogueItem>> {
    diesel::insert_into(catalogue_items::table)
        .values(row)
        .on_conflict(catalogue_items::id)
        .do_nothing()
        .returning(item())
        .get_result(conn)
        .optional()
}

pub fn update(conn: &mut PgConnection, id: &str, change: &ItemChange) -> QueryResult<Option<CatalogueItem>> {
    diesel::update(catalogue_items::table.find(id))
        .set((change, catalogue_items::updated_on.eq(diesel::dsl::now)))
        .returning(item())
        .get_result(conn)
        .optional()
}

pub fn delete(conn: &mut PgConnection, id: &str) -> QueryResult<bool> {
    Ok(diesel::delete(catalogue_items::table.find(id)).execute(conn)? == 1)
}
