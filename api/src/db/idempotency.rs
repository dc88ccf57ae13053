//! Idempotency records: the remembered response of each (caller, key).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::sql_types::{Jsonb, SmallInt, Text, Timestamptz};

use super::schema::idempotency_records;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = idempotency_records)]
pub struct RecordRow {
    pub fingerprint: String,
    pub response_status: i16,
    pub response_body: serde_json::Value,
    pub created_on: DateTime<Utc>,
}

#[derive(Debug)]
pub struct NewRecordRow<'a> {
    pub caller_id: &'a str,
    pub key: &'a str,
    pub fingerprint: &'a str,
    pub response_status: i16,
    pub response_body: &'a serde_json::Value,
}

/// The records of `keys` (caller, key) that exist, by (caller, key).
pub fn find_many(conn: &mut PgConnection, keys: &[(&str, &str)]) -> QueryResult<HashMap<(String, String), RecordRow>> {
    let (callers, names): (Vec<&str>, Vec<&str>) = keys.iter().copied().unzip();
    let found: Vec<(String, String, RecordRow)> = FindRecords { callers: &callers, keys: &names }.load(conn)?;
    Ok(found.into_iter().map(|(caller, key, record)| ((caller, key), record)).collect())
}

/// Each (caller, key) looked up by the primary key, whatever the list's length (the
/// `LATERAL ... LIMIT 1`: as a join, the plan made while the table was small, a
/// sequential scan, was kept while the table grew).
struct FindRecords<'a> {
    callers: &'a [&'a str],
    keys: &'a [&'a str],
}

impl QueryFragment<Pg> for FindRecords<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("SELECT r.caller_id, r.key, r.fingerprint, r.response_status, r.response_body, r.created_on");
        out.push_sql(" FROM ");
        unnest!(out; Text => self.callers, Text => self.keys);
        out.push_sql(" AS k(caller_id, key) CROSS JOIN LATERAL (SELECT * FROM idempotency_records r ");
        out.push_sql("WHERE r.caller_id = k.caller_id AND r.key = k.key LIMIT 1) r");
        Ok(())
    }
}

fixed_statement!(FindRecords => (Text, Text, (Text, SmallInt, Jsonb, Timestamptz)));

/// Fails with a unique violation when a concurrent duplicate committed first.
pub fn insert_many(conn: &mut PgConnection, rows: &[NewRecordRow<'_>]) -> QueryResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    InsertRecords {
        caller_ids: rows.iter().map(|r| r.caller_id).collect(),
        keys: rows.iter().map(|r| r.key).collect(),
        fingerprints: rows.iter().map(|r| r.fingerprint).collect(),
        statuses: rows.iter().map(|r| r.response_status).collect(),
        bodies: rows.iter().map(|r| r.response_body).collect(),
    }
    .execute(conn)?;
    Ok(())
}

/// All of a batch's records in one statement of one prepared shape, a column per array.
struct InsertRecords<'a> {
    caller_ids: Vec<&'a str>,
    keys: Vec<&'a str>,
    fingerprints: Vec<&'a str>,
    statuses: Vec<i16>,
    bodies: Vec<&'a serde_json::Value>,
}

impl QueryFragment<Pg> for InsertRecords<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("INSERT INTO idempotency_records (caller_id, key, fingerprint, response_status, response_body)");
        out.push_sql(" SELECT * FROM ");
        unnest!(
            out;
            Text => &self.caller_ids,
            Text => &self.keys,
            Text => &self.fingerprints,
            SmallInt => &self.statuses,
            Jsonb => &self.bodies,
        );
        Ok(())
    }
}

fixed_statement!(InsertRecords);

/// Deletes up to `limit` records older than `cutoff` (by the age index); how many.
pub fn purge_older_than(conn: &mut PgConnection, cutoff: DateTime<Utc>, limit: i64) -> QueryResult<usize> {
    super::delete_before(conn, "idempotency_records", "caller_id, key", "created_on", cutoff, limit)
}
