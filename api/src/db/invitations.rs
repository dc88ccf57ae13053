//! Invitations to join a group, kept in the group's region. Only a code's hash is
//! stored; a code is found by its hash and used at most once.

use chrono::{DateTime, Utc};
use contract::cursor::LedgerPosition;
use contract::{GroupId, InvitationId, UserId};
use diesel::prelude::*;

use super::schema::invitations;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = invitations)]
pub struct InvitationRow {
    pub id: InvitationId,
    pub group_id: GroupId,
    pub can_redeem: bool,
    pub user_id: Option<UserId>,
    pub expires_at: DateTime<Utc>,
    pub used_by: Option<UserId>,
    pub used_on: Option<DateTime<Utc>>,
    pub revoked_on: Option<DateTime<Utc>>,
    pub created_on: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = invitations)]
pub struct NewInvitationRow<'a> {
    pub id: &'a InvitationId,
    pub group_id: &'a GroupId,
    pub code_hash: &'a str,
    pub can_redeem: bool,
    pub user_id: Option<&'a UserId>,
    pub created_by: &'a UserId,
    pub expires_at: DateTime<Utc>,
}

/// Inserts unless the id is taken (`Ok(None)`: pick another id).
pub fn insert(conn: &mut PgConnection, row: &NewInvitationRow<'_>) -> QueryResult<Option<InvitationRow>> {
    diesel::insert_into(invitations::table)
        .values(row)
        .on_conflict(invitations::id)
        .do_nothing()
        .returning(InvitationRow::as_returning())
        .get_result(conn)
        .optional()
}

pub fn find_by_hash(conn: &mut PgConnection, code_hash: &str) -> QueryResult<Option<InvitationRow>> {
    invitations::table
        .filter(invitations::code_hash.eq(code_hash))
        .select(InvitationRow::as_select())
        .first(conn)
        .optional()
}

/// The invitation with this code's hash, locked until the transaction ends.
pub fn lock_by_hash(conn: &mut PgConnection, code_hash: &str) -> QueryResult<Option<InvitationRow>> {
    invitations::table
        .filter(invitations::code_hash.eq(code_hash))
        .select(InvitationRow::as_select())
        .for_update()
        .first(conn)
        .optional()
}

/// Marks it used by `user_id`, if it is still open; answers whether it was.
pub fn mark_used(conn: &mut PgConnection, id: &str, user_id: &str) -> QueryResult<bool> {
    let updated = diesel::update(
        invitations::table
            .find(id)
            .filter(invitations::used_by.is_null())
            .filter(invitations::revoked_on.is_null())
            .filter(invitations::expires_at.gt(diesel::dsl::now)),
    )
    .set((invitations::used_by.eq(user_id), invitations::used_on.eq(diesel::dsl::now)))
    .execute(conn)?;
    Ok(updated == 1)
}

/// Revokes an invitation of `group_id` (revoking twice, or a used one, changes nothing
/// but the first revocation stays). `Ok(false)`: the group has no such invitation.
pub fn revoke(conn: &mut PgConnection, group_id: &str, id: &str) -> QueryResult<bool> {
    let found =
        diesel::update(invitations::table.find(id).filter(invitations::group_id.eq(group_id)))
            .set(invitations::revoked_on.eq(diesel::dsl::sql::<
                diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
            >("coalesce(revoked_on, now())")))
            .execute(conn)?;
    Ok(found == 1)
}

pub fn count_of_group(conn: &mut PgConnection, group_id: &str) -> QueryResult<i64> {
    invitations::table.filter(invitations::group_id.eq(group_id)).count().get_result(conn)
}

/// Deletes up to `limit` invitations that stopped opening their group (used, revoked or
/// expired, whichever came first) before `cutoff`; how many.
pub fn purge_closed_before(conn: &mut PgConnection, cutoff: DateTime<Utc>, limit: i64) -> QueryResult<usize> {
    super::delete_before(conn, "invitations", "id", "least(used_on, revoked_on, expires_at)", cutoff, limit)
}

/// Up to `limit` invitations of a group, newest first, strictly after `after`.
pub fn page_of_group(
    conn: &mut PgConnection,
    group_id: &str,
    after: Option<&LedgerPosition>,
    limit: i64,
) -> QueryResult<Vec<InvitationRow>> {
    let mut query = invitations::table
        .filter(invitations::group_id.eq(group_id.to_owned()))
        .select(InvitationRow::as_select())
        .order((invitations::created_on.desc(), invitations::id.desc()))
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(super::older_than("invitations", after));
    }
    query.load(conn)
}
