//! Shapes of the region-to-region API under `/internal` (service token only; the router
//! never forwards `/internal` from clients).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{GroupId, RegionId, UserId};

/// Header that carries the shared service token on `/internal` calls.
pub const SERVICE_TOKEN_HEADER: &str = "X-Service-Token";

/// The shortest service token a service starts with: an empty or short token would let
/// anyone who guesses it call `/internal` (an empty one matched an empty header).
pub const MIN_SERVICE_TOKEN_BYTES: usize = 32;

/// Refuses a configured service token shorter than `MIN_SERVICE_TOKEN_BYTES`; none at all
/// is allowed (`/internal` then refuses everyone).
pub fn check_service_token(token: Option<&str>) -> Result<(), String> {
    match token {
        Some(token) if token.len() < MIN_SERVICE_TOKEN_BYTES => Err(format!(
            "the service token is {} bytes; it must be at least {MIN_SERVICE_TOKEN_BYTES} (e.g. 32 random bytes, hex)",
            token.len()
        )),
        _ => Ok(()),
    }
}

/// An event from another region's outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// A membership changed in the group's region; the member's home region indexes it.
    Membership { user_id: UserId, group_id: GroupId, active: bool, version: i64 },
    /// A user exists: the email's directory region records where.
    Directory { email: String, user_id: UserId },
    /// A user's account was closed: the email's directory region forgets its entry and
    /// refuses any later confirmation of that user.
    DirectoryErased { email: String, user_id: UserId },
    /// The member's home region found the account closed when a membership event said
    /// they joined: the group's region ends that membership (a join that committed as
    /// the closure did, with a token the group's region had not yet learnt was revoked).
    MemberErased { user_id: UserId, group_id: GroupId },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventEnvelope {
    /// The sender's outbox id: with `origin`, identifies the event for logs.
    pub id: i64,
    pub origin: RegionId,
    pub created_on: DateTime<Utc>,
    pub event: Event,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventBatch {
    pub events: Vec<EventEnvelope>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewReservation {
    pub email: String,
    pub home_region: RegionId,
    /// Set to take over a reservation whose lease ran out and whose home region was
    /// found to have no such user.
    #[serde(default)]
    pub replaces: Option<String>,
}

/// The directory's answer to a reservation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Reservation {
    /// The email is held for this sign-up until `lease_until`.
    Reserved { reservation_id: String, lease_until: DateTime<Utc> },
    /// A user has it, or another sign-up is under way.
    Taken,
    /// An earlier sign-up reserved it and never confirmed: ask `home_region` whether the
    /// user exists before replacing reservation `reservation_id`.
    Stale { reservation_id: String, home_region: RegionId },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Confirmation {
    pub email: String,
    pub user_id: UserId,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DirectoryEntry {
    pub email: String,
    pub home_region: RegionId,
    pub user_id: Option<UserId>,
    pub confirmed: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserRef {
    pub user_id: UserId,
}

#[cfg(test)]
mod service_token_tests {
    use super::*;

    #[test]
    fn short_and_empty_tokens_are_refused() {
        assert!(check_service_token(Some("")).is_err());
        assert!(check_service_token(Some(&"x".repeat(31))).is_err());
        assert!(check_service_token(Some(&"x".repeat(32))).is_ok());
        assert!(check_service_token(None).is_ok());
    }
}

/// One row of a region's token denylist (`GET /internal/revocations?after=SEQ`): a single
/// token (`jti`) or every token of the user issued before `not_before`. Read from the
/// database as it is sent (feature `diesel`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "diesel", derive(diesel::Queryable))]
pub struct Revocation {
    pub seq: i64,
    pub user_id: UserId,
    pub jti: Option<String>,
    pub not_before: Option<DateTime<Utc>>,
    /// When the tokens it names have all expired, and the row can be forgotten.
    pub expires_at: DateTime<Utc>,
    /// Old enough that no row with a lower `seq` can still commit: a reader may move its
    /// cursor past it.
    pub settled: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Revocations {
    pub items: Vec<Revocation>,
}

/// A membership as its group's region keeps it (`GET /internal/memberships`, `POST
/// /internal/memberships/at`): what the member's home region's index must come to say.
/// `undelivered`: the event that tells the home region of its latest change is still in
/// the group region's outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembershipState {
    pub group_id: GroupId,
    pub user_id: UserId,
    pub active: bool,
    pub version: i64,
    pub undelivered: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MembershipStates {
    pub items: Vec<MembershipState>,
}

/// `GET /internal/memberships/of?user_id=`: whom a region is asked about.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberQuery {
    pub user_id: UserId,
}

/// The groups of the answering region that the asked user is an active member of.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemberGroups {
    pub items: Vec<GroupId>,
}

/// `GET /internal/memberships`: the memberships of `home_region`'s users in this region's
/// groups, after (`after_group`, `after_user`) in that order, at most `limit`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MembershipsQuery {
    pub home_region: RegionId,
    #[serde(default)]
    pub after_group: String,
    #[serde(default)]
    pub after_user: String,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MembershipKey {
    pub group_id: GroupId,
    pub user_id: UserId,
}

/// `POST /internal/memberships/at`: these memberships of `home_region`'s users, those
/// that exist.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MembershipKeys {
    pub home_region: RegionId,
    pub items: Vec<MembershipKey>,
}
