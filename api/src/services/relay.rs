//! The outbox relay: drains events for other regions and retries, with backoff, until
//! the receiving region acknowledges. Receivers apply events idempotently and in any
//! order, so a duplicate delivery (a lost acknowledgement) does no harm.

use std::collections::VecDeque;
use std::time::Duration;

use actix_web::web;
use contract::RegionId;
use contract::internal::{EventBatch, EventEnvelope};

use crate::db::outbox;
use crate::error::ApiError;
use crate::services::AppState;

/// A claimed batch stays ours this long; past it, another relay may send it again.
const CLAIM_SECS: i32 = 30;

/// Events per call to another region, in bytes of JSON: well under the receiver's 64 KiB
/// body limit, which 200 events with long emails used to pass, failing for ever on the
/// same ids.
const MAX_CALL_BYTES: usize = 48 * 1024;

/// How long an event this version cannot read waits before it is tried again (by then,
/// perhaps, by an instance of the version that wrote it).
const UNREADABLE_RETRY_MS: i32 = 10 * 60 * 1000;

/// Drains the outbox, each destination on its own: a region whose calls hang until their
/// timeout holds up only the events for it. (With one loop for all, a membership bound
/// for 002 waited 2.5 s instead of 0.1 s while 003's link dropped traffic.) Events for a
/// region this deployment does not name are never sent; the backlog gauges count them.
pub async fn run(state: web::Data<AppState>) {
    let local = state.regions.local;
    let destinations = state.regions.all().iter().copied().filter(|&region| region != local);
    let follows = futures_util::future::join_all(destinations.map(|destination| follow(&state, destination)));
    let gauges = async {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if let Ok((pending, oldest)) = state.db.run(|conn| Ok(outbox::backlog(conn)?)).await {
                metrics::gauge!("outbox_pending").set(pending as f64);
                metrics::gauge!("outbox_oldest_pending_seconds").set(oldest);
            }
        }
    };
    futures_util::future::join(follows, gauges).await;
}

async fn follow(state: &AppState, destination: RegionId) {
    let pause = Duration::from_millis(state.config.relay.interval_ms);
    loop {
        match drain_once(state, destination).await {
            Ok(sent) if sent as i64 >= state.config.relay.batch_size => continue,
            Ok(_) => {}
            Err(err) => tracing::debug!(%destination, error = %err.message, "outbox relay could not drain"),
        }
        tokio::time::sleep(pause).await;
    }
}

/// Sends one batch of what is due for `destination`; returns how many events were claimed.
async fn drain_once(state: &AppState, destination: RegionId) -> Result<usize, ApiError> {
    let limit = state.config.relay.batch_size;
    let region = destination.to_string();
    let claimed_for = region.clone();
    let rows = state.db.run(move |conn| Ok(outbox::claim_due(conn, &claimed_for, limit, CLAIM_SECS)?)).await?;
    let count = rows.len();
    if count == 0 {
        return Ok(0);
    }
    let attempts = rows.iter().map(|r| r.attempts).max().unwrap_or(1);
    let (envelopes, unreadable) = readable(state.regions.local, rows);
    if !unreadable.is_empty() {
        tracing::error!(destination = %region, ids = ?unreadable, "outbox events this version cannot read; set aside");
        metrics::counter!("outbox_unreadable_total", "destination" => region.clone())
            .increment(unreadable.len() as u64);
        state.db.run(move |conn| Ok(outbox::retry_later(conn, &unreadable, UNREADABLE_RETRY_MS)?)).await?;
    }
    let (delivered, undelivered) = deliver(state, destination, envelopes).await;
    if !delivered.is_empty() {
        let count = delivered.len() as u64;
        state.db.run(move |conn| Ok(outbox::mark_delivered(conn, &delivered)?)).await?;
        metrics::counter!("outbox_delivered_total", "destination" => region.clone()).increment(count);
    }
    if let Some((ids, err)) = undelivered {
        // 250 ms, 500 ms, 1 s, ... capped at 30 s.
        let delay_ms = (250i64 << attempts.clamp(0, 7)).min(30_000) as i32;
        tracing::warn!(destination = %region, attempts, error = %err.message, "outbox delivery failed; will retry");
        metrics::counter!("outbox_delivery_failures_total", "destination" => region).increment(1);
        state.db.run(move |conn| Ok(outbox::retry_later(conn, &ids, delay_ms)?)).await?;
    }
    Ok(count)
}

