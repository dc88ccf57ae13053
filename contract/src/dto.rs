//! JSON shapes of requests and responses. Requests reject unknown fields and carry
//! ids as plain strings, so the server can tell `invalid_id` from `invalid_input`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::ids::{EntryId, GroupId, InvitationId, ItemId, RegionId, UserId};

/// Distinguishes "field absent" (`None`) from "field set to null" (`Some(None)`) in patches.
fn nullable<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Customer,
    Staff,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Staff => "staff",
            Role::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "customer" => Ok(Role::Customer),
            "staff" => Ok(Role::Staff),
            "admin" => Ok(Role::Admin),
            _ => Err(()),
        }
    }
}

// ---- pages -------------------------------------------------------------------------

/// A page of a list, newest first. `next_cursor` is opaque; null on the last page.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

// ---- regions -----------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RegionStatus {
    Up,
    Down,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Region {
    pub id: RegionId,
    pub name: String,
    pub status: RegionStatus,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Regions {
    pub items: Vec<Region>,
}

// ---- users and sessions ------------------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub email: String,
    pub password: String,
    pub full_name: String,
    pub home_region: String,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub age: Option<i64>,
    /// `staff` or `admin` need an admin token; absent means `customer`.
    #[serde(default)]
    pub role: Option<Role>,
}

impl NewUser {
    /// A sign-up with only the fields the contract requires (a customer; set `role` for
    /// staff or an admin).
    pub fn new(email: &str, password: &str, full_name: &str, home_region: &str) -> NewUser {
        NewUser {
            email: email.to_owned(),
            password: password.to_owned(),
            full_name: full_name.to_owned(),
            home_region: home_region.to_owned(),
            phone: None,
            location: None,
            age: None,
            role: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub full_name: String,
    pub home_region: RegionId,
    pub role: Role,
    pub phone: Option<String>,
    pub location: Option<String>,
    pub age: Option<i32>,
    pub groups: Vec<GroupId>,
    pub personal_group_id: GroupId,
    pub created_on: DateTime<Utc>,
    pub updated_on: DateTime<Utc>,
}

/// Absent fields stay as they are; `null` clears an optional field.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    #[serde(default)]
    pub full_name: Option<String>,
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub location: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<i64>)]
    pub age: Option<Option<i64>>,
    /// (admin, v1.2 addition) A new role for the user. Every token the user holds is
    /// revoked with it: the role is written into tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSession {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Session {
    pub token: String,
    pub user_id: UserId,
    pub role: Role,
    pub expires_at: DateTime<Utc>,
}

// ---- groups ------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGroup {
    pub name: String,
    pub location: String,
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
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
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
    pub user_id: Option<String>,
    /// 60..=604800, default 86400.
    #[serde(default, skip_serializing_if = "Option::is_none")]
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

// ---- ledger ------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Award,
    Redeem,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Award => "award",
            EntryKind::Redeem => "redeem",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LedgerEntry {
    pub id: EntryId,
    pub group_id: GroupId,
    pub user_id: UserId,
    /// Who billed or redeemed; null only for entries older than v1.1 whose actor was
    /// no longer known when it was introduced.
    pub actor_id: Option<UserId>,
    pub kind: EntryKind,
    /// Signed: positive for awards, negative for redemptions.
    pub points: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount_cents: Option<i64>,
    pub balance_after: i64,
    pub idempotency_key: String,
    pub created_on: DateTime<Utc>,
}

/// A page of a user's activity merged across regions by the router, with the regions
/// that could not answer (an addition to the contract; empty from a single region).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ActivityPage {
    pub items: Vec<LedgerEntry>,
    pub next_cursor: Option<String>,
    #[serde(default)]
    pub unavailable: Vec<RegionId>,
}

// ---- catalogue ---------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CatalogueItem {
    pub id: ItemId,
    pub name: String,
    pub category: String,
    pub price_cents: i64,
    pub points_price: i64,
    pub available: bool,
    pub updated_on: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Catalogue {
    pub items: Vec<CatalogueItem>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCatalogueItem {
    pub name: String,
    pub category: String,
    pub price_cents: i64,
    pub points_price: i64,
    /// Defaults to true.
    #[serde(default)]
    pub available: Option<bool>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CatalogueItemPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub price_cents: Option<i64>,
    #[serde(default)]
    pub points_price: Option<i64>,
    #[serde(default)]
    pub available: Option<bool>,
}

// ---- points ------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BillLine {
    pub item_id: String,
    pub qty: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBill {
    pub user_id: String,
    /// Defaults to the user's personal group.
    #[serde(default)]
    pub group_id: Option<String>,
    pub store_region: String,
    pub items: Vec<BillLine>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Bill {
    pub id: EntryId,
    pub user_id: UserId,
    pub group_id: GroupId,
    pub store_region: RegionId,
    pub amount_cents: i64,
    pub points_awarded: i64,
    pub balance_after: i64,
    pub created_on: DateTime<Utc>,
}

/// Either `{points}` or `{item_id, qty}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRedemption {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qty: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Redemption {
    pub id: EntryId,
    pub group_id: GroupId,
    pub user_id: UserId,
    /// The positive amount redeemed.
    pub points: i64,
    pub balance_after: i64,
    pub created_on: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_tells_absent_from_null() {
        let p: UserPatch = serde_json::from_str(r#"{"phone": null}"#).unwrap();
        assert_eq!(p.phone, Some(None));
        assert_eq!(p.location, None);
    }

    #[test]
    fn unknown_fields_are_rejected() {
        assert!(serde_json::from_str::<NewSession>(r#"{"email":"a","password":"b","x":1}"#).is_err());
    }
}
