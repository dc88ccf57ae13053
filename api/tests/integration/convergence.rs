//! The membership index converges whatever the delivery: events applied in any order,
//! duplicated or late, leave the same state as applying them in order once. Checked by
//! proptest against the real `apply` on a real database.

use crate::support::postgres::TestDb;
use contract::internal::Event;
use contract::{GroupId, RegionId, UserId};
use diesel::prelude::*;
use proptest::prelude::*;

/// The history of one membership in the group's region: join, leave, join, ...
/// Version n is the n-th change; odd versions are joins.
fn history(len: usize, user: &UserId, group: &GroupId) -> Vec<Event> {
    (1..=len as i64)
        .map(|version| Event::Membership {
            user_id: user.clone(),
            group_id: group.clone(),
            active: version % 2 == 1,
            version,
        })
        .collect()
}

#[allow(clippy::unwrap_used)] // test helper
fn index_state(conn: &mut PgConnection, user: &UserId, group: &GroupId) -> Option<(bool, i64)> {
    use api::db::schema::user_group_index::dsl as i;
    i::user_group_index
        .filter(i::user_id.eq(user.as_str()))
        .filter(i::group_id.eq(group.as_str()))
        .select((i::active, i::version))
        .first(conn)
        .optional()
        .unwrap()
}

/// A history length, arbitrary extra deliveries (duplicates, any order), and the order in
/// which every event is finally delivered at least once (the relay retries until each is
/// acknowledged, in no particular order). Indices are into both groups' histories.
fn scenario() -> impl Strategy<Value = (usize, Vec<usize>, Vec<usize>)> {
    (1usize..8).prop_flat_map(|len| {
        let n = 2 * len;
        (Just(len), proptest::collection::vec(0..n, 0..24), Just((0..n).collect::<Vec<_>>()).prop_shuffle())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_delivery_order_converges((len, extra, every) in scenario()) {
        let db = TestDb::create();
        let mut conn = db.connect();
        diesel_migrations::MigrationHarness::run_pending_migrations(&mut conn, api::db::MIGRATIONS).unwrap();
        let local: RegionId = "001".parse().unwrap();
        let user: UserId = "001-member".parse().unwrap();
        diesel::sql_query("INSERT INTO users (id, email, password_hash, role, full_name, personal_group_id) VALUES ('001-member', 'm@x.io', 'x', 'customer', 'M', '001-person')")
            .execute(&mut conn).unwrap();
        let groups: Vec<GroupId> = ["002-groupa", "003-groupb"].iter().map(|g| g.parse().unwrap()).collect();
        let mut all = Vec::new();
        for group in &groups {
            all.extend(history(len, &user, group));
        }
        for event in extra.iter().chain(every.iter()).map(|&i| &all[i]) {
            api::services::events::apply_one(&mut conn, local, event).unwrap();
        }
        let expected = (len % 2 == 1, len as i64);
        for group in &groups {
            prop_assert_eq!(index_state(&mut conn, &user, group), Some(expected));
        }
    }
}
