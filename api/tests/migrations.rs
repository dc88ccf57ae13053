//! Migrations apply, revert completely, and apply again (what `diesel migration redo` needs).

mod support;

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_migrations::MigrationHarness;
use support::postgres::TestDb;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[allow(clippy::unwrap_used)] // test helper
fn tables(conn: &mut PgConnection) -> i64 {
    diesel::sql_query("SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'")
        .get_result::<Count>(conn)
        .unwrap()
        .n
}

#[test]
fn migrations_apply_revert_and_apply_again() {
    let db = TestDb::create();
    let mut conn = db.connect();
    let applied = conn.run_pending_migrations(api::db::MIGRATIONS).unwrap();
    assert!(!applied.is_empty());
    assert_eq!(tables(&mut conn), 9);
    conn.revert_all_migrations(api::db::MIGRATIONS).unwrap();
    assert_eq!(tables(&mut conn), 0, "down.sql removes everything up.sql made");
    conn.run_pending_migrations(api::db::MIGRATIONS).unwrap();
    assert_eq!(tables(&mut conn), 9);
}
