//! Ledger entries: the history every balance is the sum of.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use contract::cursor::LedgerPosition;
use contract::dto::EntryKind;
use contract::{EntryId, GroupId, RegionId, UserId};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::sql_types::{BigInt, Bool, Jsonb, Nullable, Text, Timestamptz};

use super::schema::ledger_entries;
use crate::domain::returns::{LineFigures, ReturnedLine};

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
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
    /// A bill's lines as billed, a return's units taken back per line (`domain::returns`).
    pub lines: Option<serde_json::Value>,
}

impl EntryRow {
    /// A bill's lines as billed; none for a bill from before bills kept them (or whose
    /// lines do not parse: it cannot be returned).
    pub fn line_figures(&self) -> Vec<LineFigures> {
        self.lines_as()
    }

    /// The units of a bill's lines a return took back.
    pub fn returned_lines(&self) -> Vec<ReturnedLine> {
        self.lines_as()
    }

    fn lines_as<T: serde::de::DeserializeOwned>(&self) -> Vec<T> {
        use serde::Deserialize;
        self.lines.as_ref().and_then(|lines| Vec::<T>::deserialize(lines).ok()).unwrap_or_default()
    }
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
    pub lines: Option<&'a serde_json::Value>,
}

/// Writes off the whole balance (`points`) of a closed account's personal group, as the
/// account closes (`groups::write_off` sets the balance to match).
pub fn insert_forfeit(
    conn: &mut PgConnection,
    id: &EntryId,
    group: &str,
    user: &str,
    actor: &str,
    points: i64,
) -> QueryResult<()> {
    diesel::insert_into(ledger_entries::table)
        .values((
            ledger_entries::id.eq(id.as_str()),
            ledger_entries::group_id.eq(group),
            ledger_entries::user_id.eq(user),
            ledger_entries::kind.eq(EntryKind::Forfeit.as_str()),
            ledger_entries::points.eq(-points),
            ledger_entries::balance_after.eq(0),
            // Not a request's key: one closure per account, so one forfeit per group.
            ledger_entries::idempotency_key.eq(format!("closure:{user}")),
            ledger_entries::actor_id.eq(actor),
        ))
        .execute(conn)?;
    Ok(())
}

type Condition = Box<dyn BoxableExpression<ledger_entries::table, Pg, SqlType = Bool>>;

/// Inserts `rows` in their order, so entries of one group get increasing times; each as
/// written (its time is the database's). Only ids and times come back: the rest is what
/// was sent, and returning it (a bill's lines as JSON above all) cost the database more
/// than the insert.
pub fn insert_many(conn: &mut PgConnection, rows: &[NewEntryRow<'_>]) -> QueryResult<Vec<EntryRow>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let entries = InsertEntries {
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
    };
    // A batch of redemptions alone has none of the bill and return columns: it keeps the
    // narrower statement (the wide one's eight arrays of nulls cost it 8 % of its rate).
    let plain = rows.iter().all(|r| r.kind == "redeem" && r.debt_change.is_none());
    let written: Vec<(String, DateTime<Utc>)> = if plain {
        entries.load(conn)?
    } else {
        InsertDetailedEntries {
            entries,
            gross_cents: rows.iter().map(|r| r.gross_cents).collect(),
            discount_cents: rows.iter().map(|r| r.discount_cents).collect(),
            discount_ids: rows.iter().map(|r| r.discount_id).collect(),
            discount_names: rows.iter().map(|r| r.discount_name).collect(),
            offer_ids: rows.iter().map(|r| r.offer_id).collect(),
            bill_ids: rows.iter().map(|r| r.bill_id).collect(),
            debt_changes: rows.iter().map(|r| r.debt_change).collect(),
            lines: rows.iter().map(|r| r.lines).collect(),
        }
        .load(conn)?
    };
    let written: HashMap<String, DateTime<Utc>> = written.into_iter().collect();
    rows.iter().map(|row| as_written(row, &written)).collect()
}

fn parsed<T: std::str::FromStr>(what: &str, text: &str) -> QueryResult<T> {
    text.parse().map_err(|_| diesel::result::Error::DeserializationError(format!("{what} {text:?}").into()))
}

