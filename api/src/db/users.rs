//! Users and the derived index of the groups each user belongs to.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};

use super::schema::{user_group_index, users};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub password_hash: String,
    pub role: String,
    pub full_name: String,
    pub phone: Option<String>,
    pub location: Option<String>,
    pub age: Option<i32>,
    pub personal_group_id: String,
    pub created_on: DateTime<Utc>,
    pub updated_on: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUserRow<'a> {
    pub id: &'a str,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub role: &'a str,
    pub full_name: &'a str,
    pub phone: Option<&'a str>,
    pub location: Option<&'a str>,
    pub age: Option<i32>,
    pub personal_group_id: &'a str,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = users)]
pub struct ProfileChange {
    pub full_name: Option<String>,
    pub phone: Option<Option<String>>,
    pub location: Option<Option<String>>,
    pub age: Option<Option<i32>>,
}

/// Inserts unless the id is taken; `Ok(false)` means "pick another id". A taken email
/// is a unique violation on `users_email_key`.
pub fn insert(conn: &mut PgConnection, row: &NewUserRow<'_>) -> QueryResult<bool> {
    let inserted = diesel::insert_into(users::table).values(row).on_conflict(users::id).do_nothing().execute(conn)?;
    Ok(inserted == 1)
}

pub fn find(conn: &mut PgConnection, id: &str) -> QueryResult<Option<UserRow>> {
    users::table.find(id).select(UserRow::as_select()).first(conn).optional()
}

pub fn find_by_email(conn: &mut PgConnection, email: &str) -> QueryResult<Option<UserRow>> {
    users::table.filter(users::email.eq(email)).select(UserRow::as_select()).first(conn).optional()
}

pub fn update_profile(conn: &mut PgConnection, id: &str, change: &ProfileChange) -> QueryResult<Option<UserRow>> {
    diesel::update(users::table.find(id))
        .set((change, users::updated_on.eq(diesel::dsl::now)))
        .returning(UserRow::as_returning())
        .get_result(conn)
        .optional()
}

/// Groups (of any region) the index says the user is in, oldest membership first.
pub fn group_ids(conn: &mut PgConnection, user_id: &str) -> QueryResult<Vec<String>> {
    user_group_index::table
        .filter(user_group_index::user_id.eq(user_id))
        .filter(user_group_index::active.eq(true))
        .order((user_group_index::updated_on.asc(), user_group_index::group_id.asc()))
        .select(user_group_index::group_id)
        .load(conn)
}

/// Applies a membership change to the index if it is newer than what the index holds,
/// so duplicated or reordered deliveries converge (last writer by version wins).
pub fn apply_membership(
    conn: &mut PgConnection,
    user_id: &str,
    group_id: &str,
    active: bool,
    version: i64,
) -> QueryResult<()> {
    // ON CONFLICT ... DO UPDATE ... WHERE: diesel's DSL has no WHERE on the update arm.
    diesel::sql_query(
        "INSERT INTO user_group_index (user_id, group_id, active, version) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id, group_id) DO UPDATE
         SET active = EXCLUDED.active, version = EXCLUDED.version, updated_on = now()
         WHERE user_group_index.version < EXCLUDED.version",
    )
    .bind::<Text, _>(user_id)
    .bind::<Text, _>(group_id)
    .bind::<Bool, _>(active)
    .bind::<BigInt, _>(version)
    .execute(conn)?;
    Ok(())
}
