//! Groups: creation, membership, reading, and the ledger pages of groups and users.

use contract::cursor::LedgerPosition;
use contract::dto::{Group, LedgerEntry, Membership, NewGroup, Page, UserGroups};
use contract::internal::Event;
use contract::{ErrorCode, GroupId, RegionId, Regional, UserId};
use diesel::prelude::*;

use crate::auth::Caller;
use crate::db::{self, groups, ledger, outbox, stored_id, users};
use crate::domain::{PageRequest, required_text};
use crate::error::ApiError;
use crate::startup::AppState;

/// Queues `event` for `region` in the caller's transaction.
pub fn enqueue_event(conn: &mut PgConnection, region: RegionId, event: &Event) -> QueryResult<()> {
    let payload = serde_json::to_value(event).map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
    let kind = payload.get("kind").and_then(|k| k.as_str()).unwrap_or("event").to_owned();
    outbox::enqueue(conn, region.as_str(), &kind, &payload)
}

/// Writes a membership change in this (the group's) region and, in the same
/// transaction, updates the member's index: directly when the member lives here, else
/// through the outbox for their home region.
pub fn record_membership(
    conn: &mut PgConnection,
    local: RegionId,
    group: &GroupId,
    user: &UserId,
    active: bool,
    previous: Option<&groups::MemberRow>,
) -> QueryResult<groups::MemberRow> {
    let row = groups::set_membership(conn, group.as_str(), user.as_str(), active, previous)?;
    if user.region() == local {
        users::apply_membership(conn, user.as_str(), group.as_str(), active, row.version)?;
    } else {
        let event = Event::Membership { user_id: user.clone(), group_id: group.clone(), active, version: row.version };
        enqueue_event(conn, user.region(), &event)?;
    }
    Ok(row)
}

/// Inserts a group under a fresh id of `region`.
pub fn insert_group(conn: &mut PgConnection, region: RegionId, name: &str, location: &str) -> QueryResult<GroupId> {
    db::with_fresh_id(
        || GroupId::generate(region),
        |id| groups::insert(conn, &groups::NewGroupRow { id: id.as_str(), name, location, personal_of: None }),
    )
}

fn to_dto(row: groups::GroupRow, members: Vec<String>) -> QueryResult<Group> {
    let id: GroupId = stored_id(&row.id)?;
    Ok(Group {
        region: id.region(),
        id,
        name: row.name,
        location: row.location,
        points: row.points,
        members: members.iter().map(|m| stored_id(m)).collect::<QueryResult<_>>()?,
        created_on: row.created_on,
        updated_on: row.updated_on,
    })
}

fn load(conn: &mut PgConnection, id: &str) -> QueryResult<Option<Group>> {
    groups::with_members(conn, id)?.map(|(row, members)| to_dto(row, members)).transpose()
}

pub async fn create(state: &AppState, caller: &Caller, new: &NewGroup) -> Result<Group, ApiError> {
    let name = required_text("name", &new.name, 1, 100)?;
    let location = required_text("location", &new.location, 0, 200)?;
    let region = state.regions.parse_region("region", &new.region)?;
    state.regions.ensure_local("group", region)?;
    let creator = caller.user_id.clone();
    state
        .db
        .run(move |conn| {
            conn.transaction(|conn| {
                let id = insert_group(conn, region, &name, &location)?;
                record_membership(conn, region, &id, &creator, true, None)?;
                load(conn, id.as_str())?.ok_or(diesel::result::Error::NotFound)
            })
            .map_err(ApiError::from)
        })
        .await
}

/// Members read their group; staff and admins read any (`is_member` is asked only for
/// customers).
fn ensure_may_read(caller: &Caller, is_member: impl FnOnce() -> QueryResult<bool>) -> Result<(), ApiError> {
    if caller.is_staff_or_admin() || is_member()? {
        Ok(())
    } else {
        Err(ApiError::forbidden("only members of the group see it"))
    }
}

pub async fn read(state: &AppState, caller: &Caller, id: GroupId) -> Result<Group, ApiError> {
    let caller = caller.clone();
    state
        .db
        .run(move |conn| {
            let group = load(conn, id.as_str())?.ok_or_else(|| ApiError::not_found(format!("group {id} not found")))?;
            // The group as loaded lists its active members: no query of its own for that.
            ensure_may_read(&caller, || Ok(group.members.contains(&caller.user_id)))?;
            Ok(group)
        })
        .await
}

