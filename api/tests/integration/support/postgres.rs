//! Databases for tests: one per test on the shared throwaway cluster, or a private
//! cluster for tests that stop their database. Both go through `infra/local/pg.sh`.

use std::path::PathBuf;
use std::process::Command;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable};

fn pg_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../infra/local/pg.sh")
}

fn run_script(args: &[&str]) {
    let status = Command::new("bash").arg(pg_script()).args(args).status().expect("pg.sh runs");
    assert!(status.success(), "pg.sh {args:?} failed");
}

pub fn cluster_url() -> String {
    std::env::var("LOYALTY_TEST_PG_URL").unwrap_or_else(|_| {
        panic!("LOYALTY_TEST_PG_URL is not set: run the tests with `make test`, which starts a throwaway Postgres")
    })
}

/// A database of its own for one test, dropped with it.
pub struct TestDb {
    pub url: String,
    server_url: String,
    name: String,
}

impl TestDb {
    /// The address of this database's server and the database's name (for a link put in
    /// front of it).
    pub fn server(&self) -> (std::net::SocketAddr, &str) {
        let (server, name) = self.url.rsplit_once('/').expect("a URL with a database");
        let address = server.rsplit_once('@').expect("a URL with a user").1;
        (address.parse().expect("an IP address and port"), name)
    }

    pub fn create() -> TestDb {
        Self::create_on(&cluster_url())
    }

    pub fn create_on(server_url: &str) -> TestDb {
        let name = format!("t_{}", ulid::Ulid::new().to_string().to_lowercase());
        let mut conn = PgConnection::establish(&format!("{server_url}/postgres")).expect("test cluster reachable");
        diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut conn).expect("create test database");
        TestDb { url: format!("{server_url}/{name}"), server_url: server_url.to_owned(), name }
    }

    pub fn connect(&self) -> PgConnection {
        PgConnection::establish(&self.url).expect("test database reachable")
    }

    /// Balance == sum of the ledger and >= 0; returns the balance.
    pub fn assert_ledger_consistent(&self, group_id: &str) -> i64 {
        #[derive(QueryableByName)]
        struct Check {
            #[diesel(sql_type = BigInt)]
            points: i64,
            #[diesel(sql_type = Nullable<BigInt>)]
            ledger: Option<i64>,
        }
        let check: Check = diesel::sql_query(
            "SELECT g.points, (SELECT sum(points)::bigint FROM ledger_entries l WHERE l.group_id = g.id) AS ledger
             FROM groups g WHERE g.id = $1",
        )
        .bind::<diesel::sql_types::Text, _>(group_id)
        .get_result(&mut self.connect())
        .expect("group exists");
        assert_eq!(check.points, check.ledger.unwrap_or(0), "balance must equal the sum of the ledger");
        assert!(check.points >= 0, "balance must never be negative");
        // And every group's books in this test's database, as `loyalty-api --audit` reads them.
        let audit = api::db::audit::read_all(&mut self.connect(), 200).expect("the audit reads");
        assert!(audit.findings.is_empty(), "the audit found: {:?}", audit.findings);
        check.points
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut conn) = PgConnection::establish(&format!("{}/postgres", self.server_url)) {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)).execute(&mut conn);
        }
    }
}

/// A private cluster, for tests that stop and start their database.
pub struct Cluster {
    dir: PathBuf,
    pub port: u16,
}

impl Cluster {
    pub fn start() -> Cluster {
        Self::make(false)
    }

    /// A cluster that refuses connections without TLS (`pg.sh tls`).
    pub fn start_tls_only() -> Cluster {
        Self::make(true)
    }

    fn make(tls_only: bool) -> Cluster {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("pg-{}", ulid::Ulid::new()));
        let cluster = Cluster { dir, port };
        run_script(&["init", cluster.dir_str()]);
        if tls_only {
            run_script(&["tls", cluster.dir_str()]);
        }
        cluster.resume();
        cluster
    }

    fn dir_str(&self) -> &str {
        self.dir.to_str().expect("utf-8 path")
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}", self.port)
    }

    /// Stops the server abruptly, as a crash would.
    pub fn kill(&self) {
        run_script(&["kill", self.dir_str()]);
    }

    /// Durable settings: "fast" mode would lose the last commits to `kill`.
    pub fn resume(&self) {
        run_script(&["start", self.dir_str(), &self.port.to_string()]);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        run_script(&["stop", self.dir_str()]);
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_file(self.dir.with_extension("initdb.log"));
    }
}

/// A lock taken by a transaction from outside the API and held until `release`: a stuck
/// or slow database as the API sees it.
pub struct DbLock {
    release: std::sync::mpsc::Sender<()>,
    holder: std::thread::JoinHandle<()>,
}

impl DbLock {
    /// A group row, locked `FOR UPDATE`: the group's writes wait.
    pub fn group(db: &TestDb, group: &str) -> DbLock {
        Self::hold(db, format!("SELECT 1 FROM groups WHERE id = '{group}' FOR UPDATE"))
    }

    /// A whole table, locked against writes: every insert into it waits.
    pub fn table(db: &TestDb, table: &str) -> DbLock {
        Self::hold(db, format!("LOCK TABLE {table} IN SHARE MODE"))
    }

    /// A whole table, read by a transaction that stays open (a report, a dump): nothing
    /// waits for it but what needs the table to itself (`ALTER TABLE`).
    pub fn read(db: &TestDb, table: &str) -> DbLock {
        Self::hold(db, format!("LOCK TABLE {table} IN ACCESS SHARE MODE"))
    }

    fn hold(db: &TestDb, statement: String) -> DbLock {
        let (locked, is_locked) = std::sync::mpsc::channel::<()>();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let url = db.url.clone();
        let holder = std::thread::spawn(move || {
            let mut conn = PgConnection::establish(&url).expect("test database reachable");
            conn.transaction::<_, diesel::result::Error, _>(|conn| {
                diesel::sql_query(&statement).execute(conn)?;
                locked.send(()).expect("the test waits for the lock");
                let _ = released.recv();
                Ok(())
            })
            .expect("lock transaction");
        });
        is_locked.recv().expect("the lock was taken");
        DbLock { release, holder }
    }

    pub fn release(self) {
        let _ = self.release.send(());
        self.holder.join().expect("lock holder");
    }
}
