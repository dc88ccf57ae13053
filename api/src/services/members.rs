//! Who is in a group: joining with an invitation, leaving, removal by the owner, and the
//! right to redeem. Each change runs in a SERIALIZABLE transaction that first locks the
//! group's row, so changes of one group (and `max_members`) are decided one at a time.

use contract::dto::Membership;
use contract::{ErrorCode, GroupId, Regional, UserId};

use crate::auth::{Caller, join_subject};
use crate::db::{groups, invitations, lockouts, users};
use crate::error::ApiError;
use crate::services::AppState;
use crate::services::accounts::user_not_found;
use crate::services::groups::{
    Standing, group_not_found, lock_if_allowed, lock_with_standing, member_rights, record_membership,
};
use crate::services::invitations::{code_hash, invitation_invalid};
use crate::services::sessions::{give_back_attempt, take_attempt};

fn not_a_member(user: &UserId, group: &GroupId) -> ApiError {
    ApiError::not_found(format!("{user} is not a member of {group}"))
}

fn membership_dto(group: &GroupId, user: &UserId, owner_id: &UserId, row: &groups::MemberRow) -> Membership {
    let (role, can_redeem) = member_rights(owner_id, user, row.can_redeem);
    Membership { group_id: group.clone(), user_id: user.clone(), role, can_redeem, joined_on: row.joined_on }
}

/// Whether `invitation` lets `user` into `group` now.
fn opens(invitation: &invitations::InvitationRow, group: &GroupId, user: &UserId) -> bool {
    &invitation.group_id == group
        && invitation.used_by.is_none()
        && invitation.revoked_on.is_none()
        && invitation.expires_at > chrono::Utc::now()
        && invitation.user_id.as_ref().is_none_or(|u| u == user)
}

/// `user` joins `group`. A customer (or staff member) joins only themselves and only with
/// a valid invitation, and after `groups.join_max_failures` invitations that opened
/// nothing waits, as a login does (by caller: nobody else can spend their attempts); an
/// admin adds anyone, with or without one.
pub async fn join(
    state: &AppState,
    caller: &Caller,
    group: GroupId,
    user: UserId,
    invitation: Option<String>,
) -> Result<Membership, ApiError> {
    if caller.is_admin() {
        return admit(state, caller, group, user, invitation).await;
    }
    if !caller.is(&user) {
        // Refused before anything counts: naming another user spends nobody's attempts.
        return Err(ApiError::forbidden("you may only add yourself to a group"));
    }
    let lockout = state.join_lockout;
    let subject = join_subject(&caller.user_id);
    let who = subject.clone();
    // The code is about to be tried: counted first, so joins sent at once cannot all pass
    // the lockout before any of them has failed.
    let admitted = state.db.run(move |conn| Ok(take_attempt(conn, lockout, &who)?)).await?;
    if let Err(retry_after) = admitted {
        metrics::counter!("join_refusals_total", "reason" => "lockout").increment(1);
        return Err(ApiError {
            retry_after: Some(retry_after),
            ..ApiError::new(ErrorCode::RateLimited, "too many invitations that opened nothing; try again later")
        });
    }
    let joined = admit(state, caller, group, user, invitation).await;
    let wrong_code = matches!(&joined, Err(refusal) if refusal.code == ErrorCode::InvitationInvalid);
    if !wrong_code {
        // A member is in (earlier failures are forgotten) or the code was not what failed
        // (the attempt is given back). Neither may change the answer if it fails.
        let joined_now = joined.is_ok();
        let settled = state
            .db
            .run(move |conn| {
                if joined_now {
                    lockouts::clear(conn, lockout.kind, &subject)?;
                } else {
                    give_back_attempt(conn, lockout, &subject)?;
                }
                Ok(())
            })
            .await;
        if let Err(err) = settled {
            tracing::warn!(error = %err.message, "a join's attempt was not settled");
        }
    }
    joined
}

