//! Layered configuration: built-in defaults (which run the local deployment's region
//! 001), then an optional TOML file, then `LOYALTY_...` environment variables, with `__`
//! for nesting (`LOYALTY_DB__POOL_SIZE=20`). Secrets (signing keys, passwords) have no
//! defaults and come from the environment or a file outside the repository.

use std::collections::BTreeMap;
use std::path::Path;

use contract::RegionId;
use figment::providers::Env;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    /// The region this instance serves.
    #[serde(deserialize_with = "region_code")]
    pub region: RegionId,
    /// Address to listen on; port 0 picks a free port (tests).
    pub listen: String,
    pub database_url: String,
    /// Every region of the deployment, so ids of other regions are told from unknown ones.
    pub regions: Vec<RegionConfig>,
    /// Points per whole currency unit billed.
    pub points_per_unit: i64,
    /// HTTP worker threads; defaults to the number of cores.
    pub workers: Option<usize>,
    /// Log as JSON lines (for log shippers) instead of plain text.
    pub log_json: bool,
    pub db: DbConfig,
    pub auth: AuthConfig,
    pub catalogue: CatalogueConfig,
    pub idempotency: IdempotencyConfig,
    pub bootstrap: BootstrapConfig,
    /// `LOYALTY_ADMIN_EMAIL` / `LOYALTY_ADMIN_PASSWORD`: the bootstrap admin, created in
    /// `bootstrap.admin_region` when both are set.
    pub admin_email: Option<String>,
    pub admin_password: Option<String>,
    /// Shared secret for `/internal` calls between regions (and from the router). Without
    /// it, `/internal` answers 401 and the outbox relay cannot deliver.
    pub service_token: Option<String>,
    pub relay: RelayConfig,
    pub directory: DirectoryConfig,
    pub points: PointsConfig,
    pub groups: GroupsConfig,
    /// HTTPS on the listener (`cert_file`, `key_file`) and the CAs trusted when calling
    /// other regions at `https://` URLs (`ca_file`, on top of the system's roots).
    pub tls: tls::TlsConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupsConfig {
    /// Members a group may have, its owner included (`409 group_full` beyond).
    pub max_members: i64,
    /// Groups one user may own in one region, their personal group not counted, those
    /// they left alone included (`409 limit_reached` for a new group or one handed to
    /// them beyond it): each is rows, relay events and a place in its members' fan-out,
    /// so one account cannot make them without end.
    pub max_owned: i64,
    /// Invitations a group keeps, whatever their state (`409 limit_reached` beyond):
    /// one that no longer opens the group (used, revoked or expired) is deleted
    /// `invitations_kept_days` after, and its place is free again.
    pub max_invitations: i64,
    pub invitations_kept_days: u32,
    /// Joins of one caller whose invitation opened nothing before that caller is locked
    /// out of joining, 1 s after the first failure beyond, doubling with each further one
    /// (admins, who add members without codes, are not counted).
    pub join_max_failures: u32,
    /// The longest such lockout (30 days at the most). Failures are counted for the
    /// whole region, in its database.
    pub join_lockout_secs: u64,
}

