//! The token denylist of this region's users (`token_revocations`).

use chrono::{DateTime, Utc};
use contract::internal::Revocation;
use diesel::dsl::now;
use diesel::prelude::*;
use diesel::sql_types::Bool;

use super::schema::token_revocations;

/// A row older than 30 s can have no row with a lower `seq` still uncommitted: every
/// transaction that writes one ends within the database deadline (8 s by default).
const SETTLED: &str = "created_on < now() - interval '30 seconds'";

#[derive(Insertable)]
#[diesel(table_name = token_revocations)]
pub struct NewRevocation<'a> {
    pub user_id: &'a str,
    pub jti: Option<&'a str>,
    pub not_before: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
}

pub fn insert(conn: &mut PgConnection, revocation: &NewRevocation<'_>) -> QueryResult<i64> {
    diesel::insert_into(token_revocations::table).values(revocation).returning(token_revocations::seq).get_result(conn)
}

/// Unexpired rows after `seq`, in order, at most `limit`.
pub fn after(conn: &mut PgConnection, seq: i64, limit: i64) -> QueryResult<Vec<Revocation>> {
    token_revocations::table
        .filter(token_revocations::seq.gt(seq))
        .filter(token_revocations::expires_at.gt(now))
        .order(token_revocations::seq)
        .limit(limit)
        .select((
            token_revocations::seq,
            token_revocations::user_id,
            token_revocations::jti,
            token_revocations::not_before,
            token_revocations::expires_at,
            // The database's clock, which wrote `created_on`.
            diesel::dsl::sql::<Bool>(SETTLED),
        ))
        .load(conn)
}

/// Deletes up to `limit` rows whose tokens have all expired.
pub fn purge_expired(conn: &mut PgConnection, limit: i64) -> QueryResult<usize> {
    let expired = token_revocations::table
        .filter(token_revocations::expires_at.lt(now))
        .select(token_revocations::seq)
        .limit(limit);
    let seqs: Vec<i64> = expired.load(conn)?;
    diesel::delete(token_revocations::table.filter(token_revocations::seq.eq_any(seqs))).execute(conn)
}
