//! Events from other regions' outboxes, applied idempotently and in any order:
//! membership changes carry a version (last writer wins), directory entries converge on
//! the one user that has the email, and a closed account's entry, once erased, stays so.
//! A closed account's membership in another region, which a closure cannot always
//! prevent (`erasure`), is sent back to that region to end when its event arrives.

use chrono::Utc;
use contract::Regional;
use contract::internal::{Event, EventBatch};
use diesel::prelude::*;

use crate::db::directory::{self, Confirmed};
use crate::db::users;
use crate::error::ApiError;
use crate::services::groups::enqueue_event;
use crate::services::{AppState, erasure};

pub async fn apply(state: &AppState, batch: EventBatch) -> Result<(), ApiError> {
    let local = state.regions.local;
    let now = Utc::now();
    for envelope in &batch.events {
        let lag = (now - envelope.created_on).num_milliseconds().max(0) as f64 / 1000.0;
        metrics::histogram!("outbox_delivery_lag_seconds", "origin" => envelope.origin.to_string()).record(lag);
    }
    state
        .db
        .retrying(move |conn| {
            conn.transaction(|conn| {
                // The users' rows first and in id order: two regions' batches naming the
                // same users in other orders deadlocked. Other conflicts run it again.
                for user_id in users_named(&batch, local) {
                    users::touch(conn, user_id)?;
                }
                for envelope in &batch.events {
                    apply_one(conn, local, &envelope.event)?;
                }
                Ok(())
            })
        })
        .await
}

/// This region's users whose rows the batch's membership events lock, in id order.
fn users_named(batch: &EventBatch, local: contract::RegionId) -> std::collections::BTreeSet<&str> {
    batch
        .events
        .iter()
        .filter_map(|envelope| match &envelope.event {
            Event::Membership { user_id, .. } if user_id.region() == local => Some(user_id.as_str()),
            _ => None,
        })
        .collect()
}

pub fn apply_one(conn: &mut PgConnection, local: contract::RegionId, event: &Event) -> QueryResult<()> {
    match event {
        Event::Membership { user_id, group_id, active, version } => {
            if user_id.region() != local {
                tracing::warn!(%user_id, "membership event for a user of another region; ignored");
                return Ok(());
            }
            // `apply` touched the user's row: a closure of this user under way either fails
            // and sees this join when it runs again, or committed first and is seen below.
            let Some(closed) = users::closed(conn, user_id.as_str())? else {
                tracing::warn!(%user_id, %group_id, "membership event for an unknown user; ignored");
                return Ok(());
            };
            users::apply_membership(conn, user_id.as_str(), group_id.as_str(), *active, *version)?;
            if *active && closed {
                tracing::warn!(%user_id, %group_id, "a closed account joined a group; its region ends it");
                let event = Event::MemberErased { user_id: user_id.clone(), group_id: group_id.clone() };
                enqueue_event(conn, group_id.region(), &event)?;
            }
        }
        Event::Directory { email, user_id } => {
            match directory::confirm(conn, email, user_id.as_str(), user_id.region().as_str())? {
                Confirmed::Yes => {}
                Confirmed::Erased => {
                    tracing::info!(%user_id, "a closed account's directory entry arrived late; ignored")
                }
                Confirmed::Taken => {
                    metrics::counter!("directory_conflicts_total").increment(1);
                    tracing::error!(%email, %user_id, "email already belongs to another user");
                }
            }
        }
        Event::DirectoryErased { email, user_id } => directory::erase(conn, email, user_id.as_str())?,
        Event::MemberErased { user_id, group_id } if group_id.region() == local => {
            erasure::end_membership(conn, local, group_id, user_id)?;
        }
        Event::MemberErased { group_id, .. } => {
            tracing::warn!(%group_id, "a closed account's membership in a group of another region; ignored");
        }
    }
    Ok(())
}
