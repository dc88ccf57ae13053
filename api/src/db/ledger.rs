//! Ledger entries: the history every balance is the sum of.

use chrono::{DateTime, Utc};
use contract::cursor::LedgerPosition;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::Bool;

use super::schema::{group_members, ledger_entries};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = ledger_entries)]
pub struct EntryRow {
    pub id: String,
    pub group_id: String,
    pub user_id: String,
    pub kind: String,
    pub points: i64,
    pub amount_cents: Option<i64>,
    pub store_region: Option<String>,
    pub balance_after: i64,
    pub idempotency_key: String,
    pub created_on: DateTime<Utc>,
}

// None binds NULL rather than writing DEFAULT: the SQL is then the same for every
// entry, so diesel caches the prepared statement (else Postgres parses it every time).
#[derive(Debug, Insertable)]
#[diesel(table_name = ledger_entries, treat_none_as_default_value = false)]
pub struct NewEntryRow<'a> {
    pub id: &'a str,
    pub group_id: &'a str,
    pub user_id: &'a str,
    pub kind: &'a str,
    pub points: i64,
    pub amount_cents: Option<i64>,
    pub store_region: Option<&'a str>,
    pub balance_after: i64,
    pub idempotency_key: &'a str,
}

type Condition = Box<dyn BoxableExpression<ledger_entries::table, Pg, SqlType = Bool>>;

/// Keyset condition for "newest first" pages: `(created_on, id) < (after.created_on, after.id)`.
fn older_than(after: &LedgerPosition) -> Condition {
    Box::new(
        ledger_entries::created_on
            .lt(after.created_on)
            .or(ledger_entries::created_on.eq(after.created_on).and(ledger_entries::id.lt(after.id.clone()))),
    )
}

pub fn insert(conn: &mut PgConnection, row: &NewEntryRow<'_>) -> QueryResult<EntryRow> {
    diesel::insert_into(ledger_entries::table).values(row).returning(EntryRow::as_returning()).get_result(conn)
}

/// Up to `limit` entries matching `scope`, newest first, strictly after `after`.
fn page(
    conn: &mut PgConnection,
    scope: Condition,
    after: Option<&LedgerPosition>,
    limit: i64,
) -> QueryResult<Vec<EntryRow>> {
    let mut query = ledger_entries::table
        .filter(scope)
        .select(EntryRow::as_select())
        .order((ledger_entries::created_on.desc(), ledger_entries::id.desc()))
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(older_than(after));
    }
    query.load(conn)
}

/// A page of one group's entries.
pub fn page_of_group(
    conn: &mut PgConnection,
    group_id: &str,
    after: Option<&LedgerPosition>,
    limit: i64,
) -> QueryResult<Vec<EntryRow>> {
    page(conn, Box::new(ledger_entries::group_id.eq(group_id.to_owned())), after, limit)
}

/// A page of the entries of every group of this region the user is an active member of.
pub fn page_of_member(
    conn: &mut PgConnection,
    user_id: &str,
    after: Option<&LedgerPosition>,
    limit: i64,
) -> QueryResult<Vec<EntryRow>> {
    let groups = group_members::table
        .filter(group_members::user_id.eq(user_id.to_owned()))
        .filter(group_members::active.eq(true))
        .select(group_members::group_id);
    page(conn, Box::new(ledger_entries::group_id.eq_any(groups)), after, limit)
}
