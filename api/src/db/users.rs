//! Users and the derived index of the groups each user belongs to.

use chrono::{DateTime, Utc};
use contract::dto::Role;
use contract::{GroupId, UserId};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::sql_types::{BigInt, Bool, Text};

use super::schema::{user_group_index, users};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: UserId,
    pub email: String,
    pub password_hash: String,
    pub role: Role,
    pub full_name: String,
    pub phone: Option<String>,
    pub location: Option<String>,
    pub age: Option<i32>,
    pub personal_group_id: GroupId,
    pub created_on: DateTime<Utc>,
    pub updated_on: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUserRow<'a> {
    pub id: &'a UserId,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub role: Role,
    pub full_name: &'a str,
    pub phone: Option<&'a str>,
    pub location: Option<&'a str>,
    pub age: Option<i32>,
    pub personal_group_id: &'a GroupId,
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

/// The user of `id`, unless there is none or their account was closed (as every read
/// and change of a user below: a closed account is no one's).
pub fn find(conn: &mut PgConnection, id: &str) -> QueryResult<Option<UserRow>> {
    open_user(id).select(UserRow::as_select()).first(conn).optional()
}

/// The user of `id` while their account is open: where every read and change of a user
/// by id starts.
#[diesel::dsl::auto_type(no_type_alias)]
fn open_user<'a>(id: &'a str) -> _ {
    users::table.find(id).filter(users::erased_on.is_null())
}

/// Whether the account of `id` was closed; `None` when no user of this region has that
/// id. Closed accounts count as users here: the membership index still follows their
/// groups, so the audit's books keep agreeing.
pub fn closed(conn: &mut PgConnection, id: &str) -> QueryResult<Option<bool>> {
    users::table.find(id).select(users::erased_on.is_not_null()).first(conn).optional()
}

/// The user of `id`, locked until the transaction ends, unless their account was closed.
pub fn lock(conn: &mut PgConnection, id: &str) -> QueryResult<Option<UserRow>> {
    open_user(id).select(UserRow::as_select()).for_update().first(conn).optional()
}

/// Closes the account of `id`: erases what identifies its user (email, name, phone,
/// location, age, password hash), keeping the id, its role and personal group, which the
/// ledger and memberships name. The email becomes `erased:{id}`, which no sign-up can
/// take (it has no `@`), so the address itself is free. Whether it was open.
pub fn erase(conn: &mut PgConnection, id: &str) -> QueryResult<bool> {
    let erased = diesel::update(open_user(id))
        .set((
            users::email.eq(format!("erased:{id}")),
            // No Argon2 hash: nothing verifies against it.
            users::password_hash.eq("!"),
            users::full_name.eq(""),
            users::phone.eq(None::<String>),
            users::location.eq(None::<String>),
            users::age.eq(None::<i32>),
            users::erased_on
                .eq(diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>>("now()")),
            users::updated_on.eq(diesel::dsl::now),
        ))
        .execute(conn)?;
    Ok(erased == 1)
}

/// Up to `limit` users whose directory entry has not been announced to every replica
/// yet: (id, email).
pub fn not_yet_replicated(conn: &mut PgConnection, limit: i64) -> QueryResult<Vec<(UserId, String)>> {
    users::table
        .filter(users::directory_replicated.eq(false))
        .select((users::id, users::email))
        .order(users::id)
        .limit(limit)
        .load(conn)
}

pub fn mark_replicated(conn: &mut PgConnection, ids: &[&str]) -> QueryResult<usize> {
    diesel::update(users::table.filter(users::id.eq_any(ids))).set(users::directory_replicated.eq(true)).execute(conn)
}

pub fn find_by_email(conn: &mut PgConnection, email: &str) -> QueryResult<Option<UserRow>> {
    users::table
        .filter(users::email.eq(email))
        .filter(users::erased_on.is_null())
        .select(UserRow::as_select())
        .first(conn)
        .optional()
}

/// Sets a user's role; `Ok(None)` when there is no such user.
pub fn set_role(conn: &mut PgConnection, id: &str, role: &str) -> QueryResult<Option<UserRow>> {
    diesel::update(open_user(id))
        .set((users::role.eq(role), users::updated_on.eq(diesel::dsl::now)))
        .returning(UserRow::as_returning())
        .get_result(conn)
        .optional()
}

/// Sets a user's password hash, only while it is still `expected` when that is given (a
/// change checked against the current password loses to one that landed meanwhile);
/// whether it was set.
pub fn set_password(conn: &mut PgConnection, id: &str, hash: &str, expected: Option<&str>) -> QueryResult<bool> {
    let change = (users::password_hash.eq(hash), users::updated_on.eq(diesel::dsl::now));
    let user = open_user(id);
    let set = match expected {
        Some(old) => diesel::update(user.filter(users::password_hash.eq(old))).set(change).execute(conn)?,
        None => diesel::update(user).set(change).execute(conn)?,
    };
    Ok(set == 1)
}

pub fn update_profile(conn: &mut PgConnection, id: &str, change: &ProfileChange) -> QueryResult<Option<UserRow>> {
    diesel::update(open_user(id))
        .set((change, users::updated_on.eq(diesel::dsl::now)))
        .returning(UserRow::as_returning())
        .get_result(conn)
        .optional()
}

/// Groups (of any region) the index says the user is in, oldest membership first.
pub fn group_ids(conn: &mut PgConnection, user_id: &str) -> QueryResult<Vec<GroupId>> {
    GroupIds { user_id }.load(conn)
}

/// Writes the SELECT of `group_ids`: every statement that reads a user's memberships
/// (here, and inside the read of a user's groups) lists them in this one order.
pub(super) fn push_group_ids<'b>(out: &mut AstPass<'_, 'b, Pg>, user_id: &'b str) -> QueryResult<()> {
    out.push_sql("SELECT i.group_id FROM user_group_index i WHERE i.user_id = ");
    out.push_bind_param::<Text, _>(user_id)?;
    out.push_sql(" AND i.active ORDER BY i.updated_on, i.group_id");
    Ok(())
}

struct GroupIds<'a> {
    user_id: &'a str,
}

impl QueryFragment<Pg> for GroupIds<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        push_group_ids(&mut out, self.user_id)
    }
}

fixed_statement!(GroupIds => Text);

/// Groups the index says `user_id` joined (or joined again) since `since`: the events of
/// joins that committed after the group's region answered a closure's question.
pub fn joined_since(conn: &mut PgConnection, user_id: &str, since: DateTime<Utc>) -> QueryResult<Vec<GroupId>> {
    user_group_index::table
        .filter(user_group_index::user_id.eq(user_id))
        .filter(user_group_index::active.eq(true))
        .filter(user_group_index::updated_on.ge(since))
        .select(user_group_index::group_id)
        .order(user_group_index::group_id)
        .load(conn)
}

/// Writes the row of `id` without changing it, so a serializable transaction that
/// locks it afterwards, having read before this committed (a closure), fails and runs
/// again, and this waits for one that locked it first.
pub fn touch(conn: &mut PgConnection, id: &str) -> QueryResult<()> {
    diesel::update(users::table.find(id)).set(users::id.eq(users::id)).execute(conn)?;
    Ok(())
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
