//! What would otherwise grow for ever, deleted every hour: token revocations whose tokens
//! have expired, idempotency records past their retention (the contract promises at least
//! 24 hours), outbox events delivered more than `relay.keep_delivered_hours` ago and
//! invitations closed (used, revoked, expired) more than `groups.invitations_kept_days`
//! ago, login networks not logged in from for `auth.known_network_days`, and failed
//! attempts (lockouts, failed logins by email) that no longer count. In chunks of `CHUNK` rows, each its own
//! short statement with a pause after it: one DELETE of a day's records ran into the 5 s
//! statement timeout and held its locks meanwhile.

use std::time::Duration;

use actix_web::web;
use chrono::Utc;

use crate::db::{Db, email_failures, idempotency, invitations, lockouts, login_networks, outbox, revocations};
use crate::error::ApiError;
use crate::services::AppState;

const CHUNK: i64 = 5_000;
const PAUSE: Duration = Duration::from_millis(50);
const TWO_MINUTES: Duration = Duration::from_secs(120);

/// What one pass deleted.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Purged {
    pub idempotency_records: usize,
    pub outbox_events: usize,
    pub token_revocations: usize,
    pub invitations: usize,
    pub login_networks: usize,
    pub lockouts: usize,
    pub email_failures: usize,
}

/// How long each kind of row is kept once it is done with.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    pub idempotency_records: chrono::Duration,
    pub delivered_events: chrono::Duration,
    pub closed_invitations: chrono::Duration,
    pub login_networks: chrono::Duration,
    /// A lockout after its subject's last failure; a minute of failed logins after it
    /// began. Twice the longest lockout (`Lockout::forget_after`), and two minutes at
    /// the least: by then neither counts any more.
    pub failed_attempts: chrono::Duration,
}

pub async fn run(state: web::Data<AppState>) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        let retention = Retention {
            idempotency_records: chrono::Duration::hours(i64::from(state.config.idempotency.retention_hours.max(24))),
            delivered_events: chrono::Duration::hours(i64::from(state.config.relay.keep_delivered_hours)),
            closed_invitations: chrono::Duration::days(i64::from(state.config.groups.invitations_kept_days)),
            login_networks: chrono::Duration::days(i64::from(state.config.auth.known_network_days)),
            failed_attempts: chrono::Duration::from_std(
                state.login_lockout.forget_after().max(state.join_lockout.forget_after()).max(TWO_MINUTES),
            )
            .unwrap_or(chrono::Duration::days(60)),
        };
        match purge(&state.db, retention).await {
            Ok(purged) => tracing::info!(?purged, "housekeeping done"),
            Err(err) => tracing::warn!(error = %err.message, "housekeeping stopped; the next hour goes on"),
        }
    }
}

/// Deletes what `retention` keeps no longer, and token revocations whose tokens expired.
pub async fn purge(db: &Db, retention: Retention) -> Result<Purged, ApiError> {
    let records_cutoff = Utc::now() - retention.idempotency_records;
    let events_cutoff = Utc::now() - retention.delivered_events;
    let invitations_cutoff = Utc::now() - retention.closed_invitations;
    let networks_cutoff = Utc::now() - retention.login_networks;
    let attempts_cutoff = Utc::now() - retention.failed_attempts;
    Ok(Purged {
        idempotency_records: in_chunks(db, move |conn| idempotency::purge_older_than(conn, records_cutoff, CHUNK))
            .await?,
        outbox_events: in_chunks(db, move |conn| outbox::purge_delivered_before(conn, events_cutoff, CHUNK)).await?,
        token_revocations: in_chunks(db, |conn| revocations::purge_expired(conn, CHUNK)).await?,
        invitations: in_chunks(db, move |conn| invitations::purge_closed_before(conn, invitations_cutoff, CHUNK))
            .await?,
        login_networks: in_chunks(db, move |conn| login_networks::purge_older_than(conn, networks_cutoff, CHUNK))
            .await?,
        lockouts: in_chunks(db, move |conn| lockouts::purge_older_than(conn, attempts_cutoff, CHUNK)).await?,
        email_failures: in_chunks(db, move |conn| email_failures::purge_older_than(conn, attempts_cutoff, CHUNK))
            .await?,
    })
}

async fn in_chunks<F>(db: &Db, delete: F) -> Result<usize, ApiError>
where
    F: Fn(&mut diesel::PgConnection) -> diesel::QueryResult<usize> + Clone + Send + 'static,
{
    let mut total = 0;
    loop {
        let delete = delete.clone();
        let deleted = db.run(move |conn| Ok(delete(conn)?)).await?;
        total += deleted;
        if (deleted as i64) < CHUNK {
            return Ok(total);
        }
        tokio::time::sleep(PAUSE).await;
    }
}
