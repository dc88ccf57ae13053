//! Opening database connections. With a password source (IAM database auth, `DB_AUTH=iam`),
//! every new connection gets the current token as its password, and TLS is required.

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{CustomizeConnection, ManageConnection, R2D2Connection};

/// Where a connection's password comes from when it is not in the URL.
pub type PasswordSource = Arc<dyn Fn() -> String + Send + Sync>;

pub struct PgManager {
    url: String,
    password: Option<PasswordSource>,
}

impl PgManager {
    pub fn new(url: &str, password: Option<PasswordSource>, bounds: &NetworkBounds) -> PgManager {
        PgManager { url: bounds.applied_to(url), password }
    }

    fn url(&self) -> Result<String, diesel::ConnectionError> {
        match &self.password {
            None => Ok(self.url.clone()),
            Some(password) => with_password(&self.url, &password()),
        }
    }
}

/// How long a connection waits on a database host that has gone silent (an availability
/// zone gone dark, a partition: no refusal, no answer). libpq's defaults are the operating
/// system's: a connection attempt waited about two minutes for a host that never
/// answered, before trying the next host of the URL (a promoted standby), and a query on
/// a connection to it until TCP gave up retransmitting (about fifteen minutes), holding
/// one of the pool's connections all that time.
#[derive(Debug, Clone, Copy)]
pub struct NetworkBounds {
    /// libpq `connect_timeout`, per host (libpq takes 2 at the least).
    pub connect_timeout_secs: u64,
    /// libpq `tcp_user_timeout`: how long sent data (a query, a keepalive probe) may go
    /// unacknowledged before the connection is given up.
    pub tcp_user_timeout_ms: u64,
}

impl NetworkBounds {
    /// `url` with these bounds and TCP keepalives (probing an idle connection after 5 s,
    /// every 2 s), each only where the URL does not set it itself. A URL
    /// (`postgres://...`, several hosts too) gets them as query parameters, a
    /// `key=value` connection string as more pairs.
    pub fn applied_to(&self, url: &str) -> String {
        let connect_timeout = self.connect_timeout_secs.max(2).to_string();
        let tcp_user_timeout = self.tcp_user_timeout_ms.to_string();
        let settings = [
            ("connect_timeout", connect_timeout.as_str()),
            ("tcp_user_timeout", tcp_user_timeout.as_str()),
            ("keepalives", "1"),
            ("keepalives_idle", "5"),
            ("keepalives_interval", "2"),
        ];
        let is_uri = url.starts_with("postgres://") || url.starts_with("postgresql://");
        let query = if is_uri { url.split_once('?').map_or("", |(_, q)| q) } else { url };
        let set: Vec<&str> =
            query.split(['&', ' ']).filter_map(|pair| pair.split_once('=').map(|(k, _)| k.trim())).collect();
        let mut out = url.to_owned();
        for (key, value) in settings.into_iter().filter(|(key, _)| !set.contains(key)) {
            let separator = match (is_uri, out.contains('?')) {
                (false, _) => ' ',
                (true, false) => '?',
                (true, true) => '&',
            };
            out.push(separator);
            out.push_str(key);
            out.push('=');
            out.push_str(value);
        }
        out
    }
}

/// `url` with `password` (percent-encoded: tokens are full of `&`, `=` and `%`) and
/// `sslmode=require` unless a stricter mode is set.
pub fn with_password(url: &str, password: &str) -> Result<String, diesel::ConnectionError> {
    let bad = |e: &dyn std::fmt::Display| diesel::ConnectionError::InvalidConnectionUrl(format!("database_url: {e}"));
    let mut parsed = url::Url::parse(url).map_err(|e| bad(&e))?;
    // Encode everything but unreserved characters ourselves: `set_password` leaves `%`
    // and `&` alone, and libpq would decode the token's own `%2F` into `/`.
    let encoded: String = url::form_urlencoded::byte_serialize(password.as_bytes()).collect();
    parsed.set_password(Some(&encoded)).map_err(|()| bad(&"cannot carry a password"))?;
    let strict =
        parsed.query_pairs().any(|(k, v)| k == "sslmode" && (v == "require" || v == "verify-ca" || v == "verify-full"));
    if !strict {
        let kept: Vec<(String, String)> = parsed
            .query_pairs()
            .filter(|(k, _)| k != "sslmode")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(kept).append_pair("sslmode", "require");
    }
    Ok(parsed.to_string())
}

/// Host, port and user of a database URL: what an IAM token is signed for.
pub fn token_target(url: &str) -> Result<(String, u16, String), String> {
    let parsed = url::Url::parse(url).map_err(|e| e.to_string())?;
    let host = parsed.host_str().ok_or("database_url has no host")?.to_owned();
    let user = parsed.username();
    if user.is_empty() {
        return Err("database_url has no user (the IAM database user)".into());
    }
    Ok((host, parsed.port().unwrap_or(5432), user.to_owned()))
}

