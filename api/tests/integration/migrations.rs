//! Migrations apply, revert completely, and apply again (what `diesel migration redo` needs).

use crate::support::postgres::TestDb;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_migrations::MigrationHarness;

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
    assert_eq!(tables(&mut conn), 20);
    conn.revert_all_migrations(api::db::MIGRATIONS).unwrap();
    assert_eq!(tables(&mut conn), 0, "down.sql removes everything up.sql made");
    conn.run_pending_migrations(api::db::MIGRATIONS).unwrap();
    assert_eq!(tables(&mut conn), 20);
}

#[derive(QueryableByName, Debug, PartialEq)]
struct Facts {
    #[diesel(sql_type = diesel::sql_types::Text)]
    facts: String,
}

#[allow(clippy::unwrap_used)] // test helper
fn facts(conn: &mut PgConnection, sql: &str) -> String {
    diesel::sql_query(format!("SELECT coalesce(string_agg(f, ' ' ORDER BY f), '') AS facts FROM ({sql}) AS q(f)"))
        .get_result::<Facts>(conn)
        .unwrap()
        .facts
}

/// v1 data through the v1.1 migration: owners from the earliest member, v1 members keep
/// redeeming, members of other users' personal groups removed (logged, and their index
/// told), actors learnt where they can be; and back down.
#[test]
fn group_governance_migrates_v1_data() {
    let db = TestDb::create();
    let mut conn = db.connect();
    for _ in 0..4 {
        conn.run_next_migration(api::db::MIGRATIONS).unwrap();
    }
    conn.batch_execute(
        "INSERT INTO users (id, email, password_hash, role, full_name, personal_group_id) VALUES
           ('001-ann001', 'ann@x', 'h', 'customer', 'Ann', '001-pers01'),
           ('001-bob001', 'bob@x', 'h', 'customer', 'Bob', '001-pers02'),
           ('001-staff1', 'st@x', 'h', 'staff', 'St', '001-pers03');
         INSERT INTO groups (id, name, location, personal_of) VALUES
           ('001-pers01', 'Ann', '', '001-ann001'), ('001-pers02', 'Bob', '', '001-bob001'),
           ('001-team01', 'Team', '', NULL);
         INSERT INTO group_members (group_id, user_id, active, version, joined_on) VALUES
           ('001-pers01', '001-ann001', true, 1, '2026-01-01'),
           ('001-pers01', '001-bob001', true, 1, '2026-01-02'),
           ('001-pers01', '002-eve001', true, 3, '2026-01-03'),
           ('001-pers02', '001-bob001', true, 1, '2026-01-01'),
           ('001-team01', '001-ann001', false, 2, '2026-01-01'),
           ('001-team01', '001-bob001', true, 1, '2026-01-05');
         INSERT INTO user_group_index (user_id, group_id, active, version) VALUES
           ('001-bob001', '001-pers01', true, 1);
         INSERT INTO ledger_entries (id, group_id, user_id, kind, points, balance_after, idempotency_key) VALUES
           ('001-01AAAAAAAAAAAAAAAAAAAAAAAA', '001-pers01', '001-ann001', 'award', 10, 10, 'bill-1'),
           ('001-01AAAAAAAAAAAAAAAAAAAAAAAB', '001-pers01', '001-bob001', 'redeem', -5, 5, 'r-1'),
           ('001-01AAAAAAAAAAAAAAAAAAAAAAAC', '001-pers01', '001-ann001', 'award', 1, 6, 'bill-old');
         INSERT INTO idempotency_records (caller_id, key, fingerprint, response_status, response_body) VALUES
           ('001-staff1', 'bill-1', 'f', 201, '{\"id\": \"001-01AAAAAAAAAAAAAAAAAAAAAAAA\"}');",
    )
    .unwrap();

    conn.run_next_migration(api::db::MIGRATIONS).unwrap();
    // Owners: a personal group's user; otherwise the earliest active member.
    assert_eq!(
        facts(&mut conn, "SELECT id || '=' || owner_id FROM groups"),
        "001-pers01=001-ann001 001-pers02=001-bob001 001-team01=001-bob001"
    );
    // Members of someone else's personal group are gone (next version), the rest keep redeeming.
    assert_eq!(
        facts(
            &mut conn,
            "SELECT group_id || ':' || user_id || ':' || active || ':' || version || ':' || can_redeem FROM group_members"
        ),
        "001-pers01:001-ann001:true:1:true 001-pers01:001-bob001:false:2:true 001-pers01:002-eve001:false:4:true \
         001-pers02:001-bob001:true:1:true 001-team01:001-ann001:false:2:true 001-team01:001-bob001:true:1:true"
    );
    assert_eq!(
        facts(&mut conn, "SELECT group_id || ':' || user_id FROM membership_repairs"),
        "001-pers01:001-bob001 001-pers01:002-eve001"
    );
    // Bob's index here follows at once; Eve's home region hears through the outbox.
    assert_eq!(facts(&mut conn, "SELECT active || ':' || version FROM user_group_index"), "false:2");
    assert_eq!(
        facts(&mut conn, "SELECT destination_region || ' ' || payload::text FROM outbox"),
        "002 {\"kind\": \"membership\", \"active\": false, \"user_id\": \"002-eve001\", \"version\": 4, \"group_id\": \"001-pers01\"}"
    );
    // Actors: from the idempotency record, or the redeeming member; else unknown.
    assert_eq!(
        facts(&mut conn, "SELECT idempotency_key || '=' || coalesce(actor_id, '?') FROM ledger_entries"),
        "bill-1=001-staff1 bill-old=? r-1=001-bob001"
    );

    conn.revert_last_migration(api::db::MIGRATIONS).unwrap();
    assert_eq!(tables(&mut conn), 9);
    assert_eq!(
        facts(
            &mut conn,
            "SELECT column_name::text FROM information_schema.columns WHERE column_name IN ('owner_id', 'can_redeem', 'actor_id')"
        ),
        ""
    );
}

