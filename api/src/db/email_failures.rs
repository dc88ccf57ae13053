//! Failed logins of each email, from any address, by the minute (`email_failures`),
//! shared by every instance of the region: the count behind the watch on accounts whose
//! password is being guessed from many addresses (`services::sessions::log_in`).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Bool, Integer, Text};

use super::schema::email_failures;

/// Counts a failed login of `email` in the current minute. A minute over rolls its count
/// into `previous`; two minutes over, nothing is carried.
pub fn count(conn: &mut PgConnection, email: &str) -> QueryResult<usize> {
    diesel::sql_query(
        "INSERT INTO email_failures AS f (email, failures) VALUES ($1, 1)
         ON CONFLICT (email) DO UPDATE SET
             previous = CASE WHEN now() < f.minute_started + interval '1 minute' THEN f.previous
                             WHEN now() < f.minute_started + interval '2 minutes' THEN f.failures
                             ELSE 0 END,
             failures = CASE WHEN now() < f.minute_started + interval '1 minute' THEN f.failures + 1 ELSE 1 END,
             minute_started = CASE WHEN now() < f.minute_started + interval '1 minute' THEN f.minute_started
                                   ELSE now() END",
    )
    .bind::<Text, _>(email)
    .execute(conn)
}

/// Whether `email` saw `threshold` failed logins within this minute or the one before.
pub fn watched(conn: &mut PgConnection, email: &str, threshold: u32) -> QueryResult<bool> {
    #[derive(QueryableByName)]
    struct Watched {
        #[diesel(sql_type = Bool)]
        watched: bool,
    }
    let answer: Watched = diesel::sql_query(
        "SELECT EXISTS (
             SELECT 1 FROM email_failures WHERE email = $1 AND (
                 (now() < minute_started + interval '1 minute' AND greatest(failures, previous) >= $2)
                 OR (now() < minute_started + interval '2 minutes' AND failures >= $2))
         ) AS watched",
    )
    .bind::<Text, _>(email)
    .bind::<Integer, _>(i32::try_from(threshold).unwrap_or(i32::MAX))
    .get_result(conn)?;
    Ok(answer.watched)
}

/// Forgets `email`'s failed logins (its account was closed).
pub fn forget(conn: &mut PgConnection, email: &str) -> QueryResult<usize> {
    diesel::delete(email_failures::table.find(email)).execute(conn)
}

/// Deletes up to `limit` emails whose minute started before `cutoff`; how many.
pub fn purge_older_than(conn: &mut PgConnection, cutoff: DateTime<Utc>, limit: i64) -> QueryResult<usize> {
    super::delete_before(conn, "email_failures", "email", "minute_started", cutoff, limit)
}
