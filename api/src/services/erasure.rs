//! Closing an account (an addition: `DELETE /v1/users/{uid}`), the right to erasure.
//! What identifies the user goes, in one transaction with the revocation of every token
//! they hold: the row's email, name, phone, location, age and password hash
//! (`users::erase`), the networks they logged in from, their failed attempts, and their
//! email's directory entries in every region that keeps one, which from then on refuse
//! that user, so the email is free for a new sign-up. What stays names only the id: the
//! ledger (the books must still add up), memberships, and the personal group with its
//! points, which nobody can bill or spend any more.
//!
//! A user still in any group but their personal one is refused (`409 still_a_member`):
//! leaving is theirs to do (an owner hands a group over, or leaves it once alone), and
//! groups of other regions are left in those regions. Staff and admin accounts are made
//! customers' first.

use contract::dto::{AccountClosure, Role};
use contract::{ErrorCode, GroupId, UserId};

use crate::auth::Caller;
use crate::db::{email_failures, groups, lockouts, login_networks, users};
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
    let checked_hash = checked.then_some(row.password_hash);
    let (email, personal) = (row.email, row.personal_group_id);
    let regions = state.regions.clone();
    let revocation = revocations::all_of(state, &user_id);
    let (written, user, group) = (revocation.clone(), user_id.clone(), personal.clone());
    let seq = state
        .db
        .serializable(move |conn| {
            let Some(row) = users::lock(conn, user.as_str())? else {
                return Ok(Err(user_not_found(&user)));
            };
            if checked_hash.as_ref().is_some_and(|hash| hash != &row.password_hash) {
                return Ok(Err(ApiError::forbidden("the current password is wrong: it was changed meanwhile")));
            }
            let others: Vec<GroupId> =
                users::group_ids(conn, user.as_str())?.into_iter().filter(|g| g != &group).collect();
            if !others.is_empty() {
                let named = others.iter().map(GroupId::as_str).collect::<Vec<_>>().join(", ");
                return Ok(Err(ApiError::new(
                    ErrorCode::StillAMember,
                    format!("{user} is still a member of {named}: leave them first (an owner hands a group over)"),
                )));
            }
            // Serializable, and the index read above: a join committing meanwhile fails
            // one of the two transactions, so no member of a group is left erased.
            groups::lock(conn, group.as_str())?;
            let previous = groups::membership(conn, group.as_str(), user.as_str())?;
            if previous.as_ref().is_some_and(|m| m.active) {
                record_membership(conn, regions.local, &group, &user, false, false, previous.as_ref())?;
            }
            users::erase(conn, user.as_str())?;
            login_networks::forget_user(conn, user.as_str())?;
            email_failures::forget(conn, &email)?;
            lockouts::forget_user(conn, &email, user.as_str())?;
            directory::announce_erasure(conn, &regions, &email, &user)?;
            revocations::write(conn, &written).map(Ok)
        })
        .await??;
    revocations::written(state, revocation, seq);
    state.redeem_rights.forget(&personal, &user_id);
    metrics::counter!("accounts_closed_total").increment(1);
    tracing::info!(user_id = %user_id, by = %caller.user_id, "account closed; personal data erased, tokens revoked");
    Ok(())
}
