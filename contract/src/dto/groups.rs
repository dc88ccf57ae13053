//! Groups, memberships and invitations.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::{GroupId, InvitationId, RegionId, UserId};
use crate::text::{Location, Name};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGroup {
    #[schema(value_type = Name)]
    pub name: String,
    #[schema(value_type = Location)]
    pub location: String,
    #[schema(value_type = RegionId)]
    pub region: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Group {
    pub id: GroupId,
    pub name: String,
    pub location: String,
    pub region: RegionId,
    pub points: i64,
    /// A user's personal group: only that user, never joined, left or given away.
    pub personal: bool,
    pub owner_id: UserId,
    /// The active members' ids, oldest membership first (as `memberships`).
    pub members: Vec<UserId>,
    pub memberships: Vec<Member>,
    /// How many members the group may have (deployment configuration).
    pub max_members: i64,
    pub created_on: DateTime<Utc>,
    pub updated_on: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MemberRole {
    Owner,
    Member,
}

/// One active membership of a group, as the group shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Member {
    pub user_id: UserId,
    pub role: MemberRole,
    /// The owner always may redeem.
    pub can_redeem: bool,
    pub joined_on: DateTime<Utc>,
}

/// `PATCH /v1/groups/{gid}`: absent fields stay; `owner_id` hands ownership to a member.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Name>)]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Location>)]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<UserId>)]
    pub owner_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    #[schema(value_type = UserId)]
    pub user_id: String,
    /// The invitation's code. Required, except for an admin adding someone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invitation: Option<String>,
}

/// Answer to `POST /v1/groups/{gid}/members` and `PATCH .../members/{uid}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Membership {
    pub group_id: GroupId,
    pub user_id: UserId,
    pub role: MemberRole,
    pub can_redeem: bool,
    pub joined_on: DateTime<Utc>,
}

/// `PATCH /v1/groups/{gid}/members/{uid}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberPatch {
    pub can_redeem: bool,
}

/// `POST /v1/groups/{gid}/invitations`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInvitation {
    /// Whether whoever joins with it may redeem; default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can_redeem: Option<bool>,
    /// Only this user may use it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<UserId>)]
    pub user_id: Option<String>,
    /// 60..=604800, default 86400.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 60, maximum = 604800)]
    pub expires_in_secs: Option<i64>,
}

/// A new invitation. `code` is shown only here: the server keeps its hash.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Invitation {
    pub id: InvitationId,
    /// `<group id>.` and 256 random bits, URL-safe: give it to the one who joins.
    pub code: String,
    pub group_id: GroupId,
    pub can_redeem: bool,
    pub user_id: Option<UserId>,
    pub expires_at: DateTime<Utc>,
}

/// An invitation as its group's owner lists it (never its code).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InvitationSummary {
    pub id: InvitationId,
    pub can_redeem: bool,
    pub user_id: Option<UserId>,
    pub expires_at: DateTime<Utc>,
    pub used_by: Option<UserId>,
    pub used_on: Option<DateTime<Utc>>,
    /// Addition to the contract: when it was revoked, if it was.
    pub revoked_on: Option<DateTime<Utc>>,
    /// Addition to the contract.
    pub created_on: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserGroups {
    pub items: Vec<Group>,
    /// Groups whose region could not answer.
    pub unavailable: Vec<GroupId>,
    /// Only in a user's home region's own answer: the ids of all the user's groups, in
    /// every region (its membership index), oldest membership first. The router merges by
    /// it, so one call to the home region serves both; the router's answer leaves it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memberships: Option<Vec<GroupId>>,
}