pub async fn join(state: &AppState, caller: &Caller, group: GroupId, user: UserId) -> Result<Membership, ApiError> {
    if !caller.is(&user) && !caller.is_admin() {
        return Err(ApiError::forbidden("you may only add yourself to a group"));
    }
    let local = state.regions.local;
    state
        .db
        .serializable(move |conn| {
            if groups::find(conn, group.as_str())?.is_none() {
                return Ok(Err(ApiError::not_found(format!("group {group} not found"))));
            }
            if user.region() == local && users::find(conn, user.as_str())?.is_none() {
                return Ok(Err(ApiError::not_found(format!("user {user} not found"))));
            }
            let previous = groups::membership(conn, group.as_str(), user.as_str())?;
            if previous.as_ref().is_some_and(|m| m.active) {
                return Ok(Err(ApiError::new(
                    ErrorCode::AlreadyMember,
                    format!("{user} is already a member of {group}"),
                )));
            }
            let row = record_membership(conn, local, &group, &user, true, previous.as_ref())?;
            Ok(Ok(Membership { group_id: group.clone(), user_id: user.clone(), joined_on: row.joined_on }))
        })
        .await?
}

pub async fn leave(state: &AppState, caller: &Caller, group: GroupId, user: UserId) -> Result<(), ApiError> {
    if !caller.is(&user) && !caller.is_admin() {
        return Err(ApiError::forbidden("you may only remove yourself from a group"));
    }
    let local = state.regions.local;
    state
        .db
        .serializable(move |conn| {
            let Some(row) = groups::find(conn, group.as_str())? else {
                return Ok(Err(ApiError::not_found(format!("group {group} not found"))));
            };
            if row.personal_of.as_deref() == Some(user.as_str()) {
                return Ok(Err(ApiError::forbidden("a personal group cannot be left")));
            }
            let previous = groups::membership(conn, group.as_str(), user.as_str())?;
            if !previous.as_ref().is_some_and(|m| m.active) {
                return Ok(Err(ApiError::not_found(format!("{user} is not a member of {group}"))));
            }
            record_membership(conn, local, &group, &user, false, previous.as_ref())?;
            Ok(Ok(()))
        })
        .await?
}

fn to_entry(row: ledger::EntryRow) -> QueryResult<LedgerEntry> {
    Ok(LedgerEntry {
        id: stored_id(&row.id)?,
        group_id: stored_id(&row.group_id)?,
        user_id: stored_id(&row.user_id)?,
        kind: if row.points < 0 { contract::dto::EntryKind::Redeem } else { contract::dto::EntryKind::Award },
        points: row.points,
        amount_cents: row.amount_cents,
        balance_after: row.balance_after,
        idempotency_key: row.idempotency_key,
        created_on: row.created_on,
    })
}

/// Loads `limit + 1` rows to learn whether another page follows.
fn to_page(mut rows: Vec<ledger::EntryRow>, limit: i64) -> QueryResult<Page<LedgerEntry>> {
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if more {
        rows.last().map(|r| LedgerPosition { created_on: r.created_on, id: r.id.clone() }.encode())
    } else {
        None
    };
    Ok(Page { items: rows.into_iter().map(to_entry).collect::<QueryResult<_>>()?, next_cursor })
}

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
            if groups::find(conn, id.as_str())?.is_none() {
                return Err(ApiError::not_found(format!("group {id} not found")));
            }
            ensure_may_read(&caller, || groups::is_member(conn, id.as_str(), caller.user_id.as_str()))?;
            let rows = ledger::page_of_group(conn, id.as_str(), page.after.as_ref(), page.limit + 1)?;
            Ok(to_page(rows, page.limit)?)
        })
        .await
}

/// The groups of this region the user belongs to (the router merges every region's).
/// The user's home region also vouches for the user (404 if unknown) and adds their
/// membership index, so the router's fan-out needs no separate call for it.
pub async fn of_user(state: &AppState, user: UserId) -> Result<UserGroups, ApiError> {
    let home = user.region() == state.regions.local;
    state
        .db
        .run(move |conn| {
            let here = groups::of_user_here(conn, user.as_str())?;
            let memberships = if home {
                if !here.user_known {
                    return Err(ApiError::not_found(format!("user {user} not found")));
                }
                Some(here.index.iter().map(|g| stored_id(g)).collect::<QueryResult<_>>()?)
            } else {
                None
            };
            let items =
                here.groups.into_iter().map(|(row, members)| to_dto(row, members)).collect::<QueryResult<_>>()?;
            Ok(UserGroups { items, unavailable: Vec::new(), memberships })
        })
        .await
}

/// Ledger entries of every group of this region the user belongs to, newest first.
pub async fn activity(state: &AppState, user: UserId, page: PageRequest) -> Result<Page<LedgerEntry>, ApiError> {
    state
        .db
        .run(move |conn| {
            let rows = ledger::page_of_member(conn, user.as_str(), page.after.as_ref(), page.limit + 1)?;
            Ok(to_page(rows, page.limit)?)
        })
        .await
}