/// The rows' events, and the ids of those this version cannot read: written by a newer
/// version (mid-deploy) or damaged. Those wait apart, so they hold up no other event
/// (in one call with them, every event failed with them, for ever).
fn readable(origin: RegionId, rows: Vec<outbox::PendingRow>) -> (Vec<EventEnvelope>, Vec<i64>) {
    let (mut envelopes, mut unreadable) = (Vec::with_capacity(rows.len()), Vec::new());
    for row in rows {
        match serde_json::from_value(row.payload) {
            Ok(event) => envelopes.push(EventEnvelope { id: row.id, origin, created_on: row.created_on, event }),
            Err(_) => unreadable.push(row.id),
        }
    }
    (envelopes, unreadable)
}

/// Sends `envelopes` in calls of at most `MAX_CALL_BYTES` each, halving a call the
/// receiver refuses as too large. Returns the ids delivered, and those not delivered
/// with why (the first failure stops the rest, which keep their order for the retry).
async fn deliver(
    state: &AppState,
    destination: RegionId,
    envelopes: Vec<EventEnvelope>,
) -> (Vec<i64>, Option<(Vec<i64>, ApiError)>) {
    let mut pending: VecDeque<Vec<EventEnvelope>> = by_size(envelopes, MAX_CALL_BYTES).into();
    let mut delivered = Vec::new();
    while let Some(events) = pending.pop_front() {
        let batch = EventBatch { events };
        let answer = state
            .peers
            .ask(destination, |peer| {
                let batch = &batch;
                async move { peer.deliver_events(batch).await }
            })
            .await;
        let mut events = batch.events;
        let failure = match answer {
            Ok(Ok(_)) => {
                delivered.extend(events.iter().map(|e| e.id));
                continue;
            }
            Ok(Err(refused)) if refused.status() == Some(413) && events.len() > 1 => {
                let second = events.split_off(events.len() / 2);
                pending.push_front(second);
                pending.push_front(events);
                continue;
            }
            Ok(Err(refused)) => {
                ApiError::region_unavailable(format!("region {destination} refused the events: {refused}"))
            }
            Err(err) => err,
        };
        let undelivered = events.iter().chain(pending.iter().flatten()).map(|e| e.id).collect();
        return (delivered, Some((undelivered, failure)));
    }
    (delivered, None)
}

/// Splits `events` in order into runs whose JSON stays within `max_bytes` (an event
/// larger than that alone goes alone).
fn by_size(events: Vec<EventEnvelope>, max_bytes: usize) -> Vec<Vec<EventEnvelope>> {
    let mut runs: Vec<Vec<EventEnvelope>> = Vec::new();
    let mut size = 0;
    for event in events {
        let bytes = serde_json::to_vec(&event).map_or(max_bytes, |json| json.len() + 1);
        match runs.last_mut() {
            Some(run) if size + bytes <= max_bytes => {
                size += bytes;
                run.push(event);
            }
            _ => {
                size = bytes;
                runs.push(vec![event]);
            }
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use contract::internal::Event;

    use super::*;

    #[test]
    fn long_events_are_sent_in_calls_under_the_body_limit_in_order() {
        let user: contract::UserId = "002-abcdef".parse().unwrap();
        let events: Vec<EventEnvelope> = (0..200)
            .map(|n| EventEnvelope {
                id: n,
                origin: "001".parse().unwrap(),
                created_on: chrono::Utc::now(),
                event: Event::Directory { email: format!("{}{n}@example.com", "x".repeat(240)), user_id: user.clone() },
            })
            .collect();
        let runs = by_size(events, MAX_CALL_BYTES);
        assert!(runs.len() > 1);
        for run in &runs {
            let body = serde_json::to_vec(&EventBatch { events: run.clone() }).unwrap();
            assert!(body.len() <= 64 * 1024, "a call of {} bytes", body.len());
        }
        let ids: Vec<i64> = runs.iter().flatten().map(|e| e.id).collect();
        assert_eq!(ids, (0..200).collect::<Vec<_>>());
    }
}
