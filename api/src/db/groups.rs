//! Groups, their balances and their authoritative membership.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use contract::{GroupId, UserId};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::sql_types::{Array, BigInt, Bool, Nullable, Text, Timestamptz};

use super::schema::{group_members, groups};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = groups)]
pub struct GroupRow {
    pub id: GroupId,
    pub name: String,
    pub location: String,
    pub points: i64,
    pub personal_of: Option<UserId>,
    pub owner_id: UserId,
    pub created_on: DateTime<Utc>,
    pub updated_on: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = groups)]
pub struct NewGroupRow<'a> {
    pub id: &'a GroupId,
    pub name: &'a str,
    pub location: &'a str,
    pub personal_of: Option<&'a UserId>,
    /// Text, not a `UserId`: a personal group is made before its user (whose row names
    /// it), with an empty owner that `set_personal_of` replaces in the same transaction.
    pub owner_id: &'a str,
}

/// A change to a group's own columns; `None` leaves a column as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = groups)]
pub struct GroupChange {
    pub name: Option<String>,
    pub location: Option<String>,
    pub owner_id: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = group_members)]
pub struct MemberRow {
    pub group_id: GroupId,
    pub user_id: UserId,
    pub active: bool,
    pub version: i64,
    pub joined_on: DateTime<Utc>,
    pub can_redeem: bool,
}

/// An active member as a group read lists it.
#[derive(Debug, Clone)]
pub struct ActiveMember {
    pub user_id: UserId,
    pub can_redeem: bool,
    pub joined_on: DateTime<Utc>,
}

/// Inserts unless the id is taken; `Ok(false)` means "pick another id".
pub fn insert(conn: &mut PgConnection, row: &NewGroupRow<'_>) -> QueryResult<bool> {
    let inserted = diesel::insert_into(groups::table).values(row).on_conflict(groups::id).do_nothing().execute(conn)?;
    Ok(inserted == 1)
}

/// Makes the group `user_id`'s personal group, and so theirs for good.
pub fn set_personal_of(conn: &mut PgConnection, id: &str, user_id: &str) -> QueryResult<()> {
    diesel::update(groups::table.find(id))
        .set((groups::personal_of.eq(user_id), groups::owner_id.eq(user_id)))
        .execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut PgConnection, id: &str) -> QueryResult<Option<GroupRow>> {
    groups::table.find(id).select(GroupRow::as_select()).first(conn).optional()
}

/// The group row, locked until the transaction ends: membership changes of one group
/// (joins against `max_members`, hand-overs) queue on it.
pub fn lock(conn: &mut PgConnection, id: &str) -> QueryResult<Option<GroupRow>> {
    groups::table.find(id).select(GroupRow::as_select()).for_update().first(conn).optional()
}

pub fn update(conn: &mut PgConnection, id: &str, change: &GroupChange) -> QueryResult<()> {
    if change.name.is_none() && change.location.is_none() && change.owner_id.is_none() {
        return Ok(());
    }
    diesel::update(groups::table.find(id)).set((change, groups::updated_on.eq(diesel::dsl::now))).execute(conn)?;
    Ok(())
}

/// The groups `owner_id` owns here, their personal group not counted.
pub fn count_owned(conn: &mut PgConnection, owner_id: &str) -> QueryResult<i64> {
    groups::table.filter(groups::owner_id.eq(owner_id)).filter(groups::personal_of.is_null()).count().get_result(conn)
}

pub fn count_active(conn: &mut PgConnection, group_id: &str) -> QueryResult<i64> {
    group_members::table
        .filter(group_members::group_id.eq(group_id))
        .filter(group_members::active.eq(true))
        .count()
        .get_result(conn)
}

pub fn set_can_redeem(conn: &mut PgConnection, group_id: &str, user_id: &str, can: bool) -> QueryResult<MemberRow> {
    diesel::update(group_members::table.find((group_id, user_id)))
        .set((group_members::can_redeem.eq(can), group_members::updated_on.eq(diesel::dsl::now)))
        .returning(MemberRow::as_returning())
        .get_result(conn)
}

