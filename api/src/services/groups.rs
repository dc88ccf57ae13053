//! Groups: creation, reading, governance (names, owner), who may do what to a group
//! (`Standing`), and the groups of a user.

use contract::dto::{Group, GroupPatch, Member, MemberRole, NewGroup, UserGroups};
use contract::internal::Event;
use contract::text::{Location, Name};
use contract::{ErrorCode, GroupId, RegionId, Regional, UserId};
use diesel::prelude::*;

use crate::auth::Caller;
use crate::config::GroupsConfig;
use crate::db::{self, Guard, groups, outbox, users};
use crate::domain::required_text;
use crate::error::ApiError;
use crate::services::AppState;

/// Queues `event` for `region` in the caller's transaction.
pub fn enqueue_event(conn: &mut PgConnection, region: RegionId, event: &Event) -> QueryResult<()> {
    let payload = serde_json::to_value(event).map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
    let kind = payload.get("kind").and_then(|k| k.as_str()).unwrap_or("event").to_owned();
    outbox::enqueue(conn, region.as_str(), &kind, &payload)
}

/// Writes a membership change in this (the group's) region and, in the same
/// transaction, updates the member's index: directly when the member lives here, else
/// through the outbox for their home region.
pub fn record_membership(
    conn: &mut PgConnection,
    local: RegionId,
    group: &GroupId,
    user: &UserId,
    active: bool,
    can_redeem: bool,
    previous: Option<&groups::MemberRow>,
) -> QueryResult<groups::MemberRow> {
    let row = groups::set_membership(conn, group.as_str(), user.as_str(), active, can_redeem, previous)?;
    if user.region() == local {
        users::apply_membership(conn, user.as_str(), group.as_str(), active, row.version)?;
    } else {
        let event = Event::Membership { user_id: user.clone(), group_id: group.clone(), active, version: row.version };
        enqueue_event(conn, user.region(), &event)?;
    }
    Ok(row)
}

/// Inserts a group owned by `owner` under a fresh id of `region`.
pub fn insert_group(
    conn: &mut PgConnection,
    region: RegionId,
    name: &str,
    location: &str,
    owner: &str,
) -> QueryResult<GroupId> {
    db::with_fresh_id(
        || GroupId::generate(region),
        |id| {
            let row = groups::NewGroupRow { id, name, location, personal_of: None, owner_id: owner };
            Ok(groups::insert(conn, &row)?.then(|| id.clone()))
        },
    )
}

/// Whether `owner` may own one more group here (`groups.max_owned`). The transaction
/// must hold `Guard::OwnedGroups` of `owner`, so that two creations or hand-overs at once
/// cannot both pass the bound.
fn room_to_own(conn: &mut PgConnection, owner: &UserId, max_owned: i64) -> QueryResult<Result<(), ApiError>> {
    if groups::count_owned(conn, owner.as_str())? >= max_owned {
        metrics::counter!("limit_reached_total", "limit" => "groups.max_owned").increment(1);
        return Ok(Err(ApiError::new(
            ErrorCode::LimitReached,
            format!("{owner} owns {max_owned} groups in this region (those they left included), the most one user may"),
        )));
    }
    Ok(Ok(()))
}

/// What a caller is to a group, as its own region (the authoritative side) says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Neither a member, staff nor admin: the group does not exist for them.
    Stranger,
    /// Staff who are not members: they see every group (to bill its members).
    Staff,
    Member {
        can_redeem: bool,
    },
    Owner,
    Admin,
}

impl Standing {
    pub fn of(caller: &Caller, owner_id: &UserId, member: Option<bool>) -> Standing {
        match member {
            _ if caller.is_admin() => Standing::Admin,
            Some(_) if &caller.user_id == owner_id => Standing::Owner,
            Some(can_redeem) => Standing::Member { can_redeem },
            None if caller.is_staff_or_admin() => Standing::Staff,
            None => Standing::Stranger,
        }
    }

    /// Owners and admins manage a group: its names, owner, invitations and members.
    pub fn manages(self) -> bool {
        matches!(self, Standing::Owner | Standing::Admin)
    }

    /// The group as this caller may know it: missing for strangers, refused for those
    /// who see it but may not do `what`.
    pub fn require_manager(self, group: &GroupId, what: &str) -> Result<(), ApiError> {
        match self {
            Standing::Stranger => Err(group_not_found(group)),
            _ if self.manages() => Ok(()),
            _ => Err(ApiError::forbidden(format!("only the group's owner {what}"))),
        }
    }

    pub fn require_sight(self, group: &GroupId) -> Result<(), ApiError> {
        if self == Standing::Stranger { Err(group_not_found(group)) } else { Ok(()) }
    }
}

/// A missing group, and one the caller may not see, are answered alike.
pub fn group_not_found(group: &GroupId) -> ApiError {
    ApiError::not_found(format!("group {group} not found"))
}

