//! The schema's migrations: applied by one instance at a time, one by one, without the
//! requests' `statement_timeout` (an index built on a large table rightly takes longer)
//! but with a `lock_timeout`. A migration waiting for a table's lock holds up every
//! write queued behind it (Postgres grants locks in order), so while a long transaction
//! holds the table, the migration steps out of the queue, lets the points writes
//! through, and asks again a little later.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::migration::{Migration, MigrationSource};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::Db;
use crate::config::DbConfig;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations");

/// The advisory lock that lets one instance at a time migrate.
const MIGRATION_LOCK: i64 = 7_263_001;

/// How Postgres words a `lock_timeout` (55P03). diesel_migrations hands a migration's
/// error back as text only; every connection's messages are untranslated
/// (`connection::pin_messages`).
const LOCK_TIMEOUT: &str = "canceling statement due to lock timeout";

/// How the connection that migrates runs, and what it gives back afterwards.
#[derive(Debug, Clone, Copy)]
pub(super) struct Settings {
    /// Every pooled connection's `statement_timeout`, set again after migrating.
    statement_timeout_ms: u64,
    lock_timeout_ms: u64,
    lock_attempts: u32,
}

impl Settings {
    pub(super) fn from_config(config: &DbConfig) -> Settings {
        Settings {
            statement_timeout_ms: config.statement_timeout_ms,
            lock_timeout_ms: config.migration_lock_timeout_ms.max(1),
            lock_attempts: config.migration_lock_attempts.max(1),
        }
    }
}

impl Db {
    /// Waits until the database answers (until `deadline` at most), then applies pending
    /// migrations under an advisory lock, so that instances starting together do not
    /// race; returns their versions.
    pub fn migrate(&self, deadline: Instant) -> anyhow::Result<Vec<String>> {
        self.migrate_from(MIGRATIONS, deadline)
    }

    /// `migrate`, with the migrations `source` has.
    pub fn migrate_from<S: MigrationSource<Pg>>(&self, source: S, deadline: Instant) -> anyhow::Result<Vec<String>> {
        let mut pooled = self.first_connection(deadline)?;
        let conn = &mut pooled.conn;
        take_migration_lock(conn)?;
        conn.batch_execute("SET statement_timeout = 0")?;
        let applied = apply_pending(conn, source, self.migrating);
        conn.batch_execute(&format!(
            "SELECT pg_advisory_unlock({MIGRATION_LOCK}); SET statement_timeout = {}; SET lock_timeout = 0",
            self.migrating.statement_timeout_ms
        ))?;
        applied
    }

    /// Refuses to serve a schema older than this release's (when this instance does not
    /// migrate it itself).
    pub fn check_schema(&self, deadline: Instant) -> anyhow::Result<()> {
        #[derive(QueryableByName)]
        struct Applied {
            #[diesel(sql_type = diesel::sql_types::Text)]
            version: String,
        }
        #[derive(QueryableByName)]
        struct Present {
            #[diesel(sql_type = diesel::sql_types::Bool)]
            present: bool,
        }
        let mut pooled = self.first_connection(deadline)?;
        let read = |conn: &mut PgConnection| -> QueryResult<HashSet<String>> {
            // Read directly: diesel's own check first creates its table, which this role may not.
            let table = "SELECT to_regclass('public.__diesel_schema_migrations') IS NOT NULL AS present";
            if !diesel::sql_query(table).get_result::<Present>(conn)?.present {
                return Ok(HashSet::new());
            }
            let rows = diesel::sql_query("SELECT version FROM __diesel_schema_migrations").load::<Applied>(conn)?;
            Ok(rows.into_iter().map(|row| row.version).collect())
        };
        let applied =
            read(&mut pooled.conn).map_err(|e| anyhow::anyhow!("reading the applied migrations failed: {e}"))?;
        let known = MigrationSource::<Pg>::migrations(&MIGRATIONS)
            .map_err(|e| anyhow::anyhow!("this release's migrations: {e}"))?;
        let pending: Vec<String> = known
            .iter()
            .filter(|m| !applied.contains(&m.name().version().to_string()))
            .map(|m| m.name().to_string())
            .collect();
        if !pending.is_empty() {
            anyhow::bail!(
                "the database schema is behind this release ({} pending: {}); run `loyalty-api --migrate` as the migration role",
                pending.len(),
                pending.join(", ")
            );
        }
        Ok(())
    }
}

fn apply_pending<S: MigrationSource<Pg>>(
    conn: &mut PgConnection,
    source: S,
    settings: Settings,
) -> anyhow::Result<Vec<String>> {
    let pending = conn.pending_migrations(source).map_err(|e| anyhow::anyhow!("reading the migrations failed: {e}"))?;
    let mut applied = Vec::with_capacity(pending.len());
    for migration in &pending {
        apply(conn, migration.as_ref(), settings)?;
        let version = migration.name().version().to_string();
        tracing::info!(%version, "migration applied");
        applied.push(version);
    }
    Ok(applied)
}

/// Applies one migration, stepping out of a lock's queue after `lock_timeout` and
/// asking again after a pause that grows with each attempt (the whole migration is
/// rolled back and run again: it runs in a transaction).
fn apply(conn: &mut PgConnection, migration: &dyn Migration<Pg>, settings: Settings) -> anyhow::Result<()> {
    // One outside a transaction builds an index CONCURRENTLY: its lock stops no write,
    // and one cut off leaves an invalid index behind, so that one waits as long as it takes.
    let lock_timeout_ms = if migration.metadata().run_in_transaction() { settings.lock_timeout_ms } else { 0 };
    conn.batch_execute(&format!("SET lock_timeout = {lock_timeout_ms}"))?;
    let name = migration.name();
    let mut attempt = 1;
    loop {
        let err = match conn.run_migration(migration) {
            Ok(_) => return Ok(()),
            Err(err) => err.to_string(),
        };
        if !err.contains(LOCK_TIMEOUT) {
            anyhow::bail!("migrations failed: {err}");
        }
        if attempt == settings.lock_attempts {
            anyhow::bail!(
                "migrations failed: {name} waited {attempt} times {lock_timeout_ms} ms for a lock that another \
                 transaction holds (look for it in pg_stat_activity and pg_locks), then gave up; nothing of it was applied"
            );
        }
        let pause = Duration::from_millis(settings.lock_timeout_ms * u64::from(attempt.min(10)));
        tracing::warn!(migration = %name, attempt, ?pause, "another transaction holds a lock this migration needs; asking again later");
        metrics::counter!("migration_lock_timeouts_total").increment(1);
        std::thread::sleep(pause);
        attempt += 1;
    }
}

/// The lock that lets one instance at a time migrate. Asked for again every 250 ms
/// rather than waited for in a statement: a statement waiting on it is an open
/// transaction, and the `CREATE INDEX CONCURRENTLY` of a migration the holder is running
/// waits for every open transaction to end, so the two deadlocked (an instance started
/// alongside another failed with "deadlock detected"). Held until unlocked, or until the
/// session ends should the holder die.
fn take_migration_lock(conn: &mut PgConnection) -> QueryResult<()> {
    #[derive(QueryableByName)]
    struct Taken {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        taken: bool,
    }
    let mut waited = false;
    loop {
        let taken = diesel::sql_query(format!("SELECT pg_try_advisory_lock({MIGRATION_LOCK}) AS taken"))
            .get_result::<Taken>(conn)?;
        if taken.taken {
            return Ok(());
        }
        if !waited {
            tracing::info!("another instance is migrating the database; waiting for it");
            waited = true;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}
