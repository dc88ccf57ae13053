//! Failed attempts of one subject (`lockouts`), shared by every instance of the region:
//! how many, and until when the subject is refused. The policy (how many failures lock,
//! for how long) is `auth::Lockout`'s; the times are the database's clock, so instances
//! whose clocks differ still agree.

use chrono::{DateTime, Utc};
use diesel::dsl::{now, sql};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Integer, Text};

use super::schema::lockouts;

/// Whole seconds until `subject` may try again, while it is locked out.
pub fn locked_for(conn: &mut PgConnection, kind: &str, subject: &str) -> QueryResult<Option<u64>> {
    let seconds: Option<i64> = lockouts::table
        .find((kind, subject))
        .filter(lockouts::locked_until.gt(now))
        .select(sql::<BigInt>("greatest(ceil(extract(epoch FROM locked_until - now())), 1)::bigint"))
        .first(conn)
        .optional()?;
    Ok(seconds.map(|s| s.unsigned_abs()))
}

/// Counts an attempt of `subject` as a failure (until `clear` says it succeeded), unless
/// the subject is locked out: its failures so far, or `None` while locked. Attempts at
/// once queue on the row, so one that would lock the subject does so (in its transaction)
/// before the next is counted.
pub fn attempt(conn: &mut PgConnection, kind: &str, subject: &str, forget_after_secs: f64) -> QueryResult<Option<u32>> {
    #[derive(QueryableByName)]
    struct Counted {
        #[diesel(sql_type = Integer)]
        failures: i32,
    }
    let counted: Option<Counted> = diesel::sql_query(
        "INSERT INTO lockouts AS l (kind, subject, failures) VALUES ($1, $2, 1)
         ON CONFLICT (kind, subject) DO UPDATE SET
             failures = CASE WHEN l.last_failure < now() - make_interval(secs => $3) THEN 1
                             ELSE l.failures + 1 END,
             last_failure = now()
         WHERE l.locked_until IS NULL OR l.locked_until <= now()
         RETURNING failures",
    )
    .bind::<Text, _>(kind)
    .bind::<Text, _>(subject)
    .bind::<Double, _>(forget_after_secs)
    .get_result(conn)
    .optional()?;
    Ok(counted.map(|c| c.failures.unsigned_abs()))
}

/// Takes back one of `subject`'s counted attempts (it turned out not to be a failure):
/// the failures left, or `None` when none were counted.
pub fn give_back(conn: &mut PgConnection, kind: &str, subject: &str) -> QueryResult<Option<u32>> {
    let left: Option<i32> = diesel::update(lockouts::table.find((kind, subject)))
        .filter(lockouts::failures.gt(0))
        .set(lockouts::failures.eq(lockouts::failures - 1))
        .returning(lockouts::failures)
        .get_result(conn)
        .optional()?;
    Ok(left.map(i32::unsigned_abs))
}

/// Lifts `subject`'s lock, whatever its failures.
pub fn unlock(conn: &mut PgConnection, kind: &str, subject: &str) -> QueryResult<usize> {
    diesel::update(lockouts::table.find((kind, subject)))
        .set(lockouts::locked_until.eq(None::<DateTime<Utc>>))
        .execute(conn)
}

/// Refuses `subject` for `seconds` from now, or longer if it already is: two failures
/// counted at once on two instances each lock, and the longer lock stands.
pub fn lock(conn: &mut PgConnection, kind: &str, subject: &str, seconds: f64) -> QueryResult<usize> {
    diesel::sql_query(
        "UPDATE lockouts SET locked_until = greatest(locked_until, now() + make_interval(secs => $3))
         WHERE kind = $1 AND subject = $2",
    )
    .bind::<Text, _>(kind)
    .bind::<Text, _>(subject)
    .bind::<Double, _>(seconds)
    .execute(conn)
}

/// Forgets `subject`'s failures (it succeeded).
pub fn clear(conn: &mut PgConnection, kind: &str, subject: &str) -> QueryResult<usize> {
    diesel::delete(lockouts::table.find((kind, subject))).execute(conn)
}

/// Forgets every subject that names the user of `user_id` and `email`: their logins'
/// (email, address) pairs and their own attempts (their account was closed).
pub fn forget_user(conn: &mut PgConnection, email: &str, user_id: &str) -> QueryResult<usize> {
    diesel::sql_query(
        "DELETE FROM lockouts WHERE subject = $2 OR (kind = 'login' AND left(subject, length($1) + 1) = $1 || ' ')",
    )
    .bind::<Text, _>(email)
    .bind::<Text, _>(user_id)
    .execute(conn)
}

/// Deletes up to `limit` subjects whose last failure is before `cutoff`; how many.
pub fn purge_older_than(conn: &mut PgConnection, cutoff: DateTime<Utc>, limit: i64) -> QueryResult<usize> {
    super::delete_before(conn, "lockouts", "kind, subject", "last_failure", cutoff, limit)
}