/// A pooled connection and when the server last answered on it.
pub struct Pooled {
    pub conn: PgConnection,
    answered: Instant,
}

impl Pooled {
    /// Call after using the connection: any answer, an error included, shows it is alive
    /// (a lost connection is marked broken by diesel and dropped by the pool instead).
    pub fn answered(&mut self) {
        self.answered = Instant::now();
    }
}

/// How long after its last answer a connection is handed out without a ping. The ping is
/// a round trip of its own (one in nine of a redemption's, one in three of a group read's);
/// a connection that answered this recently and died since fails its request with a 503,
/// which a retry with the same Idempotency-Key takes safely, as any lost connection.
const FRESH: Duration = Duration::from_secs(1);

impl ManageConnection for PgManager {
    type Connection = Pooled;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<Pooled, Self::Error> {
        let url = self.url().map_err(diesel::r2d2::Error::ConnectionError)?;
        let conn = PgConnection::establish(&url).map_err(diesel::r2d2::Error::ConnectionError)?;
        Ok(Pooled { conn, answered: Instant::now() })
    }

    fn is_valid(&self, conn: &mut Pooled) -> Result<(), Self::Error> {
        if conn.answered.elapsed() < FRESH {
            return Ok(());
        }
        conn.conn.ping().map_err(diesel::r2d2::Error::QueryError)?;
        conn.answered();
        Ok(())
    }

    fn has_broken(&self, conn: &mut Pooled) -> bool {
        std::thread::panicking() || conn.conn.is_broken()
    }
}

/// Settings every pooled connection gets when it is opened.
#[derive(Debug)]
pub struct SessionSettings {
    pub statement_timeout_ms: u64,
    pub idle_in_transaction_timeout_ms: u64,
}

impl CustomizeConnection<Pooled, diesel::r2d2::Error> for SessionSettings {
    fn on_acquire(&self, conn: &mut Pooled) -> Result<(), diesel::r2d2::Error> {
        conn.conn
            .batch_execute(&format!(
                "SET statement_timeout = {}; SET idle_in_transaction_session_timeout = {}",
                self.statement_timeout_ms, self.idle_in_transaction_timeout_ms
            ))
            .map_err(diesel::r2d2::Error::QueryError)?;
        pin_messages(&mut conn.conn)
    }
}

/// How the pool tells of connections it could not open or check: a count
/// (`db_connection_failures_total`) and at most one WARN line per `EVERY`, with the
/// failures since the last one. r2d2 would log an ERROR line for each, about ten a second
/// per instance while a database is down (879 lines in 87 s of a local outage): in a
/// failover the instances ride it out by themselves, a client that meets it gets 503 or
/// 504, and a database gone for good fails `/readyz`. ERROR is kept for faults of ours.
#[derive(Debug, Default)]
pub struct PoolErrors {
    /// When the last line was written, and the failures since.
    last_line: std::sync::Mutex<(Option<Instant>, u64)>,
}

impl PoolErrors {
    const EVERY: Duration = Duration::from_secs(10);

    /// Counts a failure: the failures to report when a line is due.
    fn count(&self, now: Instant) -> Option<u64> {
        let mut last = self.last_line.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        last.1 += 1;
        if last.0.is_some_and(|at| now.duration_since(at) < Self::EVERY) {
            return None;
        }
        let failures = last.1;
        *last = (Some(now), 0);
        Some(failures)
    }
}

impl diesel::r2d2::HandleError<diesel::r2d2::Error> for PoolErrors {
    fn handle_error(&self, error: diesel::r2d2::Error) {
        metrics::counter!("db_connection_failures_total").increment(1);
        if let Some(failures) = self.count(Instant::now()) {
            tracing::warn!(%error, failures, "database connections failing (failures since the last such line)");
        }
    }
}

/// Diesel names only some SQLSTATEs (serialization failure, unique violation, lost
/// connection) and hides the rest, so deadlocks (40P01) and statement timeouts (57014) are
/// told apart by their text (`error.rs`). That text is in the server's `lc_messages`:
/// every connection makes sure it is untranslated, or refuses to be used.
fn pin_messages(conn: &mut PgConnection) -> Result<(), diesel::r2d2::Error> {
    #[derive(QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::Text)]
        lc_messages: String,
    }
    let current = diesel::sql_query("SELECT current_setting('lc_messages') AS lc_messages")
        .get_result::<Setting>(conn)
        .map_err(diesel::r2d2::Error::QueryError)?;
    if untranslated(&current.lc_messages) {
        return Ok(());
    }
    // Only a superuser may change it per session; elsewhere the database's parameters must.
    conn.batch_execute("SET lc_messages = 'C'").map_err(|_| {
        diesel::r2d2::Error::ConnectionError(diesel::ConnectionError::BadConnection(format!(
            "the database's lc_messages is '{}' and this role may not set it: set lc_messages = 'C' \
             in the database's parameters (errors are recognised by their untranslated text)",
            current.lc_messages
        )))
    })
}

