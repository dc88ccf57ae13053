//! Database access. diesel is synchronous, so every query runs on a blocking thread
//! behind an async gate sized to the pool (as Vaultwarden does): a request waits at most
//! `gate_timeout` for its turn and `connection_timeout` for a connection, then gets 503.
//! Query modules return `QueryResult`; they know nothing of HTTP.

/// Makes a hand-written statement type (a `QueryFragment` whose SQL never changes) one
/// that diesel prepares once per connection, and runnable; with `=> SqlType`, a query
/// returning rows of that type. diesel's builders do not cache a statement whose SQL
/// depends on a list's length, nor can they join a list of values as a table.
macro_rules! fixed_statement {
    ($name:ident) => {
        impl diesel::query_builder::QueryId for $name<'_> {
            type QueryId = $name<'static>;
            const HAS_STATIC_QUERY_ID: bool = true;
        }

        impl diesel::RunQueryDsl<diesel::PgConnection> for $name<'_> {}
    };
    ($name:ident => $sql_type:ty) => {
        fixed_statement!($name);

        impl diesel::query_builder::Query for $name<'_> {
            type SqlType = $sql_type;
        }
    };
}

/// Pushes `unnest($1, $2, ...)`, each list bound as one array of its SQL type: many rows
/// in one statement whose text does not depend on how many there are.
macro_rules! unnest {
    ($out:ident; $first_ty:ty => $first:expr $(, $ty:ty => $list:expr)* $(,)?) => {
        $out.push_sql("unnest(");
        $out.push_bind_param::<diesel::sql_types::Array<$first_ty>, _>($first)?;
        $(
            $out.push_sql(", ");
            $out.push_bind_param::<diesel::sql_types::Array<$ty>, _>($list)?;
        )*
        $out.push_sql(")");
    };
}

pub mod audit;
pub mod audit_days;
pub mod catalogue;
pub mod connection;
pub mod directory;
pub mod discounts;
pub mod email_failures;
pub mod groups;
pub mod idempotency;
pub mod invitations;
pub mod ledger;
pub mod lockouts;
pub mod login_networks;
pub mod membership_check;
mod migrations;
pub mod offers;
pub mod outbox;
pub mod points;
pub mod revocations;
pub mod schema;
pub mod users;

pub use migrations::MIGRATIONS;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use contract::cursor::LedgerPosition;
use diesel::connection::SimpleConnection;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::r2d2::Pool;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::Bool;
use rand::Rng;
use tokio::sync::Semaphore;

use self::connection::{NetworkBounds, PasswordSource, PgManager, PoolErrors, SessionSettings};
use crate::config::DbConfig;
use crate::error::{ApiError, is_deadlock};

pub type PgPool = Pool<PgManager>;

#[derive(Clone)]
pub struct Db {
    pool: PgPool,
    gate: Arc<Semaphore>,
    gate_timeout: Duration,
    deadline: Duration,
    max_tx_attempts: u32,
    migrating: migrations::Settings,
    /// When a query last succeeded, in ms since `clock` (0: never): readiness checks
    /// take that as their answer instead of queueing behind the requests.
    succeeded_at: Arc<AtomicU64>,
    clock: Instant,
}

impl Db {
    /// Builds the pool without connecting: the server starts (and answers 503) even
    /// while its database is down.
    pub fn new(database_url: &str, config: &DbConfig, password: Option<PasswordSource>) -> Db {
        let bounds = NetworkBounds {
            connect_timeout_secs: config.connect_timeout_secs,
            tcp_user_timeout_ms: config.tcp_user_timeout_ms,
        };
        let manager = PgManager::new(database_url, password, &bounds);
        let pool = Pool::builder()
            .max_size(config.pool_size)
            .min_idle(Some(0))
            .connection_timeout(Duration::from_millis(config.connection_timeout_ms))
            .connection_customizer(Box::new(SessionSettings {
                statement_timeout_ms: config.statement_timeout_ms,
                idle_in_transaction_timeout_ms: config.idle_in_transaction_timeout_ms,
            }))
            .error_handler(Box::<PoolErrors>::default())
            .build_unchecked(manager);
        Db {
            pool,
            gate: Arc::new(Semaphore::new(config.pool_size as usize)),
            gate_timeout: Duration::from_millis(config.gate_timeout_ms),
            deadline: Duration::from_millis(config.deadline_ms),
            max_tx_attempts: config.max_tx_attempts.max(1),
            migrating: migrations::Settings::from_config(config),
            succeeded_at: Arc::new(AtomicU64::new(0)),
            clock: Instant::now(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.clock.elapsed().as_millis()).unwrap_or(u64::MAX).max(1)
    }

    /// Whether a query succeeded within `window`.
    pub fn succeeded_within(&self, window: Duration) -> bool {
        let at = self.succeeded_at.load(Ordering::Relaxed);
        at != 0 && self.now_ms().saturating_sub(at) <= u64::try_from(window.as_millis()).unwrap_or(u64::MAX)
    }

    /// Runs `f` with a pooled connection on a blocking thread, answering 504 if that takes
    /// longer than the deadline (the work itself runs on and may still commit).
    pub async fn run<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut PgConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        match tokio::time::timeout(self.deadline, self.run_now(f)).await {
            Ok(result) => result,
            Err(_) => {
                self.succeeded_at.store(0, Ordering::Relaxed);
                metrics::counter!("db_deadline_exceeded_total").increment(1);
                Err(ApiError::new(
                    contract::ErrorCode::Timeout,
                    "the region's database did not answer in time; a write may still apply: retry it with the same Idempotency-Key",
                ))
            }
        }
    }

