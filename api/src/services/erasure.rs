//! Closing an account (an addition: `DELETE /v1/users/{uid}`), the right to erasure.
//! What identifies the user goes, in one transaction with the revocation of every token
//! they hold: the row's email, name, phone, location, age and password hash
//! (`users::erase`), the networks they logged in from, their failed attempts, and their
//! email's directory entries in every region that keeps one, which from then on refuse
//! that user, so the email is free for a new sign-up. What stays names only the id: the
//! ledger (the books must still add up), memberships, and the personal group, which
//! nobody can bill or spend from any more. Its points are given up only when the closure
//! names their number (`forfeit_points`, checked under the group's lock), else
//! `409 points_remaining`, so no user loses points they have not seen; given up, they are
//! written off by a `forfeit` entry in the same transaction, so the balance is nothing
//! and the ledger says where the points went.
//!
//! A user still in any group but their personal one is refused (`409 still_a_member`):
//! leaving is theirs to do (an owner hands a group over, or leaves it once alone). Each
//! region that keeps memberships is asked, not the user's index, which learns of a join
//! in another region only when its event arrives: this region's groups in the closing
//! transaction, the others just before it (so a region that does not answer makes the
//! closure `503`, and nothing is erased). Staff and admin accounts are made customers'
//! first.
//!
//! A region asked may still let the user join after it answered: its join commits before
//! the closure does, or before it learns of the revocation (a poll, or as long as it
//! cannot reach this region). If the join's event arrives before the closing transaction
//! reads the index, that sees a membership newer than the question and refuses; while it
//! runs, the event waits for the user's row (`users::touch`) or makes it run again; once
//! it has committed, the event finds the account closed and sends `MemberErased` back,
//! and the group's region ends the membership (`end_membership`), as a leave would.

use chrono::{DateTime, Utc};
use contract::dto::{AccountClosure, Role};
use contract::internal::MemberQuery;
use contract::{EntryId, ErrorCode, GroupId, RegionId, Regional, UserId};
use diesel::PgConnection;
use diesel::QueryResult;

use crate::auth::Caller;
use crate::db::{self, email_failures, groups, ledger, lockouts, login_networks, users};
use crate::error::ApiError;
use crate::services::accounts::user_not_found;
use crate::services::groups::record_membership;
use crate::services::passwords::{Doing, vouched};
use crate::services::{AppState, directory, revocations};

pub async fn close(
    state: &AppState,
    caller: &Caller,
    user_id: UserId,
    closure: &AccountClosure,
) -> Result<(), ApiError> {
    let doing = Doing { own: "close your own account", another: "close another's account" };
    let vouched = vouched(state, caller, &user_id, closure.current_password.clone(), doing).await?;
    let (row, checked, ()) = vouched.then(|| ()).await?;
    if row.role != Role::Customer {
        return Err(ApiError::forbidden("a staff or admin account is made a customer's before it is closed"));
    }
    // The database's clock, as the index's times are: a join whose event arrives from now
    // on may have committed after its region answered below.
    let asked_at = state.db.run(|conn| Ok(db::directory::now(conn)?)).await?;
    let elsewhere = groups_elsewhere(state, &user_id).await?;
    if !elsewhere.is_empty() {
        return Err(still_a_member(&user_id, &elsewhere));
    }
    let checked_hash = checked.then_some(row.password_hash);
    let (email, personal) = (row.email, row.personal_group_id);
    let regions = state.regions.clone();
    let revocation = revocations::all_of(state, &user_id);
    let closing = Closing {
        user: user_id.clone(),
        personal: personal.clone(),
        actor: caller.user_id.clone(),
        local: regions.local,
        asked_at,
        forfeit: closure.forfeit_points,
    };
    let written = revocation.clone();
    let seq = state
        .db
        .serializable(move |conn| {
            let user = &closing.user;
            let Some(row) = users::lock(conn, user.as_str())? else {
                return Ok(Err(user_not_found(user)));
            };
            if checked_hash.as_ref().is_some_and(|hash| hash != &row.password_hash) {
                return Ok(Err(ApiError::forbidden("the current password is wrong: it was changed meanwhile")));
            }
            let left = closing.groups_left(conn)?;
            if !left.is_empty() {
                return Ok(Err(still_a_member(user, &left)));
            }
            if let Err(refusal) = closing.give_up_points(conn)? {
                return Ok(Err(refusal));
            }
            let group = &closing.personal;
            let previous = groups::membership(conn, group.as_str(), user.as_str())?;
            if previous.as_ref().is_some_and(|m| m.active) {
                record_membership(conn, regions.local, group, user, false, false, previous.as_ref())?;
            }
            users::erase(conn, user.as_str())?;
            login_networks::forget_user(conn, user.as_str())?;
            email_failures::forget(conn, &email)?;
            lockouts::forget_user(conn, &email, user.as_str())?;
            directory::announce_erasure(conn, &regions, &email, user)?;
            revocations::write(conn, &written).map(Ok)
        })
        .await??;
    revocations::written(state, revocation, seq);
    state.redeem_rights.forget(&personal, &user_id);
    metrics::counter!("accounts_closed_total").increment(1);
    tracing::info!(user_id = %user_id, by = %caller.user_id, "account closed; personal data erased, tokens revoked");
    Ok(())
}

