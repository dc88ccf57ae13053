//! Idempotency records: the remembered response of each (caller, key).

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::idempotency_records;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = idempotency_records)]
pub struct RecordRow {
    pub fingerprint: String,
    pub response_status: i16,
    pub response_body: serde_json::Value,
    pub created_on: DateTime<Utc>,
}

pub fn find(conn: &mut PgConnection, caller_id: &str, key: &str) -> QueryResult<Option<RecordRow>> {
    idempotency_records::table.find((caller_id, key)).select(RecordRow::as_select()).first(conn).optional()
}

/// Fails with a unique violation when a concurrent duplicate committed first.
pub fn insert(
    conn: &mut PgConnection,
    caller_id: &str,
    key: &str,
    fingerprint: &str,
    status: i16,
    body: &serde_json::Value,
) -> QueryResult<()> {
    diesel::insert_into(idempotency_records::table)
        .values((
            idempotency_records::caller_id.eq(caller_id),
            idempotency_records::key.eq(key),
            idempotency_records::fingerprint.eq(fingerprint),
            idempotency_records::response_status.eq(status),
            idempotency_records::response_body.eq(body),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn purge_older_than(conn: &mut PgConnection, cutoff: DateTime<Utc>) -> QueryResult<usize> {
    diesel::delete(idempotency_records::table.filter(idempotency_records::created_on.lt(cutoff))).execute(conn)
}