/// The cloud's split (infra/sql/roles.sql): a migration role owns and changes the schema,
/// the service's role reads and writes rows and can change nothing else.
#[tokio::test]
#[allow(clippy::unwrap_used, clippy::expect_used)] // test setup
async fn the_service_role_uses_rows_and_cannot_change_the_schema() {
    let suffix = ulid::Ulid::new().to_string().to_lowercase();
    let (migrator, service) = (format!("m_{suffix}"), format!("s_{suffix}"));
    // Dropped last, after the database (declared first), even when the test fails.
    let _roles = DropRoles(vec![service.clone(), migrator.clone()]);
    let db = TestDb::create();
    let roles = include_str!("../../../infra/sql/roles.sql")
        .replace(":\"migrator\"", &format!("\"{migrator}\""))
        .replace(":\"service\"", &format!("\"{service}\""));
    db.connect().batch_execute(&roles).unwrap();
    let url = db.url.clone();
    let as_role = |role: &str| url.replacen("postgres@", &format!("{role}@"), 1);

    let mut config = crate::support::test_config(&as_role(&service));
    config.db.migrate = false;
    config.db.startup_wait_secs = 3;
    let refused = api::Application::build(config.clone()).await.err().expect("refused before migrating");
    assert!(refused.to_string().contains("pending"), "{refused}");
    let mut service_migrating = config.clone();
    service_migrating.db.migrate = true;
    assert!(api::startup::migrate_only(&service_migrating).await.is_err(), "the service role cannot create tables");
    let mut as_migrator = config.clone();
    as_migrator.database_url = as_role(&migrator);
    let applied = api::startup::migrate_only(&as_migrator).await.unwrap();
    assert!(applied.len() >= 7, "{applied:?}");

    // The service starts (its schema check passes) and serves writes.
    let app = crate::support::TestApp::start(config, db).await;
    let (user, token) = app.customer().await;
    let funded = app.award(user.id.as_str(), None, 5_000, 1).await;
    assert_eq!(funded.points_awarded, 50);
    let me = app.get(&format!("/v1/users/{}", user.id), Some(&token)).await;
    assert_eq!(me.status(), reqwest::StatusCode::OK);

    let mut as_service = PgConnection::establish(&as_role(&service)).unwrap();
    for ddl in [
        "CREATE TABLE sneaky (id int)",
        "ALTER TABLE users ADD COLUMN sneaky int",
        "DROP TABLE ledger_entries",
        "TRUNCATE ledger_entries",
    ] {
        let err = as_service.batch_execute(ddl).expect_err(ddl);
        assert!(
            err.to_string().contains("permission denied") || err.to_string().contains("must be owner"),
            "{ddl}: {err}"
        );
    }
}

/// Cluster-wide roles a test made; they can go once their database has.
struct DropRoles(Vec<String>);

impl Drop for DropRoles {
    fn drop(&mut self) {
        let Ok(mut admin) = PgConnection::establish(&format!("{}/postgres", crate::support::postgres::cluster_url()))
        else {
            return;
        };
        for role in &self.0 {
            let _ = admin.batch_execute(&format!("DROP ROLE IF EXISTS \"{role}\""));
        }
    }
}