    async fn run_now<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut PgConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let waiting = Waiting::start();
        let permit = tokio::time::timeout(self.gate_timeout, self.gate.clone().acquire_owned()).await;
        drop(waiting);
        let permit = match permit {
            Ok(Ok(permit)) => permit,
            _ => {
                return Err(ApiError::region_unavailable("the region's database is busy"));
            }
        };
        let pool = self.pool.clone();
        let span = tracing::Span::current();
        let result = actix_web::web::block(move || {
            let _span = span.enter();
            let _permit = permit;
            let mut conn = pool.get()?;
            let result = f(&mut conn.conn);
            conn.answered();
            result
        })
        .await?;
        match &result {
            Ok(_) => self.succeeded_at.store(self.now_ms(), Ordering::Relaxed),
            // The database did not answer: readiness asks it again rather than trust an
            // answer from before.
            Err(err) if matches!(err.code, contract::ErrorCode::RegionUnavailable | contract::ErrorCode::Timeout) => {
                self.succeeded_at.store(0, Ordering::Relaxed)
            }
            Err(_) => {}
        }
        result
    }

    /// Runs `f` in a SERIALIZABLE transaction, retrying serialization failures, deadlocks
    /// and unique violations (a concurrent duplicate committed first; the next attempt
    /// sees it) with jittered backoff. Callers never see those as errors unless every
    /// attempt fails, and then nothing was applied.
    pub async fn serializable<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: Fn(&mut PgConnection) -> QueryResult<T> + Send + 'static,
        T: Send + 'static,
    {
        self.retrying(move |conn| conn.build_transaction().serializable().run(&f)).await
    }

    /// Runs `f` again while it fails as `serializable` retries; `f` opens its own
    /// transaction (and may read before it).
    pub async fn retrying<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: Fn(&mut PgConnection) -> QueryResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let attempts = self.max_tx_attempts;
        self.run(move |conn| {
            for attempt in 1..=attempts {
                match f(conn) {
                    Err(err) if is_retryable(&err) && attempt < attempts => {
                        metrics::counter!("db_tx_retries_total").increment(1);
                        tracing::debug!(attempt, %err, "transaction conflict, retrying");
                        let cap_ms = 2u64.saturating_pow(attempt.min(6)).min(50);
                        std::thread::sleep(Duration::from_millis(rand::rng().random_range(0..=cap_ms)));
                    }
                    Err(err) if is_retryable(&err) => {
                        // Contention, or a bug that meets the same unique key every time:
                        // the last conflict tells them apart.
                        tracing::warn!(attempts, %err, "transaction gave up after a conflict on every attempt");
                    }
                    other => return other.map_err(ApiError::from),
                }
            }
            metrics::counter!("db_tx_exhausted_total").increment(1);
            Err(ApiError::region_unavailable("too much contention on this group; nothing was applied, retry"))
        })
        .await
    }

    /// The longest a request's database work may take.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    pub fn pool_state(&self) -> (u32, u32) {
        let state = self.pool.state();
        (state.connections, state.idle_connections)
    }

    fn first_connection(
        &self,
        deadline: std::time::Instant,
    ) -> anyhow::Result<diesel::r2d2::PooledConnection<PgManager>> {
        loop {
            match self.pool.get() {
                Ok(pooled) => return Ok(pooled),
                Err(err) if std::time::Instant::now() < deadline => {
                    tracing::warn!(%err, "waiting for the database");
                    std::thread::sleep(Duration::from_millis(500));
                }
                Err(err) => anyhow::bail!("database not reachable: {err}"),
            }
        }
    }
}