/// A group as a points batch reads it: its row, its debt and how many open offers it holds.
pub type PointsGroup = (GroupRow, i64, i32);

/// `SELECT ... FOR UPDATE` of every group a batch of points changes touches, taken first
/// and in id order, so two batches sharing groups queue on them instead of deadlocking.
pub fn lock_many(conn: &mut PgConnection, ids: &[&str]) -> QueryResult<Vec<PointsGroup>> {
    groups::table
        .filter(groups::id.eq_any(ids))
        .order(groups::id.asc())
        .select((GroupRow::as_select(), groups::points_debt, groups::open_offers))
        .for_update()
        .load(conn)
}

/// The same, unlocked: what a quote reads.
pub fn find_many(conn: &mut PgConnection, ids: &[&str]) -> QueryResult<Vec<PointsGroup>> {
    groups::table
        .filter(groups::id.eq_any(ids))
        .select((GroupRow::as_select(), groups::points_debt, groups::open_offers))
        .load(conn)
}

/// Adds `delta` to each group's count of open offers (issued +, used -, reopened +).
pub fn add_open_offers(conn: &mut PgConnection, deltas: &[(&str, i32)]) -> QueryResult<()> {
    for (id, delta) in deltas.iter().filter(|(_, d)| *d != 0) {
        diesel::update(groups::table.find(id))
            .set(groups::open_offers.eq(groups::open_offers + delta))
            .execute(conn)?;
    }
    Ok(())
}

/// Sets the balance of `id` to nothing: a closed account's personal group, whose points
/// the ledger has just written off (`ledger::insert_forfeit`).
pub fn write_off(conn: &mut PgConnection, id: &str) -> QueryResult<()> {
    diesel::update(groups::table.find(id))
        .set((groups::points.eq(0), groups::updated_on.eq(diesel::dsl::now)))
        .execute(conn)?;
    Ok(())
}

/// Writes the balances of a batch of points changes: (group, new balance, new debt).
pub fn set_points_many(conn: &mut PgConnection, balances: &[(&str, i64, i64)]) -> QueryResult<()> {
    let ids: Vec<&str> = balances.iter().map(|b| b.0).collect();
    let points: Vec<i64> = balances.iter().map(|b| b.1).collect();
    let debts: Vec<i64> = balances.iter().map(|b| b.2).collect();
    SetPoints { ids: &ids, points: &points, debts: &debts }.execute(conn)?;
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
    debts: &'a [i64],
}

impl QueryFragment<Pg> for SetPoints<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("UPDATE groups SET points = u.points, points_debt = u.debt, updated_on = now() FROM ");
        unnest!(out; Text => self.ids, BigInt => self.points, BigInt => self.debts);
        out.push_sql(" AS u(id, points, debt) WHERE groups.id = ANY(");
        out.push_bind_param::<Array<Text>, _>(self.ids)?;
        out.push_sql(") AND groups.id = u.id");
        Ok(())
    }
}

fixed_statement!(SetPoints);

/// A group's columns and its active members (oldest membership first), for statements
/// that read a group as the API shows it in one round trip: each round trip costs the
/// database about as much as the reading itself (a separate members query doubled a
/// group read's database time).
const GROUP_WITH_MEMBERS: &str = "g.id, g.name, g.location, g.points, g.personal_of, g.owner_id, g.created_on, \
     g.updated_on, \
     ARRAY(SELECT o.user_id FROM group_members o WHERE o.group_id = g.id AND o.active \
     ORDER BY o.joined_on, o.user_id), \
     ARRAY(SELECT o.can_redeem FROM group_members o WHERE o.group_id = g.id AND o.active \
     ORDER BY o.joined_on, o.user_id), \
     ARRAY(SELECT o.joined_on FROM group_members o WHERE o.group_id = g.id AND o.active \
     ORDER BY o.joined_on, o.user_id)";

type GroupColumns = (Text, Text, Text, BigInt, Nullable<Text>, Text, Timestamptz, Timestamptz);
type MemberColumns = (Array<Text>, Array<Bool>, Array<Timestamptz>);