/// What the closing transaction needs besides the user's row.
struct Closing {
    user: UserId,
    personal: GroupId,
    /// Who closes: the user, or an admin.
    actor: UserId,
    local: RegionId,
    /// When the other regions were asked, by the database's clock.
    asked_at: DateTime<Utc>,
    forfeit: Option<u64>,
}

impl Closing {
    /// The groups the user is still in: this region's (serializable, so a join here
    /// committing meanwhile fails one of the two transactions), and other regions' whose
    /// joins' events arrived since those regions answered.
    fn groups_left(&self, conn: &mut PgConnection) -> QueryResult<Vec<GroupId>> {
        let user = self.user.as_str();
        let mut left: Vec<GroupId> =
            groups::active_groups_of(conn, user)?.into_iter().filter(|g| g != &self.personal).collect();
        left.extend(users::joined_since(conn, user, self.asked_at)?.into_iter().filter(|g| g.region() != self.local));
        Ok(left)
    }

    /// Writes off the personal group's points if the closure named their number; the
    /// group's lock holds the balance still until the commit, so what is given up is
    /// what was agreed.
    fn give_up_points(&self, conn: &mut PgConnection) -> QueryResult<Result<(), ApiError>> {
        let group = self.personal.as_str();
        let balance = groups::lock(conn, group)?.map_or(0, |g| g.points);
        if balance != 0 && u64::try_from(balance).ok() != self.forfeit {
            return Ok(Err(points_remaining(&self.personal, balance)));
        }
        if balance > 0 {
            let entry = EntryId::from_ulid(self.local, ulid::Ulid::new());
            ledger::insert_forfeit(conn, &entry, group, self.user.as_str(), self.actor.as_str(), balance)?;
            groups::write_off(conn, group)?;
        }
        Ok(Ok(()))
    }
}

fn still_a_member(user: &UserId, groups: &[GroupId]) -> ApiError {
    let named = groups.iter().map(GroupId::as_str).collect::<Vec<_>>().join(", ");
    ApiError::new(
        ErrorCode::StillAMember,
        format!("{user} is still a member of {named}: leave them first (an owner hands a group over)"),
    )
}

fn points_remaining(group: &GroupId, balance: i64) -> ApiError {
    ApiError::new(
        ErrorCode::PointsRemaining,
        format!(
            "the personal group {group} holds {balance} points, which nobody can spend once the account is \
             closed: redeem them, or send forfeit_points: {balance} to give them up"
        ),
    )
}

/// The group region's side of `MemberErased`: ends the membership of `user`, whose
/// account was closed, unless it already ended. An owner is left in place (a group handed
/// over to a user in the instant they closed their account), for an admin to settle.
pub fn end_membership(conn: &mut PgConnection, local: RegionId, group: &GroupId, user: &UserId) -> QueryResult<()> {
    let Some(row) = groups::lock(conn, group.as_str())? else {
        return Ok(());
    };
    let previous = groups::membership(conn, group.as_str(), user.as_str())?;
    if !previous.as_ref().is_some_and(|m| m.active) {
        return Ok(());
    }
    if row.owner_id == *user {
        metrics::counter!("closed_account_owners_total").increment(1);
        tracing::error!(%group, %user, "a closed account owns a group: an admin hands it over");
        return Ok(());
    }
    record_membership(conn, local, group, user, false, false, previous.as_ref())?;
    metrics::counter!("closed_account_memberships_ended_total").increment(1);
    Ok(())
}

/// The groups of the other regions `user` is an active member of, as each region says;
/// `503` when one does not answer (whether the user is still a member there is unknown).
async fn groups_elsewhere(state: &AppState, user: &UserId) -> Result<Vec<GroupId>, ApiError> {
    let query = MemberQuery { user_id: user.clone() };
    let others = state.regions.all().iter().copied().filter(|r| *r != state.regions.local);
    let asked = others.map(|region| {
        let query = &query;
        state.peers.get(region, move |peer| async move { peer.member_groups(query).await })
    });
    let mut groups = Vec::new();
    for answer in futures_util::future::join_all(asked).await {
        groups.extend(answer?.items);
    }
    Ok(groups)
}

/// The group region's side: the groups of this region `user` is an active member of.
pub async fn groups_here(state: &AppState, user: UserId) -> Result<Vec<GroupId>, ApiError> {
    state.db.run(move |conn| Ok(groups::active_groups_of(conn, user.as_str())?)).await
}
