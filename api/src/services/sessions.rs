//! Logging in: the region-wide gate before a password is checked (lockouts of an
//! address, watched emails), the check, and the session it opens.

use std::net::IpAddr;

use contract::ErrorCode;
use contract::dto::{NewSession, Session};
use diesel::prelude::*;

use crate::auth::{Lockout, login_subject, verify_password};
use crate::db::{email_failures, lockouts, login_networks, users};
use crate::domain::Email;
use crate::error::ApiError;
use crate::services::AppState;

pub async fn log_in(state: &AppState, new: &NewSession, client: Option<IpAddr>) -> Result<Session, ApiError> {
    let wrong = || ApiError::unauthenticated("the email or the password is wrong");
    let Some(email) = Email::parse(&new.email) else {
        return Err(wrong());
    };
    // A turn at hashing first: a login turned away for load does nothing else.
    let turn = state.hashing.turn().await?;
    let lockout = state.login_lockout;
    let subject = login_subject(email.as_str(), client);
    let network = client.map(login_networks::network_of);
    let threshold = state.config.auth.email_failures_per_minute.max(1);
    let (lookup, who, from) = (email.as_str().to_owned(), subject.clone(), network.clone());
    // One turn on a connection: whether this address is locked out of the email, whether
    // the email is watched, the user and, while it is watched, whether the client's
    // network is one of theirs. An unknown email is refused alike: the answer says
    // nothing of who exists.
    let gate = state
        .db
        .run(move |conn| {
            if let Some(retry_after) = lockouts::locked_for(conn, lockout.kind, &who)? {
                return Ok(LoginGate::LockedOut(retry_after));
            }
            let watched = email_failures::watched(conn, &lookup, threshold)?;
            let row = users::find_by_email(conn, &lookup)?;
            let known = match (&row, &from) {
                (Some(row), Some(network)) if watched => login_networks::known(conn, row.id.as_str(), network)?,
                _ => false,
            };
            if watched && !known {
                return Ok(LoginGate::Watched);
            }
            // The password is about to be tried: counted first, so logins sent at once
            // cannot all pass the check above before any of them has failed.
            Ok(match take_attempt(conn, lockout, &who)? {
                Err(retry_after) => LoginGate::LockedOut(retry_after),
                Ok(()) => LoginGate::Open(row),
            })
        })
        .await?;
    let row = match gate {
        LoginGate::LockedOut(retry_after) => {
            metrics::counter!("login_refusals_total", "reason" => "lockout").increment(1);
            return Err(ApiError {
                retry_after: Some(retry_after),
                ..ApiError::new(ErrorCode::RateLimited, "too many failed logins from this address; try again later")
            });
        }
        LoginGate::Watched => {
            metrics::counter!("login_refusals_total", "reason" => "watched").increment(1);
            return Err(ApiError {
                retry_after: Some(60),
                ..ApiError::new(
                    ErrorCode::RateLimited,
                    "this account has seen many failed logins; for now only networks it was logged in from before \
                     may try its password: try again later",
                )
            });
        }
        LoginGate::Open(row) => row,
    };
    let password = new.password.clone();
    let hash = row.as_ref().map(|r| r.password_hash.clone());
    let valid = turn.run(move || verify_password(&password, hash.as_deref())).await?;
    let row = match row {
        Some(row) if valid => row,
        _ => {
            let failed = email.as_str().to_owned();
            state.db.run(move |conn| Ok(email_failures::count(conn, &failed)?)).await?;
            return Err(wrong());
        }
    };
    let user = row.id.to_string();
    state
        .db
        .run(move |conn| {
            lockouts::clear(conn, lockout.kind, &subject)?;
            if let Some(network) = network {
                login_networks::remember(conn, &user, &network)?;
            }
            Ok(())
        })
        .await?;
    let (token, expires_at) = state.tokens.issue(row.id.as_str(), row.role)?;
    Ok(Session { token, user_id: row.id, role: row.role, expires_at })
}

/// What the database says of a login before its password is checked.
enum LoginGate {
    /// This (email, address) pair failed too often: seconds to wait.
    LockedOut(u64),
    /// The email is watched and the client's network is not one of its user's.
    Watched,
    /// The password may be tried; the user, if the email is anyone's.
    Open(Option<users::UserRow>),
}

/// Takes one attempt of `subject` before what it guards is checked: `Err(seconds to wait)`
/// while `lockout` holds it; else the attempt counts as a failure until
/// `lockouts::clear` forgets it, and locks the subject once the policy says so. Counted
/// first, in one transaction, so that of attempts sent at once only as many are checked
/// as the policy allows: counted after the check, 40 wrong current passwords sent at once
/// through the router were all checked.
pub fn take_attempt(conn: &mut PgConnection, lockout: Lockout, subject: &str) -> QueryResult<Result<(), u64>> {
    conn.transaction(|conn| {
        let forget_after = lockout.forget_after().as_secs_f64();
        let Some(failures) = lockouts::attempt(conn, lockout.kind, subject, forget_after)? else {
            return Ok(Err(lockouts::locked_for(conn, lockout.kind, subject)?.unwrap_or(1)));
        };
        if let Some(wait) = lockout.wait_after(failures) {
            lockouts::lock(conn, lockout.kind, subject, wait.as_secs_f64())?;
        }
        Ok(Ok(()))
    })
}

/// Gives back an attempt `take_attempt` took whose outcome was no failure of what the
/// lockout guards (a join refused because the group is full, say), and lifts the lock it
/// may have set if the failures left call for none.
pub fn give_back_attempt(conn: &mut PgConnection, lockout: Lockout, subject: &str) -> QueryResult<()> {
    conn.transaction(|conn| {
        if let Some(left) = lockouts::give_back(conn, lockout.kind, subject)?
            && lockout.wait_after(left).is_none()
        {
            lockouts::unlock(conn, lockout.kind, subject)?;
        }
        Ok(())
    })
}
