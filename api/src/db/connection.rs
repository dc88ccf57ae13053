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
    pub fn new(url: &str, password: Option<PasswordSource>) -> PgManager {
        PgManager { url: url.to_owned(), password }
    }

    fn url(&self) -> Result<String, diesel::ConnectionError> {
        match &self.password {
            None => Ok(self.url.clone()),
            Some(password) => with_password(&self.url, &password()),
        }
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