/// The three member arrays of `GROUP_WITH_MEMBERS`, in one order.
type MemberArrays = (Vec<UserId>, Vec<bool>, Vec<DateTime<Utc>>);

fn active_members((ids, can_redeem, joined_on): MemberArrays) -> Vec<ActiveMember> {
    ids.into_iter()
        .zip(can_redeem)
        .zip(joined_on)
        .map(|((user_id, can_redeem), joined_on)| ActiveMember { user_id, can_redeem, joined_on })
        .collect()
}

/// A group and its active members, in the order they joined.
pub fn with_members(conn: &mut PgConnection, id: &str) -> QueryResult<Option<(GroupRow, Vec<ActiveMember>)>> {
    let row: Option<(GroupRow, MemberArrays)> = GroupWithMembers { id }.get_result(conn).optional()?;
    Ok(row.map(|(group, members)| (group, active_members(members))))
}

struct GroupWithMembers<'a> {
    id: &'a str,
}

impl QueryFragment<Pg> for GroupWithMembers<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("SELECT ");
        out.push_sql(GROUP_WITH_MEMBERS);
        out.push_sql(" FROM groups g WHERE g.id = ");
        out.push_bind_param::<Text, _>(self.id)?;
        Ok(())
    }
}

fixed_statement!(GroupWithMembers => (GroupColumns, MemberColumns));

/// What this region holds of a user's groups, read in one statement (one snapshot):
/// whether the user lives here, the user's membership index (groups of every region),
/// and the user's groups of this region with their members, oldest membership first.
pub struct UserGroupsHere {
    pub user_known: bool,
    pub index: Vec<GroupId>,
    pub groups: Vec<(GroupRow, Vec<ActiveMember>)>,
}

pub fn of_user_here(conn: &mut PgConnection, user_id: &str) -> QueryResult<UserGroupsHere> {
    let mut rows: Vec<UserGroupsRow> = UserGroupsStatement { user_id }.load(conn)?;
    let (user_known, index) =
        rows.first_mut().map(|row| (row.user_known, std::mem::take(&mut row.index))).unwrap_or_default();
    let groups = rows.into_iter().filter_map(|row| Some((row.group?, active_members(row.members)))).collect();
    Ok(UserGroupsHere { user_known, index, groups })
}

#[derive(Queryable)]
struct UserGroupsRow {
    user_known: bool,
    index: Vec<GroupId>,
    group: Option<GroupRow>,
    members: MemberArrays,
}

/// One row per group (the user's facts repeated on each), or one row without a group
/// when the user has none here: the groups are left-joined to a single row.
struct UserGroupsStatement<'a> {
    user_id: &'a str,
}

impl QueryFragment<Pg> for UserGroupsStatement<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("SELECT EXISTS (SELECT 1 FROM users WHERE users.id = ");
        out.push_bind_param::<Text, _>(self.user_id)?;
        out.push_sql(" AND users.erased_on IS NULL), ARRAY(");
        super::users::push_group_ids(&mut out, self.user_id)?;
        out.push_sql("), ");
        out.push_sql(GROUP_WITH_MEMBERS);
        out.push_sql(
            " FROM (VALUES (1)) AS one \
             LEFT JOIN (group_members m JOIN groups g ON g.id = m.group_id) ON m.active AND m.user_id = ",
        );
        out.push_bind_param::<Text, _>(self.user_id)?;
        out.push_sql(" ORDER BY m.joined_on, g.id");
        Ok(())
    }
}

fixed_statement!(UserGroupsStatement => (Bool, Array<Text>, Nullable<GroupColumns>, MemberColumns));

/// Which of `pairs` (group, user) are active memberships, each with its `can_redeem`.
/// The groups of this region `user_id` is an active member of (the memberships are this
/// region's to keep, so the answer is authoritative, unlike the member's index).
pub fn active_groups_of(conn: &mut PgConnection, user_id: &str) -> QueryResult<Vec<GroupId>> {
    group_members::table
        .filter(group_members::user_id.eq(user_id))
        .filter(group_members::active.eq(true))
        .select(group_members::group_id)
        .order(group_members::group_id)
        .load(conn)
}

