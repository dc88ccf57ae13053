//! Groups, their balances and their authoritative membership.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::sql_types::{Array, BigInt, Text};

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

/// `SELECT ... FOR UPDATE` of every group a batch of points changes touches, taken first
/// and in id order, so two batches sharing groups queue on them instead of deadlocking.
pub fn lock_many(conn: &mut PgConnection, ids: &[&str]) -> QueryResult<Vec<GroupRow>> {
    groups::table
        .filter(groups::id.eq_any(ids))
        .order(groups::id.asc())
        .select(GroupRow::as_select())
        .for_update()
        .load(conn)
}

/// Writes the balances of a batch of points changes: (group, new balance).
pub fn set_points_many(conn: &mut PgConnection, balances: &[(&str, i64)]) -> QueryResult<()> {
    let (ids, points): (Vec<&str>, Vec<i64>) = balances.iter().copied().unzip();
    SetPoints { ids: &ids, points: &points }.execute(conn)?;
    Ok(())
}

/// The balance write of every points batch: one statement for any number of groups.
/// `groups.id = ANY(ids)` is there for the planner: a prepared statement soon runs a
/// generic plan, and for the join alone that plan reads `groups` with a sequential scan
/// (it guesses ten rows from `unnest`). Under SERIALIZABLE a sequential scan locks the
/// whole relation for reading, so every two batches in flight conflicted and one was
/// aborted as a pivot, over and over; with the condition the plan is an index scan.
struct SetPoints<'a> {
    ids: &'a [&'a str],
    points: &'a [i64],
}

impl QueryFragment<Pg> for SetPoints<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("UPDATE groups SET points = u.points, updated_on = now() FROM unnest(");
        out.push_bind_param::<Array<Text>, _>(self.ids)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<BigInt>, _>(self.points)?;
        out.push_sql(") AS u(id, points) WHERE groups.id = ANY(");
        out.push_bind_param::<Array<Text>, _>(self.ids)?;
        out.push_sql(") AND groups.id = u.id");
        Ok(())
    }
}

fixed_statement!(SetPoints);

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

/// Which of `pairs` (group, user) are active memberships.
pub fn active_among(conn: &mut PgConnection, pairs: &[(&str, &str)]) -> QueryResult<HashSet<(String, String)>> {
    let (group_ids, user_ids): (Vec<&str>, Vec<&str>) = pairs.iter().copied().unzip();
    let found: Vec<(String, String)> = ActiveAmong { group_ids: &group_ids, user_ids: &user_ids }.load(conn)?;
    Ok(found.into_iter().collect())
}

/// Each pair looked up by the primary key, whatever the list's length.
struct ActiveAmong<'a> {
    group_ids: &'a [&'a str],
    user_ids: &'a [&'a str],
}

impl QueryFragment<Pg> for ActiveAmong<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("SELECT m.group_id, m.user_id FROM unnest(");
        out.push_bind_param::<Array<Text>, _>(self.group_ids)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(self.user_ids)?;
        out.push_sql(
            ") AS p(group_id, user_id) JOIN group_members m ON m.group_id = p.group_id AND m.user_id = p.user_id",
        );
        out.push_sql(" WHERE m.active");
        Ok(())
    }
}

fixed_statement!(ActiveAmong => (Text, Text));

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
