//! Events for other regions, written in the same transaction as the change they announce
//! and drained by the relay (`services::relay`), which retries until acknowledged.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Integer, Text};

use super::schema::outbox;

#[derive(Debug, Clone, QueryableByName)]
pub struct PendingRow {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub destination_region: String,
    #[diesel(sql_type = diesel::sql_types::Jsonb)]
    pub payload: serde_json::Value,
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    pub created_on: DateTime<Utc>,
}

pub fn enqueue(
    conn: &mut PgConnection,
    destination_region: &str,
    kind: &str,
    payload: &serde_json::Value,
) -> QueryResult<()> {
    diesel::insert_into(outbox::table)
        .values((outbox::destination_region.eq(destination_region), outbox::kind.eq(kind), outbox::payload.eq(payload)))
        .execute(conn)?;
    Ok(())
}

/// Claims up to `limit` due events for `destination` for `lease_secs`: other relays skip
/// them meanwhile, and if this one dies they come due again.
pub fn claim_due(
    conn: &mut PgConnection,
    destination: &str,
    limit: i64,
    lease_secs: i32,
) -> QueryResult<Vec<PendingRow>> {
    diesel::sql_query(
        "UPDATE outbox SET next_attempt_at = now() + make_interval(secs => $2), attempts = attempts + 1
         WHERE id IN (SELECT id FROM outbox
                      WHERE delivered_on IS NULL AND next_attempt_at <= now() AND destination_region = $3
                      ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
         RETURNING id, destination_region, payload, attempts, created_on",
    )
    .bind::<BigInt, _>(limit)
    .bind::<Integer, _>(lease_secs)
    .bind::<Text, _>(destination)
    .load(conn)
}

pub fn mark_delivered(conn: &mut PgConnection, ids: &[i64]) -> QueryResult<usize> {
    diesel::sql_query("UPDATE outbox SET delivered_on = now() WHERE id = ANY($1)")
        .bind::<Array<BigInt>, _>(ids)
        .execute(conn)
}

/// Deletes up to `limit` events delivered before `cutoff`; how many.
pub fn purge_delivered_before(conn: &mut PgConnection, cutoff: DateTime<Utc>, limit: i64) -> QueryResult<usize> {
    super::delete_before(conn, "outbox", "id", "delivered_on", cutoff, limit)
}

/// Schedules another attempt after `delay_ms`.
pub fn retry_later(conn: &mut PgConnection, ids: &[i64], delay_ms: i32) -> QueryResult<usize> {
    diesel::sql_query(
        "UPDATE outbox SET next_attempt_at = now() + make_interval(secs => $2::float8 / 1000) WHERE id = ANY($1)",
    )
    .bind::<Array<BigInt>, _>(ids)
    .bind::<Integer, _>(delay_ms)
    .execute(conn)
}

/// Undelivered events and the age in seconds of the oldest.
pub fn backlog(conn: &mut PgConnection) -> QueryResult<(i64, f64)> {
    #[derive(QueryableByName)]
    struct Backlog {
        #[diesel(sql_type = BigInt)]
        pending: i64,
        #[diesel(sql_type = diesel::sql_types::Double)]
        oldest: f64,
    }
    let b: Backlog = diesel::sql_query(
        "SELECT count(*) AS pending, coalesce(extract(epoch FROM now() - min(created_on))::float8, 0) AS oldest
         FROM outbox WHERE delivered_on IS NULL",
    )
    .get_result(conn)?;
    Ok((b.pending, b.oldest))
}