/// The group, locked, if the caller's standing passes `may`: the start of a change only
/// some may make. `may` is asked first from an unlocked read, so a caller who may not is
/// refused without queueing on the group's row (every points write of the group locks
/// it too, so queueing would let anyone who learnt the id hold those up), and again once
/// the row is locked.
pub fn lock_if_allowed(
    conn: &mut PgConnection,
    caller: &Caller,
    group: &GroupId,
    may: impl Fn(Standing) -> Result<(), ApiError>,
) -> QueryResult<Result<(groups::GroupRow, Standing), ApiError>> {
    refuse_on_err!(with_standing(conn, caller, group)?.and_then(|(_, seen)| may(seen)));
    let (row, standing) = refuse_on_err!(lock_with_standing(conn, caller, group)?);
    refuse_on_err!(may(standing));
    Ok(Ok((row, standing)))
}

/// The group, locked, and the caller's standing in it: the start of every change of a
/// group's membership or governance (they queue on the group's row). `Ok(Err)`: no
/// such group. A caller who may not make the change is refused before this
/// (`lock_if_allowed`, or `update`'s own check before its transaction).
pub fn lock_with_standing(
    conn: &mut PgConnection,
    caller: &Caller,
    group: &GroupId,
) -> QueryResult<Result<(groups::GroupRow, Standing), ApiError>> {
    let Some(row) = groups::lock(conn, group.as_str())? else {
        return Ok(Err(group_not_found(group)));
    };
    let membership = groups::membership(conn, group.as_str(), caller.user_id.as_str())?;
    let member = membership.filter(|m| m.active).map(|m| m.can_redeem);
    let standing = Standing::of(caller, &row.owner_id, member);
    Ok(Ok((row, standing)))
}

/// The group and the caller's standing in it, read in one statement, for reads and
/// changes that need not queue on the group's row. `Ok(Err)`: no such group.
pub fn with_standing(
    conn: &mut PgConnection,
    caller: &Caller,
    group: &GroupId,
) -> QueryResult<Result<(groups::GroupRow, Standing), ApiError>> {
    let Some((row, member)) = groups::find_with_member(conn, group.as_str(), caller.user_id.as_str())? else {
        return Ok(Err(group_not_found(group)));
    };
    let standing = Standing::of(caller, &row.owner_id, member);
    Ok(Ok((row, standing)))
}

/// A member's role and right to redeem as the API shows them: the owner always may.
pub fn member_rights(owner_id: &UserId, user_id: &UserId, can_redeem: bool) -> (MemberRole, bool) {
    if owner_id == user_id { (MemberRole::Owner, true) } else { (MemberRole::Member, can_redeem) }
}

fn to_dto(row: groups::GroupRow, members: Vec<groups::ActiveMember>, max_members: i64) -> QueryResult<Group> {
    let memberships: Vec<Member> = members
        .into_iter()
        .map(|m| {
            let (role, can_redeem) = member_rights(&row.owner_id, &m.user_id, m.can_redeem);
            Member { user_id: m.user_id, role, can_redeem, joined_on: m.joined_on }
        })
        .collect();
    Ok(Group {
        region: row.id.region(),
        id: row.id,
        name: row.name,
        location: row.location,
        points: row.points,
        personal: row.personal_of.is_some(),
        owner_id: row.owner_id,
        members: memberships.iter().map(|m| m.user_id.clone()).collect(),
        memberships,
        max_members,
        created_on: row.created_on,
        updated_on: row.updated_on,
    })
}

fn load(conn: &mut PgConnection, id: &str, max_members: i64) -> QueryResult<Option<Group>> {
    groups::with_members(conn, id)?.map(|(row, members)| to_dto(row, members, max_members)).transpose()
}

pub async fn create(state: &AppState, caller: &Caller, new: &NewGroup) -> Result<Group, ApiError> {
    let name = required_text::<Name>("name", &new.name)?;
    let location = required_text::<Location>("location", &new.location)?;
    let region = state.regions.parse_region("region", &new.region)?;
    state.regions.ensure_local("group", region)?;
    let creator = caller.user_id.clone();
    let GroupsConfig { max_members, max_owned, .. } = state.config.groups;
    state
        .db
        .run(move |conn| {
            // A refusal (`Ok(Err)`) commits nothing: it comes before the insert.
            conn.transaction::<_, diesel::result::Error, _>(|conn| {
                db::lock_until_commit(conn, Guard::OwnedGroups, creator.as_str())?;
                refuse_on_err!(room_to_own(conn, &creator, max_owned)?);
                let id = insert_group(conn, region, &name, &location, creator.as_str())?;
                record_membership(conn, region, &id, &creator, true, true, None)?;
                Ok(Ok(load(conn, id.as_str(), max_members)?.ok_or(diesel::result::Error::NotFound)?))
            })?
        })
        .await
}