/// Counts a request waiting at the gate for as long as it waits, even when the wait is
/// abandoned (a request past its deadline drops it mid-wait).
struct Waiting;

impl Waiting {
    fn start() -> Waiting {
        metrics::gauge!("db_gate_waiting").increment(1.0);
        Waiting
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        metrics::gauge!("db_gate_waiting").decrement(1.0);
    }
}

/// Inserts a row under a freshly generated id, drawing again on the (rare) collision.
/// `insert` answers what the insert returned, or `None` when the id was taken.
pub fn with_fresh_id<Id, T>(
    generate: impl Fn() -> Id,
    mut insert: impl FnMut(&Id) -> QueryResult<Option<T>>,
) -> QueryResult<T> {
    for _ in 0..8 {
        if let Some(inserted) = insert(&generate())? {
            return Ok(inserted);
        }
    }
    Err(DieselError::QueryBuilderError("no free id after 8 draws".into()))
}

/// Deletes up to `limit` rows of `table` whose `age` (a column or an expression of
/// them) is before `cutoff`, found by `key` (its columns, comma-separated); how many. Housekeeping deletes in such
/// chunks, each a short statement of its own.
fn delete_before(
    conn: &mut PgConnection,
    table: &'static str,
    key: &'static str,
    age: &'static str,
    cutoff: chrono::DateTime<chrono::Utc>,
    limit: i64,
) -> QueryResult<usize> {
    diesel::sql_query(format!(
        "DELETE FROM {table} WHERE ({key}) IN (SELECT {key} FROM {table} WHERE {age} < $1 LIMIT $2)"
    ))
    .bind::<diesel::sql_types::Timestamptz, _>(cutoff)
    .bind::<diesel::sql_types::BigInt, _>(limit)
    .execute(conn)
}

/// What an advisory lock taken by `lock_until_commit` guards: each its own key space
/// (the migrations' lock takes one 64-bit key, a space apart from these pairs).
#[derive(Debug, Clone, Copy)]
pub enum Guard {
    /// The groups one user owns in this region.
    OwnedGroups = 1,
    /// The invitations one group keeps.
    Invitations = 2,
}

/// Holds an advisory lock on `key` until the transaction ends, so that two requests
/// counting toward one bound and then inserting queue here, and neither passes the
/// bound the other has just reached. Take it first: a serializable transaction reads
/// from the snapshot of its first statement. Keys are hashed; two that share a lock
/// only wait for each other.
pub fn lock_until_commit(conn: &mut PgConnection, guard: Guard, key: &str) -> QueryResult<()> {
    diesel::sql_query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
        .bind::<diesel::sql_types::Integer, _>(guard as i32)
        .bind::<diesel::sql_types::Text, _>(key)
        .execute(conn)?;
    Ok(())
}

/// Rows of `table` strictly after `after` in its newest-first order: one row comparison,
/// `(created_on, id) < (…)`, which Postgres takes as a bound of an index on
/// `(…, created_on DESC, id DESC)`. Written as `created_on < … OR (created_on = … AND
/// id < …)` it was a filter over every newer row: 485 ms for a page half-way through a
/// group of 1 000 000 entries, 0.4 ms as a bound.
pub fn older_than<QS>(
    table: &'static str,
    after: &LedgerPosition,
) -> Box<dyn BoxableExpression<QS, Pg, SqlType = Bool>> {
    Box::new(
        diesel::dsl::sql::<Bool>(&format!("({table}.created_on, {table}.id) < ("))
            .bind::<diesel::sql_types::Timestamptz, _>(after.created_on)
            .sql(", ")
            .bind::<diesel::sql_types::Text, _>(after.id.clone())
            .sql(")"),
    )
}

fn is_retryable(err: &DieselError) -> bool {
    matches!(
        err,
        DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure | DatabaseErrorKind::UniqueViolation, _)
    ) || is_deadlock(err)
}

/// The cheapest round trip that proves the database answers.
pub fn ping(conn: &mut PgConnection) -> QueryResult<()> {
    conn.batch_execute("SELECT 1")
}
