//! Ledger entries: the history every balance is the sum of.

use chrono::{DateTime, Utc};
use contract::cursor::LedgerPosition;
use contract::dto::EntryKind;
use contract::{EntryId, GroupId, RegionId, UserId};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamptz};

use super::schema::{group_members, ledger_entries};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = ledger_entries)]
pub struct EntryRow {
    pub id: EntryId,
    pub group_id: GroupId,
    pub user_id: UserId,
    pub kind: EntryKind,
    pub points: i64,
    pub amount_cents: Option<i64>,
    pub store_region: Option<RegionId>,
    pub balance_after: i64,
    pub idempotency_key: String,
    pub created_on: DateTime<Utc>,
    /// Who billed or redeemed; unknown (null) only for some entries older than v1.1.
    pub actor_id: Option<UserId>,
    /// A bill's total before its discount, and the discount it applied (v1.2; null for
    /// older bills, which had none).
    pub gross_cents: Option<i64>,
    pub discount_cents: Option<i64>,
    pub discount_id: Option<String>,
    pub discount_name: Option<String>,
    /// The offer through which the discount applied.
    pub offer_id: Option<String>,
    /// A return's bill.
    pub bill_id: Option<EntryId>,
    /// How the entry changed the group's debt (+ a return's shortfall, - paid by an award).
    pub debt_change: Option<i64>,
}

/// A ledger entry to write; its time is the database's, taken as it is inserted.
#[derive(Debug)]
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
    pub actor_id: &'a str,
    pub gross_cents: Option<i64>,
    pub discount_cents: Option<i64>,
    pub discount_id: Option<&'a str>,
    pub discount_name: Option<&'a str>,
    pub offer_id: Option<&'a str>,
    pub bill_id: Option<&'a str>,
    pub debt_change: Option<i64>,
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

/// Inserts `rows` in their order, so entries of one group get increasing times.
pub fn insert_many(conn: &mut PgConnection, rows: &[NewEntryRow<'_>]) -> QueryResult<Vec<EntryRow>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    InsertEntries {
        ids: rows.iter().map(|r| r.id).collect(),
        group_ids: rows.iter().map(|r| r.group_id).collect(),
        user_ids: rows.iter().map(|r| r.user_id).collect(),
        kinds: rows.iter().map(|r| r.kind).collect(),
        points: rows.iter().map(|r| r.points).collect(),
        amounts_cents: rows.iter().map(|r| r.amount_cents).collect(),
        store_regions: rows.iter().map(|r| r.store_region).collect(),
        balances_after: rows.iter().map(|r| r.balance_after).collect(),
        idempotency_keys: rows.iter().map(|r| r.idempotency_key).collect(),
        actor_ids: rows.iter().map(|r| r.actor_id).collect(),
        gross_cents: rows.iter().map(|r| r.gross_cents).collect(),
        discount_cents: rows.iter().map(|r| r.discount_cents).collect(),
        discount_ids: rows.iter().map(|r| r.discount_id).collect(),
        discount_names: rows.iter().map(|r| r.discount_name).collect(),
        offer_ids: rows.iter().map(|r| r.offer_id).collect(),
        bill_ids: rows.iter().map(|r| r.bill_id).collect(),
        debt_changes: rows.iter().map(|r| r.debt_change).collect(),
    }
    .load(conn)
}

/// All of a batch's entries in one statement of one prepared shape, a column per array;
/// `unnest` yields them in order, and each row's `created_on` default is taken as it is
/// inserted.
struct InsertEntries<'a> {
    ids: Vec<&'a str>,
    group_ids: Vec<&'a str>,
    user_ids: Vec<&'a str>,
    kinds: Vec<&'a str>,
    points: Vec<i64>,
    amounts_cents: Vec<Option<i64>>,
    store_regions: Vec<Option<&'a str>>,
    balances_after: Vec<i64>,
    idempotency_keys: Vec<&'a str>,
    actor_ids: Vec<&'a str>,
    gross_cents: Vec<Option<i64>>,
    discount_cents: Vec<Option<i64>>,
    discount_ids: Vec<Option<&'a str>>,
    discount_names: Vec<Option<&'a str>>,
    offer_ids: Vec<Option<&'a str>>,
    bill_ids: Vec<Option<&'a str>>,
    debt_changes: Vec<Option<i64>>,
}

impl QueryFragment<Pg> for InsertEntries<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("INSERT INTO ledger_entries (id, group_id, user_id, kind, points, amount_cents, store_region, ");
        out.push_sql(
            "balance_after, idempotency_key, actor_id, gross_cents, discount_cents, discount_id, discount_name, ",
        );
        out.push_sql("offer_id, bill_id, debt_change) ");
        out.push_sql("SELECT * FROM ");
        unnest!(
            out;
            Text => &self.ids,
            Text => &self.group_ids,
            Text => &self.user_ids,
            Text => &self.kinds,
            BigInt => &self.points,
            Nullable<BigInt> => &self.amounts_cents,
            Nullable<Text> => &self.store_regions,
            BigInt => &self.balances_after,
            Text => &self.idempotency_keys,
            Text => &self.actor_ids,
            Nullable<BigInt> => &self.gross_cents,
            Nullable<BigInt> => &self.discount_cents,
            Nullable<Text> => &self.discount_ids,
            Nullable<Text> => &self.discount_names,
            Nullable<Text> => &self.offer_ids,
            Nullable<Text> => &self.bill_ids,
            Nullable<BigInt> => &self.debt_changes,
        );
        out.push_sql(" RETURNING id, group_id, user_id, kind, points, amount_cents, store_region, balance_after, ");
        out.push_sql(
            "idempotency_key, created_on, actor_id, gross_cents, discount_cents, discount_id, discount_name, ",
        );
        out.push_sql("offer_id, bill_id, debt_change");
        Ok(())
    }
}

fixed_statement!(
    InsertEntries
        => (
            Text, Text, Text, Text, BigInt, Nullable<BigInt>, Nullable<Text>, BigInt, Text, Timestamptz, Nullable<Text>,
            Nullable<BigInt>, Nullable<BigInt>, Nullable<Text>, Nullable<Text>, Nullable<Text>, Nullable<Text>,
            Nullable<BigInt>,
        )
);

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

/// The bills of `ids` (award entries) that belong to `group`s of this region.
pub fn bills(conn: &mut PgConnection, ids: &[&str]) -> QueryResult<Vec<EntryRow>> {
    ledger_entries::table
        .filter(ledger_entries::id.eq_any(ids))
        .filter(ledger_entries::kind.eq("award"))
        .select(EntryRow::as_select())
        .load(conn)
}