/// Members, staff and admins read a group; to anyone else it does not exist.
pub async fn read(state: &AppState, caller: &Caller, id: GroupId) -> Result<Group, ApiError> {
    let caller = caller.clone();
    let max_members = state.config.groups.max_members;
    state
        .db
        .run(move |conn| {
            let group = load(conn, id.as_str(), max_members)?.ok_or_else(|| group_not_found(&id))?;
            // The group as loaded lists its active members: no query of its own for that.
            let member = group.memberships.iter().find(|m| m.user_id == caller.user_id).map(|m| m.can_redeem);
            Standing::of(&caller, &group.owner_id, member).require_sight(&id)?;
            Ok(group)
        })
        .await
}

/// A patch of a group, parsed.
pub struct GroupUpdate {
    name: Option<String>,
    location: Option<String>,
    owner: Option<UserId>,
}

impl GroupUpdate {
    pub fn parse(state: &AppState, patch: &GroupPatch) -> Result<GroupUpdate, ApiError> {
        Ok(GroupUpdate {
            name: patch.name.as_deref().map(|n| required_text::<Name>("name", n)).transpose()?,
            location: patch.location.as_deref().map(|l| required_text::<Location>("location", l)).transpose()?,
            owner: patch.owner_id.as_deref().map(|o| state.regions.parse_id("owner_id", o)).transpose()?,
        })
    }
}

/// Renames a group or hands it to another member (owner, admin).
pub async fn update(state: &AppState, caller: &Caller, id: GroupId, update: GroupUpdate) -> Result<Group, ApiError> {
    let caller = caller.clone();
    let GroupsConfig { max_members, max_owned, .. } = state.config.groups;
    state
        .db
        .retrying(move |conn| {
            // Only the owner or an admin gets further, before the transaction (see
            // `lock_if_allowed`), so nobody else takes the new owner's lock below either.
            let what = "changes the group";
            refuse_on_err!(with_standing(conn, &caller, &id)?.and_then(|(_, seen)| seen.require_manager(&id, what)));
            conn.build_transaction()
                .serializable()
                .run(|conn| change_group(conn, &caller, &id, &update, max_members, max_owned))
        })
        .await?
}

/// `update`'s transaction.
fn change_group(
    conn: &mut PgConnection,
    caller: &Caller,
    id: &GroupId,
    update: &GroupUpdate,
    max_members: i64,
    max_owned: i64,
) -> QueryResult<Result<Group, ApiError>> {
    // The bound is checked only for a hand-over to someone else, below; its lock
    // comes first all the same (the snapshot is taken at the first statement).
    if let Some(owner) = &update.owner {
        db::lock_until_commit(conn, Guard::OwnedGroups, owner.as_str())?;
    }
    let (row, standing) = refuse_on_err!(lock_with_standing(conn, caller, id)?);
    refuse_on_err!(standing.require_manager(id, "changes the group"));
    let mut change =
        groups::GroupChange { name: update.name.clone(), location: update.location.clone(), owner_id: None };
    if let Some(owner) = &update.owner
        && *owner != row.owner_id
    {
        if row.personal_of.is_some() {
            return Ok(Err(ApiError::forbidden("a personal group cannot be given away")));
        }
        let membership = groups::membership(conn, id.as_str(), owner.as_str())?;
        let Some(membership) = membership.filter(|m| m.active) else {
            return Ok(Err(ApiError::invalid_input(format!("{owner} is not a member of {id}"))));
        };
        refuse_on_err!(room_to_own(conn, owner, max_owned)?);
        // The new owner redeems as owner; should the group pass on again, they
        // keep that right as a member, as the former owner does now.
        if !membership.can_redeem {
            groups::set_can_redeem(conn, id.as_str(), owner.as_str(), true)?;
        }
        change.owner_id = Some(owner.to_string());
    }
    groups::update(conn, id.as_str(), &change)?;
    Ok(load(conn, id.as_str(), max_members)?.ok_or_else(|| group_not_found(id)))
}

/// The groups of this region the user belongs to (the router merges every region's).
/// The user's home region also vouches for the user (404 if unknown) and adds their
/// membership index, so the router's fan-out needs no separate call for it.
pub async fn of_user(state: &AppState, user: UserId) -> Result<UserGroups, ApiError> {
    let home = user.region() == state.regions.local;
    let max_members = state.config.groups.max_members;
    state
        .db
        .run(move |conn| {
            let here = groups::of_user_here(conn, user.as_str())?;
            let memberships = if home {
                if !here.user_known {
                    return Err(ApiError::not_found(format!("user {user} not found")));
                }
                Some(here.index.clone())
            } else {
                None
            };
            let items = here
                .groups
                .into_iter()
                .map(|(row, members)| to_dto(row, members, max_members))
                .collect::<QueryResult<_>>()?;
            Ok(UserGroups { items, unavailable: Vec::new(), memberships })
        })
        .await
}