/// Group commit of points writes (`services::batches`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PointsConfig {
    /// Batches in flight at once, each one transaction on one pooled connection. Fewer
    /// runners make bigger batches (fewer statements per write); more than one keeps a
    /// batch that waits on a row lock (another instance's) from stalling every write.
    pub batch_runners: usize,
    pub max_batch: usize,
    /// Writes waiting on one group before more are refused with 503.
    pub max_waiting_per_group: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RelayConfig {
    /// Pause between outbox drains when there is nothing (more) to send.
    pub interval_ms: u64,
    pub batch_size: i64,
    /// Delivered events are deleted this long after delivery.
    pub keep_delivered_hours: u32,
    /// Per call to another region.
    pub request_timeout_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DirectoryConfig {
    /// How long a sign-up's email reservation holds before it may be checked and replaced.
    pub lease_secs: i32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegionConfig {
    #[serde(deserialize_with = "region_code")]
    pub id: RegionId,
    pub name: String,
    /// Base URLs of the region's API instances, for `/internal` calls.
    #[serde(default)]
    pub urls: Vec<String>,
}

/// How the API authenticates to its database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DbAuth {
    /// Whatever the URL carries (the local deployment: trust on loopback).
    Password,
    /// RDS IAM database authentication: short-lived tokens from the instance's AWS
    /// credentials, TLS required. Needs a build with `--features iam`.
    Iam,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DbConfig {
    /// `password` or `iam`; also set by the environment variable `DB_AUTH`.
    pub auth: DbAuth,
    /// Connections in the r2d2 pool, and so queries in flight at once.
    pub pool_size: u32,
    /// How long a query may wait for a pooled connection before the request gets 503.
    pub connection_timeout_ms: u64,
    /// How long opening a connection may wait on one database host before trying the next
    /// of the URL (libpq `connect_timeout`, 2 at the least); a URL's own setting wins.
    pub connect_timeout_secs: u64,
    /// How long a query or keepalive probe sent to the database may go unacknowledged
    /// before the connection is given up (libpq `tcp_user_timeout`); a URL's own wins.
    pub tcp_user_timeout_ms: u64,
    /// How long a request may wait for its turn at the database gate before 503.
    pub gate_timeout_ms: u64,
    pub statement_timeout_ms: u64,
    /// Postgres `idle_in_transaction_session_timeout`: a session whose transaction waits
    /// this long for its next statement is ended, and its locks released. An instance
    /// frozen or cut off mid-transaction would otherwise hold its groups' rows until TCP
    /// gave up on it (hours by default); this instance's own transactions never wait
    /// between statements.
    pub idle_in_transaction_timeout_ms: u64,
    /// The longest a request's database work may take, waits included; then it answers
    /// 504 (a slow or cut-off network is not bounded by `statement_timeout`). The work
    /// keeps its connection until it ends, so a slow database cannot pile work up.
    pub deadline_ms: u64,
    /// How long start-up, all told, waits for the database (to answer, then to take the
    /// bootstrap accounts) before giving up.
    pub startup_wait_secs: u64,
    /// Attempts of a points transaction that keeps meeting serialization failures.
    pub max_tx_attempts: u32,
    /// Apply pending migrations at start (the local deployment, whose role owns the
    /// schema). Off where the service's role cannot change the schema (the cloud): then
    /// start-up only checks that none is pending, and `loyalty-api --migrate`, run by the
    /// deploy as the migration role, applies them.
    pub migrate: bool,
    /// How long a migration may wait in the queue for a table's lock before it steps out
    /// and tries again: points writes queue behind a waiting `ALTER TABLE`.
    pub migration_lock_timeout_ms: u64,
    /// How many times a migration asks for its locks before the deploy fails.
    pub migration_lock_attempts: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthConfig {
    pub token_ttl_secs: i64,
    /// This region's Ed25519 signing key: its 32-byte seed, base64url
    /// (`loyalty-api --new-signing-key` makes one). Secret: from SSM, never a file in git.
    pub signing_key: Option<String>,
    /// The signing key's id, `<region>k<version>`; default `<region>k1`. A new version
    /// rotates the key.
    pub active_key_id: Option<String>,
    /// Key id → public key (base64url, 32 bytes) of every region's keys, retired ones
    /// too while their tokens may live (`token_ttl_secs`). Not secret.
    pub verifying_keys: BTreeMap<String, String>,
    /// How often each instance reads every region's token denylist: a logout or role
    /// change is refused everywhere within this (at once where it was made).
    pub revocation_poll_ms: u64,
    /// How long another region's denylist may go unread before this region refuses
    /// writes (anything but GET) by that region's users with `503 region_unavailable`: a
    /// token revoked there meanwhile (a stolen one, a fired cashier's) is not known here,
    /// so it may not spend, bill or give a group away while that lasts. Reads go on.
    pub revocation_stale_ms: u64,
    /// Failed logins of one email from one client address before that pair is locked
    /// out, 1 s after the first failure beyond, doubling with each further one.
    pub login_max_failures: u32,
    /// The longest such lockout (30 days at the most). Failures are counted for the
    /// whole region, in its database.
    pub login_lockout_secs: u64,
    /// Failed logins of one email within a minute, from any addresses, past which only
    /// the networks its user has logged in from may try its password (`429
    /// rate_limited` elsewhere, before any hashing), counted for the whole region.
    pub email_failures_per_minute: u32,
    /// How long a network (an IPv4 /24, an IPv6 /64) stays known after the last login
    /// from it.
    pub known_network_days: u32,
    /// Password hashes (sign-up, login) running at once; 0: one per core.
    pub hashing_concurrency: usize,
    /// How long a sign-up or login waits for its turn before `429 rate_limited`.
    pub hashing_wait_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CatalogueConfig {
    pub ttl_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdempotencyConfig {
    /// Records older than this are purged; the contract promises at least 24 hours.
    pub retention_hours: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BootstrapConfig {
    #[serde(deserialize_with = "region_code")]
    pub admin_region: RegionId,
    /// Optional staff account for this region (the local deployment makes one per region).
    pub staff_email: Option<String>,
    pub staff_password: Option<String>,
}

/// Environment variables arrive typed by figment: `LOYALTY_REGION=001` is the integer 1.
/// Accept that as well as the string.
fn region_code<'de, D: serde::Deserializer<'de>>(d: D) -> Result<RegionId, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Code {
        Text(String),
        Number(u16),
    }
    let text = match Code::deserialize(d)? {
        Code::Text(text) => text,
        Code::Number(n) => format!("{n:03}"),
    };
    text.parse().map_err(serde::de::Error::custom)
}

fn region(code: &str) -> RegionId {
    code.parse().unwrap_or_else(|_| unreachable!("built-in region codes are valid"))
}

impl Default for Config {
    fn default() -> Self {
        Config {
            region: region("001"),
            listen: "127.0.0.1:8101".to_owned(),
            database_url: "postgres://postgres@127.0.0.1:4001/loyalty".to_owned(),
            // Region 001 alone; a deployment's regions come from its configuration file
            // (`make up` writes it from infra/local/topology.toml).
            regions: vec![RegionConfig {
                id: region("001"),
                name: "Europe".to_owned(),
                urls: vec!["http://127.0.0.1:8101".to_owned()],
            }],
            points_per_unit: 1,
            workers: None,
            log_json: false,
            db: DbConfig {
                auth: DbAuth::Password,
                pool_size: 10,
                connection_timeout_ms: 2_000,
                connect_timeout_secs: 3,
                tcp_user_timeout_ms: 10_000,
                gate_timeout_ms: 3_000,
                statement_timeout_ms: 5_000,
                idle_in_transaction_timeout_ms: 5_000,
                deadline_ms: 8_000,
                startup_wait_secs: 30,
                max_tx_attempts: 30,
                migrate: true,
                migration_lock_timeout_ms: 1_000,
                migration_lock_attempts: 20,
            },
            auth: AuthConfig {
                token_ttl_secs: 3_600,
                signing_key: None,
                active_key_id: None,
                verifying_keys: BTreeMap::new(),
                revocation_poll_ms: 1_000,
                revocation_stale_ms: 10_000,
                login_max_failures: 5,
                login_lockout_secs: 300,
                email_failures_per_minute: 30,
                known_network_days: 90,
                hashing_concurrency: 0,
                hashing_wait_ms: 1_000,
            },
            catalogue: CatalogueConfig { ttl_secs: 30 },
            idempotency: IdempotencyConfig { retention_hours: 48 },
            bootstrap: BootstrapConfig { admin_region: region("001"), staff_email: None, staff_password: None },
            admin_email: None,
            admin_password: None,
            service_token: None,
            relay: RelayConfig {
                interval_ms: 250,
                batch_size: 200,
                keep_delivered_hours: 24,
                request_timeout_ms: 3_000,
            },
            directory: DirectoryConfig { lease_secs: 60 },
            points: PointsConfig { batch_runners: 2, max_batch: 64, max_waiting_per_group: 512 },
            groups: GroupsConfig {
                max_members: 10,
                max_owned: 100,
                max_invitations: 100,
                invitations_kept_days: 30,
                join_max_failures: 5,
                join_lockout_secs: 300,
            },
            tls: tls::TlsConfig::default(),
        }
    }
}

impl Config {
    /// Defaults, then `file` if given, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Config, Box<figment::Error>> {
        observability::config::layers::<Config>(file, "LOYALTY_")
            // The deployment's documented switch: `DB_AUTH=iam`.
            .merge(Env::raw().only(&["DB_AUTH"]).map(|_| "db.auth".into()))
            .extract()
            .map_err(Box::new)
    }

    pub fn region_name(&self, id: RegionId) -> Option<&str> {
        self.regions.iter().find(|r| r.id == id).map(|r| r.name.as_str())
    }
}

#[cfg(test)]
// figment::Jail's closures must return figment's (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("LOYALTY_REGION", "002");
            jail.set_env("LOYALTY_DB__POOL_SIZE", "20");
            jail.set_env("LOYALTY_AUTH__VERIFYING_KEYS__003K1", "public-key-of-003");
            jail.set_env("LOYALTY_ADMIN_EMAIL", "root@example.com");
            let config = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(config.region.as_str(), "002");
            assert_eq!(config.db.pool_size, 20);
            assert_eq!(config.auth.verifying_keys["003k1"], "public-key-of-003");
            assert_eq!(config.admin_email.as_deref(), Some("root@example.com"));
            assert_eq!(config.regions.len(), 1, "the built-in default names region 001 alone");
            Ok(())
        });
    }

    #[test]
    fn db_auth_comes_from_db_auth() {
        figment::Jail::expect_with(|jail| {
            assert_eq!(Config::load(None).map_err(|e| e.to_string())?.db.auth, DbAuth::Password);
            jail.set_env("DB_AUTH", "iam");
            assert_eq!(Config::load(None).map_err(|e| e.to_string())?.db.auth, DbAuth::Iam);
            Ok(())
        });
    }

    #[test]
    fn a_file_sits_between_defaults_and_environment() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("api.toml", "region = \"003\"\npoints_per_unit = 3\n[catalogue]\nttl_secs = 5\n")?;
            jail.set_env("LOYALTY_POINTS_PER_UNIT", "4");
            let config = Config::load(Some(Path::new("api.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(config.region.as_str(), "003");
            assert_eq!(config.points_per_unit, 4);
            assert_eq!(config.catalogue.ttl_secs, 5);
            Ok(())
        });
    }
}
