//! Changing a password (v1.2 addition). Whoever changes their own must also know the
//! current one, so a stolen token alone cannot take the account; wrong guesses are counted
//! per user and locked out like logins. The new hash and the revocation of every token the
//! user holds commit in one transaction: after a change, only the new password opens a
//! session.

use contract::dto::PasswordChange;
use contract::{ErrorCode, UserId};
use diesel::prelude::*;

use crate::auth::{Caller, Lockout, Turn, hash_password, verify_password};
use crate::db::{Db, lockouts, users};
use crate::error::ApiError;
use crate::services::accounts::{parse_password, user_not_found};
use crate::services::sessions::{give_back_attempt, take_attempt};
use crate::services::{AppState, revocations};

pub async fn change(
    state: &AppState,
    caller: &Caller,
    user_id: UserId,
    change: &PasswordChange,
) -> Result<(), ApiError> {
    let new_password = parse_password("new_password", &change.new_password)?;
    let doing = Doing { own: "change your own password", another: "change another's password" };
    let vouched = vouched(state, caller, &user_id, change.current_password.clone(), doing).await?;
    let (row, checked, new_hash) = vouched.then(move || hash_password(&new_password)).await?;
    let (old_hash, new_hash) = (row.password_hash, new_hash?);
    let lockout = state.login_lockout.for_password_checks();
    let id = user_id.to_string();

    let revocation = revocations::all_of(state, &user_id);
    let row = revocation.clone();
    let seq = state
        .db
        .run(move |conn| {
            Ok(conn.transaction::<_, diesel::result::Error, _>(|conn| {
                let expected = checked.then_some(old_hash.as_str());
                if !users::set_password(conn, &id, &new_hash, expected)? {
                    return Ok(None);
                }
                lockouts::clear(conn, lockout.kind, &id)?;
                revocations::write(conn, &row).map(Some)
            })?)
        })
        .await?;
    let Some(seq) = seq else {
        // Changed (or, for an admin's reset, deleted) since it was read: what was checked
        // is not the password any more.
        return Err(if checked {
            ApiError::forbidden("the current password is wrong: it was changed meanwhile")
        } else {
            user_not_found(&user_id)
        });
    };
    revocations::written(state, revocation, seq);
    tracing::info!(user_id = %user_id, by = %caller.user_id, "password changed; tokens revoked");
    Ok(())
}

/// What a refusal says the caller tried: on their own account, or another's.
pub struct Doing {
    pub own: &'static str,
    pub another: &'static str,
}

/// The user `user_id`, whose account `caller` may act on knowing `current` (the password
/// now): their own with it, checked and counted per user like a login, so a token alone
/// (a stolen one) cannot act; another's only as an admin, who may leave it out. Staff
/// are refused another's account, customers answered as if there were no such user.
/// `Vouched::then` checks the password and does the act's own hashing on one turn.
pub async fn vouched(
    state: &AppState,
    caller: &Caller,
    user_id: &UserId,
    current: Option<String>,
    doing: Doing,
) -> Result<Vouched, ApiError> {
    let own = caller.is(user_id);
    if !own && !caller.is_admin() {
        // Staff may see the user, so for them it is a refusal; for others the user is not there.
        return Err(if caller.is_staff_or_admin() {
            ApiError::forbidden(format!("you may not {}", doing.another))
        } else {
            user_not_found(user_id)
        });
    }
    if own && current.is_none() {
        // A refusal, not bad input: the same body is valid from an admin for another user.
        return Err(ApiError::forbidden(format!("to {} you give current_password", doing.own)));
    }
    // A turn at hashing first, as a login takes it: a check turned away for load counts
    // no attempt, and one that passes is not turned away before its work.
    let turn = state.hashing.turn().await?;
    let lockout = state.login_lockout.for_password_checks();
    let id = user_id.to_string();
    let checked = current.is_some();
    let (row, admitted) = state
        .db
        .run(move |conn| {
            let row = users::find(conn, &id)?;
            // A guess is counted before it is checked; an admin's act guesses nothing.
            let admitted = match (&row, checked) {
                (Some(_), true) => take_attempt(conn, lockout, &id)?,
                _ => Ok(()),
            };
            Ok((row, admitted))
        })
        .await?;
    let row = row.ok_or_else(|| user_not_found(user_id))?;
    if let Err(retry_after) = admitted {
        return Err(ApiError {
            retry_after: Some(retry_after),
            ..ApiError::new(ErrorCode::RateLimited, "too many wrong current passwords; try again later")
        });
    }
    let counted = checked.then(|| Counted { db: state.db.clone(), lockout, user: user_id.to_string() });
    Ok(Vouched { row, current, turn, counted })
}

/// The attempt a password check took, to give back when the password is right: the
/// lockout is of wrong passwords, and a user told "not yet" after a right one (a
/// closure while still a member, say) tries again with it.
struct Counted {
    db: Db,
    lockout: Lockout,
    user: String,
}

impl Counted {
    async fn give_back(self) {
        let Counted { db, lockout, user } = self;
        let settled = db.run(move |conn| Ok(give_back_attempt(conn, lockout, &user)?)).await;
        if let Err(err) = settled {
            tracing::warn!(error = %err.message, "a right password's attempt was not given back");
        }
    }
}

/// A user whose account the caller may act on, once the password given is checked.
pub struct Vouched {
    row: users::UserRow,
    current: Option<String>,
    turn: Turn,
    counted: Option<Counted>,
}

impl Vouched {
    /// Checks the password given (if any), then runs `work` on the same turn at hashing:
    /// the row, whether the password was checked (a change then lands only on that
    /// hash), and what `work` made; `403` when the password is wrong.
    pub async fn then<T: Send + 'static>(
        self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<(users::UserRow, bool, T), ApiError> {
        let (current, hash) = (self.current, self.row.password_hash.clone());
        let checked = current.is_some();
        let done = self
            .turn
            .run(move || match current {
                Some(current) if !verify_password(&current, Some(&hash)) => None,
                _ => Some(work()),
            })
            .await?;
        match done {
            Some(made) => {
                if let Some(counted) = self.counted {
                    counted.give_back().await;
                }
                Ok((self.row, checked, made))
            }
            None => {
                metrics::counter!("password_check_refusals_total").increment(1);
                Err(ApiError::forbidden("the current password is wrong"))
            }
        }
    }
}