fn as_written(row: &NewEntryRow<'_>, written: &HashMap<String, DateTime<Utc>>) -> QueryResult<EntryRow> {
    let created_on = *written.get(row.id).ok_or_else(|| {
        diesel::result::Error::DeserializationError(format!("ledger entry {} was not returned", row.id).into())
    })?;
    Ok(EntryRow {
        id: parsed("entry id", row.id)?,
        group_id: parsed("group id", row.group_id)?,
        user_id: parsed("user id", row.user_id)?,
        kind: row.kind.parse().map_err(|()| diesel::result::Error::DeserializationError("entry kind".into()))?,
        points: row.points,
        amount_cents: row.amount_cents,
        store_region: row.store_region.map(|r| parsed("region", r)).transpose()?,
        balance_after: row.balance_after,
        idempotency_key: row.idempotency_key.to_owned(),
        created_on,
        actor_id: Some(parsed("actor id", row.actor_id)?),
        gross_cents: row.gross_cents,
        discount_cents: row.discount_cents,
        discount_id: row.discount_id.map(str::to_owned),
        discount_name: row.discount_name.map(str::to_owned),
        offer_id: row.offer_id.map(str::to_owned),
        bill_id: row.bill_id.map(|b| parsed("bill id", b)).transpose()?,
        debt_change: row.debt_change,
        lines: row.lines.cloned(),
    })
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
}

const ENTRY_COLUMNS: &str =
    "id, group_id, user_id, kind, points, amount_cents, store_region, balance_after, idempotency_key, actor_id";

impl InsertEntries<'_> {
    fn walk_columns<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_bind_param::<diesel::sql_types::Array<Text>, _>(&self.ids)?;
        out.push_sql(", ");
        out.push_bind_param::<diesel::sql_types::Array<Text>, _>(&self.group_ids)?;
        out.push_sql(", ");
        out.push_bind_param::<diesel::sql_types::Array<Text>, _>(&self.user_ids)?;
        out.push_sql(", ");
        out.push_bind_param::<diesel::sql_types::Array<Text>, _>(&self.kinds)?;
        out.push_sql(", ");
        out.push_bind_param::<diesel::sql_types::Array<BigInt>, _>(&self.points)?;
        out.push_sql(", ");
        out.push_bind_param::<diesel::sql_types::Array<Nullable<BigInt>>, _>(&self.amounts_cents)?;
        out.push_sql(", ");
        out.push_bind_param::<diesel::sql_types::Array<Nullable<Text>>, _>(&self.store_regions)?;
        out.push_sql(", ");
        out.push_bind_param::<diesel::sql_types::Array<BigInt>, _>(&self.balances_after)?;
        out.push_sql(", ");
        out.push_bind_param::<diesel::sql_types::Array<Text>, _>(&self.idempotency_keys)?;
        out.push_sql(", ");
        out.push_bind_param::<diesel::sql_types::Array<Text>, _>(&self.actor_ids)
    }
}

impl QueryFragment<Pg> for InsertEntries<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("INSERT INTO ledger_entries (");
        out.push_sql(ENTRY_COLUMNS);
        out.push_sql(") SELECT * FROM unnest(");
        self.walk_columns(&mut out)?;
        out.push_sql(") RETURNING id, created_on");
        Ok(())
    }
}

fixed_statement!(InsertEntries => (Text, Timestamptz));

/// The same with the columns of bills and returns (v1.2): a statement of its own shape.
struct InsertDetailedEntries<'a> {
    entries: InsertEntries<'a>,
    gross_cents: Vec<Option<i64>>,
    discount_cents: Vec<Option<i64>>,
    discount_ids: Vec<Option<&'a str>>,
    discount_names: Vec<Option<&'a str>>,
    offer_ids: Vec<Option<&'a str>>,
    bill_ids: Vec<Option<&'a str>>,
    debt_changes: Vec<Option<i64>>,
    lines: Vec<Option<&'a serde_json::Value>>,
}