/// The join itself. Every reason an invitation does not open the group, the group's
/// absence included, is the same `invitation_invalid`, so a guessed code or id learns
/// nothing.
async fn admit(
    state: &AppState,
    caller: &Caller,
    group: GroupId,
    user: UserId,
    invitation: Option<String>,
) -> Result<Membership, ApiError> {
    let hash = match invitation.as_deref() {
        // The code names its group: one for another group is refused without a lookup.
        Some(code) if code.strip_prefix(group.as_str()).is_some_and(|rest| rest.starts_with('.')) => {
            Some(code_hash(code))
        }
        Some(_) => return Err(invitation_invalid()),
        None if caller.is_admin() => None,
        None => return Err(invitation_invalid()),
    };
    let local = state.regions.local;
    let max_members = state.config.groups.max_members;
    let caller = caller.clone();
    state
        .db
        .serializable(move |conn| {
            // A code that opens nothing is refused before the group's row is locked, so
            // guessing codes cannot slow the group's points writes (they lock that row).
            if let Some(hash) = &hash
                && !invitations::find_by_hash(conn, hash)?.is_some_and(|i| opens(&i, &group, &user))
            {
                return Ok(Err(invitation_invalid()));
            }
            let row = match lock_with_standing(conn, &caller, &group)? {
                Ok((row, _)) => row,
                Err(_) if !caller.is_admin() => return Ok(Err(invitation_invalid())),
                Err(missing) => return Ok(Err(missing)),
            };
            if row.personal_of.is_some() {
                return Ok(Err(if caller.is_admin() {
                    ApiError::forbidden("a personal group cannot be joined")
                } else {
                    invitation_invalid()
                }));
            }
            let invitation = match &hash {
                Some(hash) => {
                    let usable = invitations::lock_by_hash(conn, hash)?.filter(|i| opens(i, &group, &user));
                    Some(refuse_on_err!(usable.ok_or_else(invitation_invalid)))
                }
                None => None,
            };
            if user.region() == local && users::find(conn, user.as_str())?.is_none() {
                return Ok(Err(user_not_found(&user)));
            }
            let previous = groups::membership(conn, group.as_str(), user.as_str())?;
            if previous.as_ref().is_some_and(|m| m.active) {
                return Ok(Err(ApiError::new(
                    ErrorCode::AlreadyMember,
                    format!("{user} is already a member of {group}"),
                )));
            }
            if groups::count_active(conn, group.as_str())? >= max_members {
                return Ok(Err(ApiError::new(
                    ErrorCode::GroupFull,
                    format!("{group} already has the most members a group may have ({max_members})"),
                )));
            }
            let can_redeem = match &invitation {
                Some(invitation) => {
                    // Locked and checked above: still, only an open invitation is taken.
                    if !invitations::mark_used(conn, invitation.id.as_str(), user.as_str())? {
                        return Ok(Err(invitation_invalid()));
                    }
                    invitation.can_redeem
                }
                None => false,
            };
            let member = record_membership(conn, local, &group, &user, true, can_redeem, previous.as_ref())?;
            Ok(Ok(membership_dto(&group, &user, &row.owner_id, &member)))
        })
        .await?
}

/// `user` leaves `group`, or its owner (or an admin) removes them. The owner leaves only
/// once alone (hand ownership over first); a personal group is never left.
pub async fn remove(state: &AppState, caller: &Caller, group: GroupId, user: UserId) -> Result<(), ApiError> {
    let local = state.regions.local;
    let caller = caller.clone();
    let (group_id, target) = (group.clone(), user.clone());
    state
        .db
        .serializable(move |conn| {
            let sight = |standing: Standing| standing.require_sight(&group);
            let (row, standing) = refuse_on_err!(lock_if_allowed(conn, &caller, &group, sight)?);
            if !caller.is(&user) {
                refuse_on_err!(standing.require_manager(&group, "removes other members"));
            }
            if row.personal_of.is_some() {
                return Ok(Err(ApiError::forbidden("a personal group cannot be left")));
            }
            let previous = groups::membership(conn, group.as_str(), user.as_str())?;
            if !previous.as_ref().is_some_and(|m| m.active) {
                return Ok(Err(not_a_member(&user, &group)));
            }
            if row.owner_id == user && groups::count_active(conn, group.as_str())? > 1 {
                return Ok(Err(ApiError::forbidden(
                    "the owner cannot leave while others remain: hand ownership over first",
                )));
            }
            record_membership(conn, local, &group, &user, false, false, previous.as_ref())?;
            Ok(Ok(()))
        })
        .await??;
    state.redeem_rights.forget(&group_id, &target);
    Ok(())
}

/// Grants or withdraws a member's right to redeem (owner, admin).
pub async fn set_can_redeem(
    state: &AppState,
    caller: &Caller,
    group: GroupId,
    user: UserId,
    can_redeem: bool,
) -> Result<Membership, ApiError> {
    let caller = caller.clone();
    let (group_id, target) = (group.clone(), user.clone());
    let membership = state
        .db
        .serializable(move |conn| {
            let manages =
                |standing: Standing| standing.require_manager(&group, "grants or withdraws the right to redeem");
            let (row, _) = refuse_on_err!(lock_if_allowed(conn, &caller, &group, manages)?);
            if !groups::membership(conn, group.as_str(), user.as_str())?.is_some_and(|m| m.active) {
                return Ok(Err(not_a_member(&user, &group)));
            }
            if row.owner_id == user {
                return Ok(Err(ApiError::forbidden("the owner always may redeem; hand ownership over first")));
            }
            let member = groups::set_can_redeem(conn, group.as_str(), user.as_str(), can_redeem)?;
            Ok(Ok(membership_dto(&group, &user, &row.owner_id, &member)))
        })
        .await??;
    if !can_redeem {
        state.redeem_rights.forget(&group_id, &target);
    }
    Ok(membership)
}

/// Whether `standing` may redeem from a group: `Ok` for the owner, members allowed to
/// and admins; members without the right are refused, anyone else is told the group
/// does not exist (staff see every group, so they are refused instead).
pub fn may_redeem(standing: Standing, group: &GroupId) -> Result<(), ApiError> {
    match standing {
        Standing::Owner | Standing::Admin | Standing::Member { can_redeem: true } => Ok(()),
        Standing::Member { can_redeem: false } => {
            Err(ApiError::forbidden("your membership of this group does not include redeeming its points"))
        }
        Standing::Staff => Err(ApiError::forbidden("only members of the group redeem its points")),
        Standing::Stranger => Err(group_not_found(group)),
    }
}