pub fn active_among(conn: &mut PgConnection, pairs: &[(&str, &str)]) -> QueryResult<HashMap<(String, String), bool>> {
    let (group_ids, user_ids): (Vec<&str>, Vec<&str>) = pairs.iter().copied().unzip();
    let found: Vec<(String, String, bool)> = ActiveAmong { group_ids: &group_ids, user_ids: &user_ids }.load(conn)?;
    Ok(found.into_iter().map(|(group, user, can_redeem)| ((group, user), can_redeem)).collect())
}

/// Each pair looked up by the primary key, whatever the list's length: the `LATERAL ...
/// LIMIT 1` keeps Postgres from turning the lookups into a join. As a join, a batch of
/// more than a few pairs (and every generic plan) read the whole table; under SERIALIZABLE
/// that also took a read lock on all of it, and it cost about 200 rows read per redemption
/// with 1 000 groups (`pg_stat_user_tables`, 5 hot groups through the router).
struct ActiveAmong<'a> {
    group_ids: &'a [&'a str],
    user_ids: &'a [&'a str],
}

impl QueryFragment<Pg> for ActiveAmong<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("SELECT m.group_id, m.user_id, m.can_redeem FROM ");
        unnest!(out; Text => self.group_ids, Text => self.user_ids);
        out.push_sql(" AS p(group_id, user_id) CROSS JOIN LATERAL (SELECT m.group_id, m.user_id, m.can_redeem ");
        out.push_sql("FROM group_members m WHERE m.group_id = p.group_id AND m.user_id = p.user_id AND m.active ");
        out.push_sql("LIMIT 1) m");
        Ok(())
    }
}

fixed_statement!(ActiveAmong => (Text, Text, Bool));

pub fn membership(conn: &mut PgConnection, group_id: &str, user_id: &str) -> QueryResult<Option<MemberRow>> {
    group_members::table.find((group_id, user_id)).select(MemberRow::as_select()).first(conn).optional()
}

/// The group and `user_id`'s active membership in it (its `can_redeem`), in one
/// statement; `None` when there is no such group.
pub fn find_with_member(
    conn: &mut PgConnection,
    group_id: &str,
    user_id: &str,
) -> QueryResult<Option<(GroupRow, Option<bool>)>> {
    let row: Option<(GroupRow, Option<bool>, Option<bool>)> = groups::table
        .left_join(
            group_members::table.on(group_members::group_id.eq(groups::id).and(group_members::user_id.eq(user_id))),
        )
        .filter(groups::id.eq(group_id))
        .select((GroupRow::as_select(), group_members::active.nullable(), group_members::can_redeem.nullable()))
        .first(conn)
        .optional()?;
    Ok(row.map(|(group, active, can_redeem)| (group, can_redeem.filter(|_| active == Some(true)))))
}

/// Writes a membership's new state with the next version (the member's index in their
/// home region applies changes by it).
pub fn set_membership(
    conn: &mut PgConnection,
    group_id: &str,
    user_id: &str,
    active: bool,
    can_redeem: bool,
    previous: Option<&MemberRow>,
) -> QueryResult<MemberRow> {
    match previous {
        None => diesel::insert_into(group_members::table)
            .values((
                group_members::group_id.eq(group_id),
                group_members::user_id.eq(user_id),
                group_members::active.eq(active),
                group_members::can_redeem.eq(can_redeem),
                group_members::version.eq(1),
            ))
            .returning(MemberRow::as_returning())
            .get_result(conn),
        Some(prev) => {
            let rejoined = active && !prev.active;
            let query = diesel::update(group_members::table.find((group_id, user_id)));
            let change = (
                group_members::active.eq(active),
                group_members::can_redeem.eq(can_redeem),
                group_members::version.eq(prev.version + 1),
                group_members::updated_on.eq(diesel::dsl::now),
            );
            if rejoined {
                query
                    .set((change, group_members::joined_on.eq(diesel::dsl::now)))
                    .returning(MemberRow::as_returning())
                    .get_result(conn)
            } else {
                query.set(change).returning(MemberRow::as_returning()).get_result(conn)
            }
        }
    }
}