/// Migrations run without the statement timeout of requests: an index built on a large
/// table takes longer. The connection that ran them gets the timeout back.
#[tokio::test]
async fn migrations_run_past_the_statement_timeout_and_requests_keep_it() {
    use api::db::Db;
    use std::time::{Duration, Instant};
    let test_db = TestDb::create();
    let mut conn = test_db.connect();
    // The schema before groups_by_owner (migration 11), with 300 000 groups.
    for _ in 0..10 {
        conn.run_next_migration(api::db::MIGRATIONS).unwrap();
    }
    conn.batch_execute(
        "INSERT INTO groups (id, name, location, owner_id)
         SELECT '001-' || lpad(to_hex(i), 6, '0'), 'G', 'L', '001-' || lpad(to_hex(i % 1000), 6, '0')
           FROM generate_series(1, 300000) i",
    )
    .unwrap();
    let mut config = crate::support::test_config(&test_db.url);
    config.db.statement_timeout_ms = 50;
    config.db.pool_size = 1;
    let db = Db::new(&test_db.url, &config.db, None);
    db.migrate(Instant::now() + Duration::from_secs(10)).unwrap();
    let slow = db.run(|conn| Ok(conn.batch_execute("SELECT pg_sleep(0.5)")?));
    assert_eq!(slow.await.unwrap_err().code, contract::ErrorCode::Timeout);
}

/// Two instances starting together: one migrates while the other waits without a
/// transaction open, which a `CREATE INDEX CONCURRENTLY` of the first would wait for:
/// waiting in a statement, one of them failed with "deadlock detected".
#[tokio::test]
async fn instances_starting_together_migrate_one_after_the_other() {
    use api::db::Db;
    use std::time::{Duration, Instant};
    let test_db = TestDb::create();
    let config = crate::support::test_config(&test_db.url);
    let deadline = Instant::now() + Duration::from_secs(30);
    let starting = (0..2).map(|_| {
        let db = Db::new(&test_db.url, &config.db, None);
        tokio::task::spawn_blocking(move || db.migrate(deadline))
    });
    let mut applied = Vec::new();
    for started in futures_util::future::join_all(starting).await {
        applied.extend(started.unwrap().unwrap());
    }
    let all = diesel::migration::MigrationSource::<diesel::pg::Pg>::migrations(&api::db::MIGRATIONS).unwrap();
    assert_eq!(applied.len(), all.len(), "each migration applied once, by one of the two");
}

/// A migration folder of its own, deleted afterwards.
struct MigrationDir(std::path::PathBuf);

impl MigrationDir {
    #[allow(clippy::unwrap_used)] // test helper
    fn new(name: &str, up: &str, down: &str) -> MigrationDir {
        let root = std::env::temp_dir().join(format!("loyalty-migrations-{}", ulid::Ulid::new()));
        std::fs::create_dir_all(root.join(name)).unwrap();
        std::fs::write(root.join(name).join("up.sql"), up).unwrap();
        std::fs::write(root.join(name).join("down.sql"), down).unwrap();
        MigrationDir(root)
    }
}

impl Drop for MigrationDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A deploy whose migration needs a table to itself while a long transaction reads it (a
/// report, a dump): Postgres queues every later write behind the waiting `ALTER TABLE`,
/// so the migration steps out of the queue after its `lock_timeout` and asks again, and
/// the points writes go on; it applies once the reader is done, or the deploy fails
/// having applied none of it.
#[tokio::test]
async fn a_migration_waiting_for_a_table_lets_points_writes_through() {
    use crate::support::postgres::DbLock;
    use api::db::Db;
    use std::time::{Duration, Instant};
    let test_db = TestDb::create();
    let mut conn = test_db.connect();
    conn.run_pending_migrations(api::db::MIGRATIONS).unwrap();
    conn.batch_execute(
        "INSERT INTO groups (id, name, location, owner_id) VALUES ('001-aaaaaa', 'G', 'L', '001-bbbbbb')",
    )
    .unwrap();
    let dir = MigrationDir::new(
        "2026-12-31-000001_groups_note",
        "ALTER TABLE groups ADD COLUMN note text",
        "ALTER TABLE groups DROP COLUMN note",
    );
    let reader = DbLock::read(&test_db, "groups");
    let migrate = |attempts| {
        let mut config = crate::support::test_config(&test_db.url);
        config.db.migration_lock_timeout_ms = 100;
        config.db.migration_lock_attempts = attempts;
        let db = Db::new(&test_db.url, &config.db, None);
        let source = diesel_migrations::FileBasedMigrations::from_path(&dir.0).unwrap();
        tokio::task::spawn_blocking(move || db.migrate_from(source, Instant::now() + Duration::from_secs(10)))
    };
    let refused = migrate(2).await.unwrap().unwrap_err().to_string();
    assert!(refused.contains("gave up; nothing of it was applied"), "{refused}");

    let migrating = migrate(1_000);

    conn.batch_execute("SET statement_timeout = 1000").unwrap();
    for write in 0..15 {
        std::thread::sleep(Duration::from_millis(100));
        if let Err(err) = conn.batch_execute("UPDATE groups SET points = points + 1 WHERE id = '001-aaaaaa'") {
            panic!("points write {write} waited behind the migration: {err}");
        }
    }
    assert!(!migrating.is_finished(), "the migration waits for the reader");
    reader.release();
    let applied = migrating.await.unwrap().unwrap();
    assert_eq!(applied, ["20261231000001"]);
    conn.batch_execute("SELECT note FROM groups").unwrap();
}
