//! The outbox relay: drains events for other regions and retries, with backoff, until
//! the receiving region acknowledges. Receivers apply events idempotently and in any
//! order, so a duplicate delivery (a lost acknowledgement) does no harm.

use std::collections::BTreeMap;
use std::time::Duration;

use actix_web::web;
use contract::RegionId;
use contract::internal::{EventBatch, EventEnvelope};
use reqwest::Method;

use crate::db::outbox;
use crate::error::ApiError;
use crate::startup::AppState;

/// A claimed batch stays ours this long; past it, another relay may send it again.
const CLAIM_SECS: i32 = 30;

pub async fn run(state: web::Data<AppState>) {
    let pause = Duration::from_millis(state.config.relay.interval_ms);
    loop {
        match drain_once(&state).await {
            Ok(sent) if sent as i64 >= state.config.relay.batch_size => continue,
            Ok(_) => {}
            Err(err) => tracing::debug!(error = %err.message, "outbox relay could not drain"),
        }
        tokio::time::sleep(pause).await;
    }
}

/// Sends what is due, one batch per destination; returns how many events were claimed.
pub async fn drain_once(state: &AppState) -> Result<usize, ApiError> {
    let limit = state.config.relay.batch_size;
    let claimed = state.db.run(move |conn| Ok(outbox::claim_due(conn, limit, CLAIM_SECS)?)).await?;
    let count = claimed.len();
    let mut by_region: BTreeMap<String, Vec<outbox::PendingRow>> = BTreeMap::new();
    for row in claimed {
        by_region.entry(row.destination_region.clone()).or_default().push(row);
    }
    for (region, rows) in by_region {
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let attempts = rows.iter().map(|r| r.attempts).max().unwrap_or(1);
        let delivered = match region.parse::<RegionId>() {
            Ok(destination) => deliver(state, destination, &rows).await,
            Err(_) => Err(ApiError::internal(format!("outbox row for malformed region {region}"))),
        };
        match delivered {
            Ok(()) => {
                state.db.run(move |conn| Ok(outbox::mark_delivered(conn, &ids)?)).await?;
                metrics::counter!("outbox_delivered_total", "destination" => region).increment(rows.len() as u64);
            }
            Err(err) => {
                // 250 ms, 500 ms, 1 s, ... capped at 30 s.
                let delay_ms = (250i64 << attempts.clamp(0, 7)).min(30_000) as i32;
                tracing::warn!(destination = %region, attempts, error = %err.message, "outbox delivery failed; will retry");
                metrics::counter!("outbox_delivery_failures_total", "destination" => region).increment(1);
                state.db.run(move |conn| Ok(outbox::retry_later(conn, &ids, delay_ms)?)).await?;
            }
        }
    }
    if let Ok((pending, oldest)) = state.db.run(|conn| Ok(outbox::backlog(conn)?)).await {
        metrics::gauge!("outbox_pending").set(pending as f64);
        metrics::gauge!("outbox_oldest_pending_seconds").set(oldest);
    }
    Ok(count)
}

async fn deliver(state: &AppState, destination: RegionId, rows: &[outbox::PendingRow]) -> Result<(), ApiError> {
    let events = rows
        .iter()
        .map(|row| {
            Ok(EventEnvelope {
                id: row.id,
                origin: state.regions.local,
                created_on: row.created_on,
                event: serde_json::from_value(row.payload.clone()).map_err(ApiError::internal)?,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let response =
        state.peers.call(destination, Method::POST, "/internal/events", Some(&EventBatch { events })).await?;
    if response.status.is_success() {
        Ok(())
    } else {
        Err(ApiError::region_unavailable(format!("region {destination} refused the events: {}", response.status)))
    }
}
