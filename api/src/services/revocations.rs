//! Logout and role changes revoke tokens before they expire. The denylist of a user's
//! tokens lives in the user's home region (`token_revocations`), which alone issues and
//! revokes them. Every instance of every region follows every region's list by sequence
//! number (its own region's from the database, the others' over `/internal/revocations`)
//! every `auth.revocation_poll_ms`, and checks a token against what it has learnt in
//! memory: no call on the request path. So a revoked token is refused everywhere within
//! one poll (at once by the instance that revoked it). A region whose list cannot be
//! read for `auth.revocation_stale_ms` has its users' writes refused elsewhere (`503`;
//! `routes::extract`) until it is read again: a revocation made there meanwhile cannot be
//! known, and a stolen token must not spend on the strength of that. Reads go on.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use actix_web::web;
use chrono::{DateTime, Utc};
use contract::internal::{Revocation, Revocations as RevocationPage};
use contract::{RegionId, UserId};

use crate::auth::Claims;
use crate::db::{Db, revocations};
use crate::error::ApiError;
use crate::services::AppState;

/// Rows read per query; a poll goes on reading while pages come back full.
const PAGE: i64 = 1_000;

pub struct Revocations {
    inner: RwLock<Denylist>,
    /// A list not read yet counts as read when the instance started: its peers may come
    /// up a little after it (`make up`, a deploy), and a list is read within seconds of
    /// its region answering.
    started: Instant,
}

impl Default for Revocations {
    fn default() -> Self {
        Revocations { inner: RwLock::default(), started: Instant::now() }
    }
}

#[derive(Default)]
struct Denylist {
    /// Revoked token ids → when the token expires (seconds).
    tokens: HashMap<String, i64>,
    /// User → (tokens issued before this are revoked, ms; when that stops mattering, s).
    users: HashMap<UserId, (i64, i64)>,
    /// Per region, the last sequence number read with nothing unsettled before it, and
    /// when its list was last read to the end.
    read: HashMap<RegionId, (i64, Instant)>,
}

/// When a token was issued, in milliseconds: its id is a ULID, whose first 48 bits are
/// that instant (a role change and a new login in the same second are told apart);
/// tokens without one count from their `iat`.
fn issued_ms(claims: &Claims) -> i64 {
    claims
        .jti
        .as_deref()
        .and_then(|jti| ulid::Ulid::from_string(jti).ok())
        .map_or(claims.iat.saturating_mul(1_000), |id| id.timestamp_ms() as i64)
}

impl Revocations {
    pub fn is_revoked(&self, user: &UserId, claims: &Claims) -> bool {
        let Ok(list) = self.inner.read() else { return false };
        if claims.jti.as_ref().is_some_and(|jti| list.tokens.contains_key(jti)) {
            return true;
        }
        list.users.get(user).is_some_and(|(not_before_ms, _)| issued_ms(claims) < *not_before_ms)
    }

    fn learn(&self, revocation: &Revocation) {
        let Ok(mut list) = self.inner.write() else { return };
        let expires = revocation.expires_at.timestamp();
        if let Some(jti) = &revocation.jti {
            list.tokens.insert(jti.clone(), expires);
        }
        if let Some(not_before) = revocation.not_before {
            let entry = list.users.entry(revocation.user_id.clone()).or_insert((i64::MIN, expires));
            if not_before.timestamp_millis() >= entry.0 {
                *entry = (not_before.timestamp_millis(), expires.max(entry.1));
            }
        }
    }

    fn cursor(&self, region: RegionId) -> i64 {
        self.inner.read().map_or(0, |list| list.read.get(&region).map_or(0, |(seq, _)| *seq))
    }

    /// `region`'s list was read to the end, up to `seq` settled.
    fn read_to(&self, region: RegionId, seq: i64) {
        if let Ok(mut list) = self.inner.write() {
            list.read.insert(region, (seq, Instant::now()));
        }
    }

    /// Whether `region`'s list was read to the end within `within`: if not, a token of
    /// its users revoked since may be refused everywhere but here.
    pub fn read_within(&self, region: RegionId, within: Duration) -> bool {
        let Ok(list) = self.inner.read() else { return false };
        list.read.get(&region).map_or(self.started, |(_, on)| *on).elapsed() <= within
    }

    /// Forgets entries whose tokens have all expired.
    fn forget_expired(&self, now: DateTime<Utc>) {
        let now = now.timestamp();
        if let Ok(mut list) = self.inner.write() {
            list.tokens.retain(|_, expires| *expires >= now);
            list.users.retain(|_, (_, expires)| *expires >= now);
        }
    }

    /// How many entries are held (tokens, users).
    pub fn len(&self) -> (usize, usize) {
        self.inner.read().map_or((0, 0), |list| (list.tokens.len(), list.users.len()))
    }
}

/// Revokes one token of `user` (a logout).
pub async fn revoke_token(state: &AppState, user: &UserId, claims: &Claims) -> Result<(), ApiError> {
    let Some(jti) = claims.jti.clone() else {
        // A token from before token ids: only all of the user's tokens can be revoked.
        return revoke_user(state, user).await;
    };
    let expires_at = DateTime::from_timestamp(claims.exp, 0).unwrap_or_else(Utc::now);
    store(
        state,
        Revocation { seq: 0, user_id: user.clone(), jti: Some(jti), not_before: None, expires_at, settled: false },
    )
    .await
}

/// Revokes every token of `user` issued until now ("log out everywhere").
pub async fn revoke_user(state: &AppState, user: &UserId) -> Result<(), ApiError> {
    store(state, all_of(state, user)).await
}

