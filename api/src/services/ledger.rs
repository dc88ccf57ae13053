//! The ledger as its readers page through it: a group's entries (for whoever may see the
//! group) and a member's across the groups of this region, newest first.

use contract::cursor::LedgerPosition;
use contract::dto::{LedgerEntry, Page};
use contract::{GroupId, UserId};
use diesel::prelude::*;

use crate::auth::Caller;
use crate::db::ledger;
use crate::domain::PageRequest;
use crate::error::ApiError;
use crate::services::AppState;
use crate::services::groups::with_standing;

fn to_entry(row: ledger::EntryRow) -> QueryResult<LedgerEntry> {
    Ok(LedgerEntry {
        id: row.id,
        group_id: row.group_id,
        user_id: row.user_id,
        actor_id: row.actor_id,
        kind: row.kind,
        points: row.points,
        amount_cents: row.amount_cents,
        bill_id: row.bill_id,
        debt_change: row.debt_change,
        balance_after: row.balance_after,
        idempotency_key: row.idempotency_key,
        created_on: row.created_on,
    })
}

fn entry_position(row: &ledger::EntryRow) -> LedgerPosition {
    LedgerPosition { created_on: row.created_on, id: row.id.to_string() }
}

/// A group's entries, for whoever may see the group.
pub async fn transactions(
    state: &AppState,
    caller: &Caller,
    id: GroupId,
    page: PageRequest,
) -> Result<Page<LedgerEntry>, ApiError> {
    let caller = caller.clone();
    state
        .db
        .run(move |conn| {
            let (_, standing) = with_standing(conn, &caller, &id)??;
            standing.require_sight(&id)?;
            let rows = ledger::page_of_group(conn, id.as_str(), page.after.as_ref(), page.limit + 1)?;
            Ok(page.page(rows, entry_position, to_entry)?)
        })
        .await
}

/// Ledger entries of every group of this region the user belongs to, newest first.
pub async fn activity(state: &AppState, user: UserId, page: PageRequest) -> Result<Page<LedgerEntry>, ApiError> {
    state
        .db
        .run(move |conn| {
            let rows = ledger::page_of_member(conn, user.as_str(), page.after.as_ref(), page.limit + 1)?;
            Ok(page.page(rows, entry_position, to_entry)?)
        })
        .await
}
