//! The email directory entries this region owns (see migration 2 for the protocol).

use chrono::{DateTime, Utc};
use contract::{RegionId, UserId};
use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};

use super::schema::{email_directory, erased_users};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = email_directory)]
pub struct EntryRow {
    pub email: String,
    pub home_region: RegionId,
    pub user_id: Option<UserId>,
    pub confirmed: bool,
    pub reservation_id: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
}

impl EntryRow {
    pub fn lease_expired(&self, now: DateTime<Utc>) -> bool {
        self.lease_until.is_none_or(|until| until <= now)
    }
}

pub fn find(conn: &mut PgConnection, email: &str) -> QueryResult<Option<EntryRow>> {
    email_directory::table.find(email).select(EntryRow::as_select()).first(conn).optional()
}

pub fn lock(conn: &mut PgConnection, email: &str) -> QueryResult<Option<EntryRow>> {
    email_directory::table.find(email).select(EntryRow::as_select()).for_update().first(conn).optional()
}

/// Holds `email` for `reservation_id` until now + `lease_secs` (database time).
/// Replaces an existing unconfirmed entry only if it is reservation `replaces`.
pub fn reserve(
    conn: &mut PgConnection,
    email: &str,
    home_region: &str,
    reservation_id: &str,
    lease_secs: i32,
    replaces: Option<&str>,
) -> QueryResult<Option<DateTime<Utc>>> {
    #[derive(QueryableByName)]
    struct Lease {
        #[diesel(sql_type = diesel::sql_types::Timestamptz)]
        lease_until: DateTime<Utc>,
    }
    let lease = diesel::sql_query(
        "INSERT INTO email_directory (email, home_region, reservation_id, lease_until)
         VALUES ($1, $2, $3, now() + make_interval(secs => $4))
         ON CONFLICT (email) DO UPDATE
         SET home_region = EXCLUDED.home_region, reservation_id = EXCLUDED.reservation_id,
             lease_until = EXCLUDED.lease_until, updated_on = now()
         WHERE NOT email_directory.confirmed AND email_directory.reservation_id IS NOT DISTINCT FROM $5
         RETURNING lease_until",
    )
    .bind::<Text, _>(email)
    .bind::<Text, _>(home_region)
    .bind::<Text, _>(reservation_id)
    .bind::<Integer, _>(lease_secs)
    .bind::<diesel::sql_types::Nullable<Text>, _>(replaces)
    .get_result::<Lease>(conn)
    .optional()?;
    Ok(lease.map(|l| l.lease_until))
}

/// What `confirm` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmed {
    /// The entry names the user (now, or already did).
    Yes,
    /// The user's account was closed: their late entry is not recorded. Expected where
    /// a closure overtakes its user's own sign-up event.
    Erased,
    /// Another user holds the email confirmed: two sign-ups disagree.
    Taken,
}

/// Records that `user_id` (homed in `home_region`) has `email`. A confirmed entry is
/// never pointed at another user, nor an entry at a user whose account was closed.
pub fn confirm(conn: &mut PgConnection, email: &str, user_id: &str, home_region: &str) -> QueryResult<Confirmed> {
    let updated = diesel::sql_query(
        "INSERT INTO email_directory (email, home_region, user_id, confirmed)
         SELECT $1, $2, $3, true WHERE NOT EXISTS (SELECT 1 FROM erased_users WHERE user_id = $3)
         ON CONFLICT (email) DO UPDATE
         SET home_region = EXCLUDED.home_region, user_id = EXCLUDED.user_id, confirmed = true,
             reservation_id = NULL, lease_until = NULL, updated_on = now()
         WHERE NOT email_directory.confirmed OR email_directory.user_id = EXCLUDED.user_id",
    )
    .bind::<Text, _>(email)
    .bind::<Text, _>(home_region)
    .bind::<Text, _>(user_id)
    .execute(conn)?;
    if updated == 1 {
        return Ok(Confirmed::Yes);
    }
    let erased = diesel::select(diesel::dsl::exists(erased_users::table.find(user_id))).get_result(conn)?;
    Ok(if erased { Confirmed::Erased } else { Confirmed::Taken })
}

/// Forgets `email`'s entry if it is `user_id`'s, whose account was closed, and refuses
/// that user's confirmations from now on (see `confirm`).
pub fn erase(conn: &mut PgConnection, email: &str, user_id: &str) -> QueryResult<()> {
    diesel::insert_into(erased_users::table)
        .values(erased_users::user_id.eq(user_id))
        .on_conflict_do_nothing()
        .execute(conn)?;
    diesel::delete(email_directory::table.find(email).filter(email_directory::user_id.eq(user_id))).execute(conn)?;
    Ok(())
}

/// Drops an unconfirmed reservation (its sign-up was refused).
pub fn release(conn: &mut PgConnection, email: &str, reservation_id: &str) -> QueryResult<bool> {
    let deleted = diesel::delete(
        email_directory::table
            .filter(email_directory::email.eq(email))
            .filter(email_directory::reservation_id.eq(reservation_id))
            .filter(email_directory::confirmed.eq(false)),
    )
    .execute(conn)?;
    Ok(deleted == 1)
}

pub fn now(conn: &mut PgConnection) -> QueryResult<DateTime<Utc>> {
    diesel::select(diesel::dsl::now.into_sql::<diesel::sql_types::Timestamptz>()).get_result(conn)
}
