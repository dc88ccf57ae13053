//! Invitations: how anyone but an admin gets into a group. The owner (or an admin)
//! makes one; its code is `<group id>.` and 256 random bits, shown once and kept only as
//! a sha256 hash; it opens the group once, before it expires, to its addressee if it
//! names one.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Duration, Utc};
use contract::cursor::LedgerPosition;
use contract::dto::{Invitation, InvitationSummary, NewInvitation, Page};
use contract::{ErrorCode, GroupId, InvitationId, Regional, UserId};
use diesel::prelude::*;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::auth::Caller;
use crate::db::{self, Guard, invitations};
use crate::domain::PageRequest;
use crate::error::ApiError;
use crate::services::AppState;
use crate::services::groups::with_standing;

const DEFAULT_LIFETIME_SECS: i64 = 86_400;
const LIFETIMES_SECS: std::ops::RangeInclusive<i64> = 60..=604_800;

/// One answer for every invitation that does not open the group.
pub fn invitation_invalid() -> ApiError {
    ApiError::new(
        ErrorCode::InvitationInvalid,
        "this invitation does not open this group: it is unknown, used, expired, revoked or meant for someone else",
    )
}

pub fn code_hash(code: &str) -> String {
    Sha256::digest(code.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn new_code(group: &GroupId) -> String {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    format!("{group}.{}", URL_SAFE_NO_PAD.encode(secret))
}

/// A new invitation, parsed.
pub struct InvitationRequest {
    can_redeem: bool,
    user: Option<UserId>,
    lifetime: Duration,
}

impl InvitationRequest {
    pub fn parse(state: &AppState, new: &NewInvitation) -> Result<InvitationRequest, ApiError> {
        let secs = new.expires_in_secs.unwrap_or(DEFAULT_LIFETIME_SECS);
        if !LIFETIMES_SECS.contains(&secs) {
            return Err(ApiError::invalid_input(format!(
                "expires_in_secs must be between {} and {}",
                LIFETIMES_SECS.start(),
                LIFETIMES_SECS.end()
            )));
        }
        Ok(InvitationRequest {
            can_redeem: new.can_redeem.unwrap_or(false),
            user: new.user_id.as_deref().map(|u| state.regions.parse_id("user_id", u)).transpose()?,
            lifetime: Duration::seconds(secs),
        })
    }
}

/// The caller's standing in `group`, for reading or changing its invitations: owners and
/// admins; a personal group has none.
fn ensure_manager(conn: &mut PgConnection, caller: &Caller, group: &GroupId) -> QueryResult<Result<(), ApiError>> {
    let (row, standing) = refuse_on_err!(with_standing(conn, caller, group)?);
    refuse_on_err!(standing.require_manager(group, "invites"));
    if row.personal_of.is_some() {
        return Ok(Err(ApiError::forbidden("a personal group cannot be joined, so it has no invitations")));
    }
    Ok(Ok(()))
}

pub async fn create(
    state: &AppState,
    caller: &Caller,
    group: GroupId,
    request: InvitationRequest,
) -> Result<Invitation, ApiError> {
    let caller = caller.clone();
    let region = group.region();
    let (max_kept, kept_days) = (state.config.groups.max_invitations, state.config.groups.invitations_kept_days);
    state
        .db
        .run(move |conn| {
            // A refusal (`Ok(Err)`) commits nothing: it comes before the insert.
            conn.transaction::<_, diesel::result::Error, _>(|conn| {
                refuse_on_err!(ensure_manager(conn, &caller, &group)?);
                // Read committed: the count after the lock sees what the last holder made.
                db::lock_until_commit(conn, Guard::Invitations, group.as_str())?;
                if invitations::count_of_group(conn, group.as_str())? >= max_kept {
                    metrics::counter!("limit_reached_total", "limit" => "groups.max_invitations").increment(1);
                    return Ok(Err(ApiError::new(
                        ErrorCode::LimitReached,
                        format!(
                            "group {group} keeps {max_kept} invitations, the most a group may: used, revoked and \
                             expired ones are deleted {kept_days} days after they stop opening it"
                        ),
                    )));
                }
                let code = new_code(&group);
                let hash = code_hash(&code);
                let expires_at = Utc::now() + request.lifetime;
                let row = db::with_fresh_id(
                    || InvitationId::generate(region),
                    |id| {
                        let row = invitations::NewInvitationRow {
                            id,
                            group_id: &group,
                            code_hash: &hash,
                            can_redeem: request.can_redeem,
                            user_id: request.user.as_ref(),
                            created_by: &caller.user_id,
                            expires_at,
                        };
                        invitations::insert(conn, &row)
                    },
                )?;
                Ok(Ok(Invitation {
                    id: row.id,
                    code,
                    group_id: row.group_id,
                    can_redeem: row.can_redeem,
                    user_id: row.user_id,
                    expires_at: row.expires_at,
                }))
            })?
        })
        .await
}

fn to_summary(row: invitations::InvitationRow) -> QueryResult<InvitationSummary> {
    Ok(InvitationSummary {
        id: row.id,
        can_redeem: row.can_redeem,
        user_id: row.user_id,
        expires_at: row.expires_at,
        used_by: row.used_by,
        used_on: row.used_on,
        revoked_on: row.revoked_on,
        created_on: row.created_on,
    })
}

/// A group's invitations, newest first (owner, admin).
pub async fn list(
    state: &AppState,
    caller: &Caller,
    group: GroupId,
    page: PageRequest,
) -> Result<Page<InvitationSummary>, ApiError> {
    let caller = caller.clone();
    state
        .db
        .run(move |conn| {
            ensure_manager(conn, &caller, &group)??;
            let rows = invitations::page_of_group(conn, group.as_str(), page.after.as_ref(), page.limit + 1)?;
            let position =
                |r: &invitations::InvitationRow| LedgerPosition { created_on: r.created_on, id: r.id.to_string() };
            Ok(page.page(rows, position, to_summary)?)
        })
        .await
}

/// Revokes one of a group's invitations (owner, admin); revoking again changes nothing.
pub async fn revoke(state: &AppState, caller: &Caller, group: GroupId, id: InvitationId) -> Result<(), ApiError> {
    let caller = caller.clone();
    state
        .db
        .run(move |conn| {
            ensure_manager(conn, &caller, &group)??;
            if invitations::revoke(conn, group.as_str(), id.as_str())? {
                Ok(())
            } else {
                Err(ApiError::not_found(format!("invitation {id} not found")))
            }
        })
        .await
}