impl QueryFragment<Pg> for InsertDetailedEntries<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("INSERT INTO ledger_entries (");
        out.push_sql(ENTRY_COLUMNS);
        out.push_sql(
            ", gross_cents, discount_cents, discount_id, discount_name, offer_id, bill_id, debt_change, lines) ",
        );
        out.push_sql("SELECT * FROM unnest(");
        self.entries.walk_columns(&mut out)?;
        out.push_sql(", ");
        out.push_bind_param::<diesel::sql_types::Array<Nullable<BigInt>>, _>(&self.gross_cents)?;
        out.push_sql(", ");
        out.push_bind_param::<diesel::sql_types::Array<Nullable<BigInt>>, _>(&self.discount_cents)?;
        out.push_sql(", ");
        out.push_bind_param::<diesel::sql_types::Array<Nullable<Text>>, _>(&self.discount_ids)?;
        out.push_sql(", ");
        out.push_bind_param::<diesel::sql_types::Array<Nullable<Text>>, _>(&self.discount_names)?;
        out.push_sql(", ");
        out.push_bind_param::<diesel::sql_types::Array<Nullable<Text>>, _>(&self.offer_ids)?;
        out.push_sql(", ");
        out.push_bind_param::<diesel::sql_types::Array<Nullable<Text>>, _>(&self.bill_ids)?;
        out.push_sql(", ");
        out.push_bind_param::<diesel::sql_types::Array<Nullable<BigInt>>, _>(&self.debt_changes)?;
        out.push_sql(", ");
        out.push_bind_param::<diesel::sql_types::Array<Nullable<Jsonb>>, _>(&self.lines)?;
        out.push_sql(") RETURNING id, created_on");
        Ok(())
    }
}

fixed_statement!(InsertDetailedEntries => (Text, Timestamptz));

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
        query = query.filter(super::older_than("ledger_entries", after));
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

/// A page of the entries of every group of this region the user is an active member of,
/// newest first: each group's first `limit` read by its index (`LATERAL`), then merged.
/// As one scan of the ledger joined to the memberships, Postgres read every entry of
/// every such group to sort them: 560 ms a page for a member of a group of 1 000 000
/// entries, 0.9 ms so. Without a position, the page starts after every time kept, so
/// that the statement has one text whichever page is asked.
pub fn page_of_member(
    conn: &mut PgConnection,
    user_id: &str,
    after: Option<&LedgerPosition>,
    limit: i64,
) -> QueryResult<Vec<EntryRow>> {
    const MEMBER_PAGE: &str = "SELECT e.* FROM group_members m CROSS JOIN LATERAL (\
        SELECT * FROM ledger_entries l WHERE l.group_id = m.group_id AND (l.created_on, l.id) < ($2, $3) \
        ORDER BY l.created_on DESC, l.id DESC LIMIT $4) e \
        WHERE m.user_id = $1 AND m.active ORDER BY e.created_on DESC, e.id DESC LIMIT $4";
    let (before, before_id) = match after {
        Some(after) => (after.created_on, after.id.as_str()),
        None => (contract::time::after_all(), ""),
    };
    diesel::sql_query(MEMBER_PAGE)
        .bind::<Text, _>(user_id)
        .bind::<Timestamptz, _>(before)
        .bind::<Text, _>(before_id)
        .bind::<BigInt, _>(limit)
        .load(conn)
}

/// The bills of `ids` (award entries) that belong to `group`s of this region.
pub fn bills(conn: &mut PgConnection, ids: &[&str]) -> QueryResult<Vec<EntryRow>> {
    ledger_entries::table
        .filter(ledger_entries::id.eq_any(ids))
        .filter(ledger_entries::kind.eq("award"))
        .select(EntryRow::as_select())
        .load(conn)
}

/// The returns of `bills`, oldest first (the units each took back are in their lines).
pub fn returns_of(conn: &mut PgConnection, bills: &[&str]) -> QueryResult<Vec<EntryRow>> {
    ledger_entries::table
        .filter(ledger_entries::bill_id.eq_any(bills))
        .filter(ledger_entries::kind.eq("return"))
        .order((ledger_entries::created_on, ledger_entries::id))
        .select(EntryRow::as_select())
        .load(conn)
}
