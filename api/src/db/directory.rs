//! The email directory entries this region owns (see migration 2 for the protocol).

use chrono::{DateTime, Utc};
use contract::{RegionId, UserId};
use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};

use super::schema::email_directory;

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

/// Records that `user_id` (homed in `home_region`) has `email`. A confirmed entry is
/// never pointed at another user; `Ok(false)` reports such a conflict.
pub fn confirm(conn: &mut PgConnection, email: &str, user_id: &str, home_region: &str) -> QueryResult<bool> {
    let updated = diesel::sql_query(
        "INSERT INTO email_directory (email, home_region, user_id, confirmed)
         VALUES ($1, $2, $3, true)
         ON CONFLICT (email) DO UPDATE
         SET home_region = EXCLUDED.home_region, user_id = EXCLUDED.user_id, confirmed = true,
             reservation_id = NULL, lease_until = NULL, updated_on = now()
         WHERE NOT email_directory.confirmed OR email_directory.user_id = EXCLUDED.user_id",
    )
    .bind::<Text, _>(email)
    .bind::<Text, _>(home_region)
    .bind::<Text, _>(user_id)
    .execute(conn)?;
    Ok(updated == 1)
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
