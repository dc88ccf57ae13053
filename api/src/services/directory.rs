//! The email directory entries this region owns: reservations with a lease, their
//! confirmation or release, and look-ups. The router drives sign-up and login with these.

use contract::internal::{Confirmation, DirectoryEntry, Event, NewReservation, Reservation};
use contract::{Regional, UserId};
use diesel::prelude::*;

use crate::db::directory::{self, Confirmed};
use crate::domain::{Regions, parse_email};
use crate::error::ApiError;
use crate::services::AppState;

pub async fn reserve(state: &AppState, new: NewReservation) -> Result<Reservation, ApiError> {
    let email = parse_email(&new.email)?;
    let lease_secs = state.config.directory.lease_secs;
    state
        .db
        .serializable(move |conn| {
            let reservation_id = ulid::Ulid::new().to_string();
            let current = directory::lock(conn, email.as_str())?;
            let replaces = match &current {
                None => None,
                Some(entry) if entry.confirmed => return Ok(Reservation::Taken),
                Some(entry) => {
                    let expired = entry.lease_expired(directory::now(conn)?);
                    match (&new.replaces, &entry.reservation_id) {
                        (Some(asked), Some(held)) if asked == held && expired => Some(held.clone()),
                        (None, Some(held)) if expired => {
                            return Ok(Reservation::Stale {
                                reservation_id: held.clone(),
                                home_region: entry.home_region,
                            });
                        }
                        _ => return Ok(Reservation::Taken),
                    }
                }
            };
            let lease = directory::reserve(
                conn,
                email.as_str(),
                new.home_region.as_str(),
                &reservation_id,
                lease_secs,
                replaces.as_deref(),
            )?;
            Ok(match lease {
                Some(lease_until) => Reservation::Reserved { reservation_id, lease_until },
                None => Reservation::Taken,
            })
        })
        .await
}

pub async fn confirm(state: &AppState, confirmation: Confirmation) -> Result<(), ApiError> {
    let email = parse_email(&confirmation.email)?;
    let user = confirmation.user_id;
    let confirmed = state
        .db
        .run(move |conn| Ok(directory::confirm(conn, email.as_str(), user.as_str(), user.region().as_str())?))
        .await?;
    match confirmed {
        Confirmed::Yes => Ok(()),
        Confirmed::Erased => Err(ApiError::new(contract::ErrorCode::EmailTaken, "this user's account was closed")),
        Confirmed::Taken => Err(ApiError::new(contract::ErrorCode::EmailTaken, "this email belongs to another user")),
    }
}

pub async fn release(state: &AppState, email: &str, reservation_id: String) -> Result<(), ApiError> {
    let email = parse_email(email)?;
    state.db.run(move |conn| Ok(directory::release(conn, email.as_str(), &reservation_id)?)).await?;
    Ok(())
}

pub async fn look_up(state: &AppState, email: &str) -> Result<Option<DirectoryEntry>, ApiError> {
    let email = parse_email(email)?;
    let row = state.db.run(move |conn| Ok(directory::find(conn, email.as_str())?)).await?;
    row.map(|row| {
        Ok(DirectoryEntry {
            home_region: row.home_region,
            user_id: row.user_id,
            email: row.email,
            confirmed: row.confirmed,
        })
    })
    .transpose()
}

/// Records where a new user's email lives in every region that keeps its entry: here
/// directly when this region is one of them, through the outbox to the others. Runs in
/// the user's creating transaction, so a user never exists without its directory
/// entries on the way.
pub fn announce_user(conn: &mut PgConnection, regions: &Regions, email: &str, user: &UserId) -> QueryResult<()> {
    let event = |email: &str| Event::Directory { email: email.to_owned(), user_id: user.clone() };
    to_replicas(conn, regions, email, event, |conn, email| {
        directory::confirm(conn, email, user.as_str(), user.region().as_str()).map(drop)
    })
}

/// Erases `user`'s entry of `email` in every region that keeps one, and has each refuse
/// that user from now on: here directly, through the outbox to the others, in the
/// transaction that closes the account.
pub fn announce_erasure(conn: &mut PgConnection, regions: &Regions, email: &str, user: &UserId) -> QueryResult<()> {
    // The erasure holds here too, where the user lived, whether or not this region keeps
    // an entry of the email.
    directory::erase(conn, email, user.as_str())?;
    let event = |email: &str| Event::DirectoryErased { email: email.to_owned(), user_id: user.clone() };
    to_replicas(conn, regions, email, event, |_, _| Ok(()))
}

/// Does `here` when this region keeps `email`'s directory entry, and sends the others
/// that keep it `event`, through the outbox (in the caller's transaction).
fn to_replicas(
    conn: &mut PgConnection,
    regions: &Regions,
    email: &str,
    event: impl Fn(&str) -> Event,
    here: impl FnOnce(&mut PgConnection, &str) -> QueryResult<()>,
) -> QueryResult<()> {
    let Some(email) = contract::email::Email::parse(email) else {
        return Ok(());
    };
    let mut here = Some(here);
    for replica in contract::directory::directory_regions(&email, regions.all()) {
        if replica == regions.local {
            if let Some(here) = here.take() {
                here(conn, email.as_str())?;
            }
        } else {
            crate::services::groups::enqueue_event(conn, replica, &event(email.as_str()))?;
        }
    }
    Ok(())
}

/// Announces, once, every user of this region created before entries were replicated
/// (their entry was kept by one region only), a few hundred at a time.
pub async fn replicate_existing(state: &AppState) -> Result<usize, ApiError> {
    let mut total = 0;
    loop {
        let regions = state.regions.clone();
        let done = state
            .db
            .run(move |conn| {
                Ok(conn.transaction::<_, diesel::result::Error, _>(|conn| {
                    let users = crate::db::users::not_yet_replicated(conn, 500)?;
                    for (user, email) in &users {
                        announce_user(conn, &regions, email, user)?;
                    }
                    let ids: Vec<&str> = users.iter().map(|(id, _)| id.as_str()).collect();
                    crate::db::users::mark_replicated(conn, &ids)?;
                    Ok(users.len())
                })?)
            })
            .await?;
        total += done;
        if done < 500 {
            return Ok(total);
        }
    }
}
