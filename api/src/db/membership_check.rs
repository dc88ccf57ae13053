//! The statements of the audit's cross-region membership check: a group region lists
//! the memberships of one home region's users (with whether the event of each one's
//! latest change is still undelivered), and the home region reads its index of them.

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Text};

/// A membership, or an index row of one (`undelivered` false for an index row).
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct MembershipRow {
    #[diesel(sql_type = Text)]
    pub group_id: String,
    #[diesel(sql_type = Text)]
    pub user_id: String,
    #[diesel(sql_type = Bool)]
    pub active: bool,
    #[diesel(sql_type = BigInt)]
    pub version: i64,
    #[diesel(sql_type = Bool)]
    pub undelivered: bool,
}

// Prefixes are matched with LIKE, not `left(id, 4) =`: Postgres estimates a LIKE prefix
// from the column's statistics and a function's result at 0.5%, and under that guess
// pages walked a sequential scan and a sort each (44 ms a page of 500 over 300 000
// memberships, 1.3 ms with LIKE's plan, the key's index). `$1` is a region id: digits.

/// Membership events to `$1` not yet delivered, by membership.
const UNDELIVERED: &str = "\
WITH pending AS (
    SELECT DISTINCT payload->>'group_id' AS group_id, payload->>'user_id' AS user_id FROM outbox
    WHERE delivered_on IS NULL AND destination_region = $1 AND kind = 'membership'
)";

/// The memberships of `home`'s users in this region's groups after (`after_group`,
/// `after_user`), in that order, at most `limit`; one snapshot, so a membership's version
/// and its event's delivery are read together.
pub fn of_home_region(
    conn: &mut PgConnection,
    home: &str,
    after_group: &str,
    after_user: &str,
    limit: i64,
) -> QueryResult<Vec<MembershipRow>> {
    diesel::sql_query(format!(
        "{UNDELIVERED}
         SELECT m.group_id, m.user_id, m.active, m.version, p.group_id IS NOT NULL AS undelivered
         FROM group_members m LEFT JOIN pending p ON p.group_id = m.group_id AND p.user_id = m.user_id
         WHERE m.user_id LIKE $1 || '-%' AND (m.group_id, m.user_id) > ($2, $3)
         ORDER BY m.group_id, m.user_id LIMIT $4"
    ))
    .bind::<Text, _>(home)
    .bind::<Text, _>(after_group)
    .bind::<Text, _>(after_user)
    .bind::<BigInt, _>(limit)
    .load(conn)
}

/// Those of the memberships (`groups[i]`, `users[i]`) of `home`'s users that exist here.
pub fn at(conn: &mut PgConnection, home: &str, groups: &[&str], users: &[&str]) -> QueryResult<Vec<MembershipRow>> {
    diesel::sql_query(format!(
        "{UNDELIVERED}
         SELECT m.group_id, m.user_id, m.active, m.version, p.group_id IS NOT NULL AS undelivered
         FROM unnest($2::text[], $3::text[]) AS k (group_id, user_id)
         JOIN group_members m ON m.group_id = k.group_id AND m.user_id = k.user_id
         LEFT JOIN pending p ON p.group_id = m.group_id AND p.user_id = m.user_id
         WHERE m.user_id LIKE $1 || '-%'"
    ))
    .bind::<Text, _>(home)
    .bind::<Array<Text>, _>(groups)
    .bind::<Array<Text>, _>(users)
    .load(conn)
}

/// This region's index rows of (`groups[i]`, `users[i]`), those that exist.
pub fn index_at(conn: &mut PgConnection, groups: &[&str], users: &[&str]) -> QueryResult<Vec<MembershipRow>> {
    diesel::sql_query(
        "SELECT i.group_id, i.user_id, i.active, i.version, false AS undelivered
         FROM unnest($1::text[], $2::text[]) AS k (group_id, user_id)
         JOIN user_group_index i ON i.user_id = k.user_id AND i.group_id = k.group_id",
    )
    .bind::<Array<Text>, _>(groups)
    .bind::<Array<Text>, _>(users)
    .load(conn)
}

/// This region's index rows of groups of `region` after (`after_user`, `after_group`), in
/// that order (the index's key), at most `limit`.
pub fn index_of_groups_in(
    conn: &mut PgConnection,
    region: &str,
    after_user: &str,
    after_group: &str,
    limit: i64,
) -> QueryResult<Vec<MembershipRow>> {
    diesel::sql_query(
        "SELECT group_id, user_id, active, version, false AS undelivered FROM user_group_index
         WHERE group_id LIKE $1 || '-%' AND (user_id, group_id) > ($2, $3)
         ORDER BY user_id, group_id LIMIT $4",
    )
    .bind::<Text, _>(region)
    .bind::<Text, _>(after_user)
    .bind::<Text, _>(after_group)
    .bind::<BigInt, _>(limit)
    .load(conn)
}

/// Sets this region's index row of (`user`, `group`) to `to` (active, version), or removes
/// it for `None`, only if it still stands as the audit read it (`read`: its version, or
/// `None` for no row): a repair never undoes a change that arrived since. Whether it did.
pub fn set_index(
    conn: &mut PgConnection,
    user: &str,
    group: &str,
    read: Option<i64>,
    to: Option<(bool, i64)>,
) -> QueryResult<bool> {
    let changed = match (read, to) {
        (None, None) => 0,
        // A row for a user this region does not have would break the index's key.
        (None, Some((active, version))) => diesel::sql_query(
            "INSERT INTO user_group_index (user_id, group_id, active, version)
             SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM users WHERE id = $1)
             ON CONFLICT (user_id, group_id) DO NOTHING",
        )
        .bind::<Text, _>(user)
        .bind::<Text, _>(group)
        .bind::<Bool, _>(active)
        .bind::<BigInt, _>(version)
        .execute(conn)?,
        (Some(read), Some((active, version))) => diesel::sql_query(
            "UPDATE user_group_index SET active = $3, version = $4, updated_on = now()
             WHERE user_id = $1 AND group_id = $2 AND version = $5",
        )
        .bind::<Text, _>(user)
        .bind::<Text, _>(group)
        .bind::<Bool, _>(active)
        .bind::<BigInt, _>(version)
        .bind::<BigInt, _>(read)
        .execute(conn)?,
        (Some(read), None) => {
            diesel::sql_query("DELETE FROM user_group_index WHERE user_id = $1 AND group_id = $2 AND version = $3")
                .bind::<Text, _>(user)
                .bind::<Text, _>(group)
                .bind::<BigInt, _>(read)
                .execute(conn)?
        }
    };
    Ok(changed == 1)
}