/// A revocation of every token of `user` issued until now, not written yet: kept until
/// the last of them can have expired.
pub fn all_of(state: &AppState, user: &UserId) -> Revocation {
    let now = Utc::now();
    let expires_at = now + chrono::Duration::seconds(state.config.auth.token_ttl_secs + 60);
    Revocation { seq: 0, user_id: user.clone(), jti: None, not_before: Some(now), expires_at, settled: false }
}

/// Writes `revocation` (in the caller's transaction, if any); its sequence number.
pub fn write(conn: &mut diesel::PgConnection, revocation: &Revocation) -> diesel::QueryResult<i64> {
    let user_id = revocation.user_id.to_string();
    let row = revocations::NewRevocation {
        user_id: &user_id,
        jti: revocation.jti.as_deref(),
        not_before: revocation.not_before,
        expires_at: revocation.expires_at,
    };
    revocations::insert(conn, &row)
}

/// Once the write of `revocation` committed as `seq`: this instance refuses from now on,
/// the others within a poll.
pub fn written(state: &AppState, revocation: Revocation, seq: i64) {
    state.revocations.learn(&Revocation { seq, ..revocation });
}

async fn store(state: &AppState, revocation: Revocation) -> Result<(), ApiError> {
    let row = revocation.clone();
    let seq = state.db.run(move |conn| Ok(write(conn, &row)?)).await?;
    written(state, revocation, seq);
    Ok(())
}

/// This region's rows after `seq` (for `/internal/revocations`).
pub async fn page(db: &Db, after: i64) -> Result<RevocationPage, ApiError> {
    let items = db.run(move |conn| Ok(revocations::after(conn, after, PAGE)?)).await?;
    Ok(RevocationPage { items })
}

/// Follows every region's denylist until the process ends, each region on its own: a
/// region whose calls hang until their timeout delays only its own users' revocations.
/// (In one loop, a hung region held every other region's reads up by its timeout: a
/// logout in 002 reached 001 after 1.9 s instead of 0.7 s while 003 dropped traffic.)
pub async fn run(state: web::Data<AppState>) {
    let poll = Duration::from_millis(state.config.auth.revocation_poll_ms.max(100));
    let follows = state.regions.all().iter().map(|&region| follow(&state, region, poll));
    let forget = async {
        loop {
            tokio::time::sleep(poll).await;
            state.revocations.forget_expired(Utc::now());
        }
    };
    futures_util::future::join(futures_util::future::join_all(follows), forget).await;
}

/// Reads `region`'s list every `poll`. A region that does not answer is asked again after
/// 2, 4 then 5 s: seldom enough that a region which is down costs its peers little, soon
/// enough that once it is back its users' revocations are followed within seconds.
async fn follow(state: &AppState, region: RegionId, poll: Duration) {
    let mut tick = tokio::time::interval(poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failures = 0u32;
    loop {
        tick.tick().await;
        match sync_region(state, region).await {
            Ok(()) => {
                if failures > 0 {
                    tracing::info!(%region, "revocations read again");
                }
                failures = 0;
            }
            Err(err) => {
                failures += 1;
                if failures == 1 {
                    tracing::warn!(%region, error = %err.message, "revocations not read; retrying with backoff");
                }
                let wait = Duration::from_secs(1 << failures.min(3)).min(Duration::from_secs(5));
                tokio::time::sleep(wait.saturating_sub(poll)).await;
            }
        }
    }
}

/// Reads every region's list once (at start, before serving); a region that does not
/// answer is left to the polls.
pub async fn sync(state: &AppState) {
    // All regions at once: one that does not answer costs start-up one timeout, not one each.
    let reads = state.regions.all().iter().map(|&region| async move { (region, sync_region(state, region).await) });
    for (region, read) in futures_util::future::join_all(reads).await {
        if let Err(err) = read {
            tracing::warn!(%region, error = %err.message, "revocations not read at start; the polls go on");
        }
    }
}

async fn sync_region(state: &AppState, region: RegionId) -> Result<(), ApiError> {
    let mut read_from = state.revocations.cursor(region);
    let mut cursor = read_from;
    let mut unsettled = false;
    loop {
        let page = if region == state.regions.local {
            page(&state.db, read_from).await?
        } else {
            remote_page(state, region, read_from).await?
        };
        for revocation in &page.items {
            state.revocations.learn(revocation);
            // The cursor stops before the first row a lower one could still precede.
            unsettled |= !revocation.settled;
            if !unsettled {
                cursor = revocation.seq;
            }
            read_from = revocation.seq;
        }
        if (page.items.len() as i64) < PAGE {
            break;
        }
    }
    state.revocations.read_to(region, cursor);
    Ok(())
}

async fn remote_page(state: &AppState, region: RegionId, after: i64) -> Result<RevocationPage, ApiError> {
    state.peers.get(region, |peer| async move { peer.revocations(after).await }).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_counts_as_read_from_the_start_then_from_its_last_read() {
        let region: RegionId = "002".parse().unwrap_or_else(|_| unreachable!("a valid region"));
        let fresh = Revocations::default();
        assert!(fresh.read_within(region, Duration::from_secs(10)), "just started");
        let started = Instant::now().checked_sub(Duration::from_secs(20)).unwrap_or_else(Instant::now);
        let old = Revocations { started, ..Revocations::default() };
        assert!(!old.read_within(region, Duration::from_secs(10)), "never read in 20 s");
        old.read_to(region, 7);
        assert!(old.read_within(region, Duration::from_secs(10)));
        assert_eq!(old.cursor(region), 7);
        assert!(!old.read_within("003".parse().unwrap_or_else(|_| unreachable!()), Duration::from_secs(10)));
    }
}
