//! Groups, their balances and their authoritative membership.

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Text};

use super::schema::{group_members, groups};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = groups)]
pub struct GroupRow {
    pub id: String,
    pub name: String,
    pub location: String,
    pub points: i64,
    pub personal_of: Option<String>,
    pub created_on: DateTime<Utc>,
    pub updated_on: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = groups)]
pub struct NewGroupRow<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub location: &'a str,
    pub personal_of: Option<&'a str>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = group_members)]
pub struct MemberRow {
    pub group_id: String,
    pub user_id: String,
    pub active: bool,
    pub version: i64,
    pub joined_on: DateTime<Utc>,
}

/// Inserts unless the id is taken; `Ok(false)` means "pick another id".
pub fn insert(conn: &mut PgConnection, row: &NewGroupRow<'_>) -> QueryResult<bool> {
    let inserted = diesel::insert_into(groups::table).values(row).on_conflict(groups::id).do_nothing().execute(conn)?;
    Ok(inserted == 1)
}

pub fn set_personal_of(conn: &mut PgConnection, id: &str, user_id: &str) -> QueryResult<()> {
    diesel::update(groups::table.find(id)).set(groups::personal_of.eq(user_id)).execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut PgConnection, id: &str) -> QueryResult<Option<GroupRow>> {
    groups::table.find(id).select(GroupRow::as_select()).first(conn).optional()
}

/// `SELECT ... FOR UPDATE`: the row lock every points change takes first.
pub fn lock(conn: &mut PgConnection, id: &str) -> QueryResult<Option<GroupRow>> {
    groups::table.find(id).select(GroupRow::as_select()).for_update().first(conn).optional()
}

pub fn set_points(conn: &mut PgConnection, id: &str, points: i64) -> QueryResult<()> {
    SetPoints { id, points }.execute(conn)?;
    Ok(())
}

/// The balance write of every points change, as a statement of its own type so diesel
/// prepares it once per connection: its UPDATE builder never caches, and Postgres would
/// parse and plan the statement on every bill and redemption.
struct SetPoints<'a> {
    id: &'a str,
    points: i64,
}

impl QueryFragment<Pg> for SetPoints<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("UPDATE groups SET points = ");
        out.push_bind_param::<BigInt, _>(&self.points)?;
        out.push_sql(", updated_on = now() WHERE id = ");
        out.push_bind_param::<Text, _>(self.id)?;
        Ok(())
    }
}

impl QueryId for SetPoints<'_> {
    type QueryId = SetPoints<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl RunQueryDsl<PgConnection> for SetPoints<'_> {}

/// Active members, in the order they joined.
pub fn members(conn: &mut PgConnection, group_id: &str) -> QueryResult<Vec<String>> {
    group_members::table
        .filter(group_members::group_id.eq(group_id))
        .filter(group_members::active.eq(true))
        .order((group_members::joined_on.asc(), group_members::user_id.asc()))
        .select(group_members::user_id)
        .load(conn)
}

/// The active members of several groups: (group, user), each group's oldest first.
pub fn members_of(conn: &mut PgConnection, group_ids: &[String]) -> QueryResult<Vec<(String, String)>> {
    group_members::table
        .filter(group_members::group_id.eq_any(group_ids))
        .filter(group_members::active.eq(true))
        .order((group_members::group_id.asc(), group_members::joined_on.asc(), group_members::user_id.asc()))
        .select((group_members::group_id, group_members::user_id))
        .load(conn)
}

pub fn membership(conn: &mut PgConnection, group_id: &str, user_id: &str) -> QueryResult<Option<MemberRow>> {
    group_members::table.find((group_id, user_id)).select(MemberRow::as_select()).first(conn).optional()
}

pub fn is_member(conn: &mut PgConnection, group_id: &str, user_id: &str) -> QueryResult<bool> {
    Ok(membership(conn, group_id, user_id)?.is_some_and(|m| m.active))
}

/// Writes a membership's new state with the next version; returns that version.
pub fn set_membership(
    conn: &mut PgConnection,
    group_id: &str,
    user_id: &str,
    active: bool,
    previous: Option<&MemberRow>,
) -> QueryResult<MemberRow> {
    match previous {
        None => diesel::insert_into(group_members::table)
            .values((
                group_members::group_id.eq(group_id),
                group_members::user_id.eq(user_id),
                group_members::active.eq(active),
                group_members::version.eq(1),
            ))
            .returning(MemberRow::as_returning())
            .get_result(conn),
        Some(prev) => {
            let rejoined = active && !prev.active;
            let query = diesel::update(group_members::table.find((group_id, user_id)));
            if rejoined {
                query
                    .set((
                        group_members::active.eq(active),
                        group_members::version.eq(prev.version + 1),
                        group_members::joined_on.eq(diesel::dsl::now),
                        group_members::updated_on.eq(diesel::dsl::now),
                    ))
                    .returning(MemberRow::as_returning())
                    .get_result(conn)
            } else {
                query
                    .set((
                        group_members::active.eq(active),
                        group_members::version.eq(prev.version + 1),
                        group_members::updated_on.eq(diesel::dsl::now),
                    ))
                    .returning(MemberRow::as_returning())
                    .get_result(conn)
            }
        }
    }
}

/// Groups of this region the user is an active member of.
pub fn of_member(conn: &mut PgConnection, user_id: &str) -> QueryResult<Vec<GroupRow>> {
    groups::table
        .inner_join(group_members::table)
        .filter(group_members::user_id.eq(user_id))
        .filter(group_members::active.eq(true))
        .order((group_members::joined_on.asc(), groups::id.asc()))
        .select(GroupRow::as_select())
        .load(conn)
}