/// Postgres's messages are untranslated under the C/POSIX locales and any English one.
fn untranslated(lc_messages: &str) -> bool {
    let language = lc_messages.split(['.', '_', '@']).next().unwrap_or_default();
    matches!(language, "" | "C" | "POSIX" | "en")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_failures_are_told_once_per_interval_with_their_count() {
        let errors = PoolErrors::default();
        let start = Instant::now();
        assert_eq!(errors.count(start), Some(1), "the first at once");
        for ms in 1..100 {
            assert_eq!(errors.count(start + Duration::from_millis(ms * 100)), None);
        }
        assert_eq!(errors.count(start + PoolErrors::EVERY), Some(100), "then those since");
        assert_eq!(errors.count(start + PoolErrors::EVERY + Duration::from_millis(1)), None);
    }

    #[test]
    fn every_url_gets_network_bounds_it_does_not_set_itself() {
        let bounds = NetworkBounds { connect_timeout_secs: 3, tcp_user_timeout_ms: 10_000 };
        let all = "connect_timeout=3&tcp_user_timeout=10000&keepalives=1&keepalives_idle=5&keepalives_interval=2";
        assert_eq!(bounds.applied_to("postgres://u@h:5432/db"), format!("postgres://u@h:5432/db?{all}"));
        assert_eq!(
            bounds.applied_to("postgres://u@a:1,b:2/db?target_session_attrs=read-write&connect_timeout=2"),
            "postgres://u@a:1,b:2/db?target_session_attrs=read-write&connect_timeout=2\
             &tcp_user_timeout=10000&keepalives=1&keepalives_idle=5&keepalives_interval=2"
        );
        assert_eq!(
            bounds.applied_to("host=h dbname=db keepalives=0"),
            "host=h dbname=db keepalives=0 connect_timeout=3 tcp_user_timeout=10000 keepalives_idle=5 keepalives_interval=2"
        );
        let low = NetworkBounds { connect_timeout_secs: 0, tcp_user_timeout_ms: 500 };
        assert!(low.applied_to("postgresql://h/db").contains("connect_timeout=2&"), "libpq takes 2 s at the least");
    }

    #[test]
    fn tokens_go_in_percent_encoded_with_tls_required() {
        let token = "db.rds.amazonaws.com:5432/?Action=connect&DBUser=loyalty_api&X-Amz-Signature=ab%2Fcd";
        let url = with_password("postgres://loyalty_api@db.rds.amazonaws.com:5432/loyalty", token).unwrap();
        assert!(
            url.starts_with(
                "postgres://loyalty_api:db.rds.amazonaws.com%3A5432%2F%3FAction%3Dconnect%26DBUser%3Dloyalty_api"
            ),
            "{url}"
        );
        assert!(url.ends_with("@db.rds.amazonaws.com:5432/loyalty?sslmode=require"), "{url}");
        // What a URL parser (libpq) decodes is the token itself.
        let password = url::Url::parse(&url).unwrap().password().unwrap().to_owned();
        let decoded: String =
            url::form_urlencoded::parse(format!("p={password}").as_bytes()).map(|(_, v)| v.into_owned()).collect();
        assert_eq!(decoded, token);
        let weak = with_password("postgres://u@h/db?sslmode=prefer&connect_timeout=2", "t").unwrap();
        assert_eq!(weak, "postgres://u:t@h/db?connect_timeout=2&sslmode=require");
        let strict = with_password("postgres://u@h/db?sslmode=verify-full", "t").unwrap();
        assert_eq!(strict, "postgres://u:t@h/db?sslmode=verify-full");
    }

    #[test]
    fn the_token_is_signed_for_host_port_and_user() {
        assert_eq!(
            token_target("postgres://loyalty_api@db.example:6432/loyalty"),
            Ok(("db.example".into(), 6432, "loyalty_api".into()))
        );
        assert_eq!(token_target("postgres://u@db.example/loyalty").unwrap().1, 5432);
        assert!(token_target("postgres://db.example/loyalty").is_err());
    }

    #[test]
    fn only_untranslated_locales_are_accepted_as_they_are() {
        for english in ["", "C", "C.UTF-8", "C.utf8", "POSIX", "en_US.UTF-8", "en_GB", "en"] {
            assert!(untranslated(english), "{english}");
        }
        for other in ["de_DE.UTF-8", "fr_FR", "ja_JP.eucJP", "es", "Cz"] {
            assert!(!untranslated(other), "{other}");
        }
    }
}
