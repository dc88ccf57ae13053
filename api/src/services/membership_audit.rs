//! The audit's check of this region's membership index against the groups of every other
//! region (`loyalty-api --audit --across-regions`): the index is what lists a user's
//! groups, and a membership event lost on its way would hide a group from its member for
//! good. The index of this region's own groups is checked in the database, with the
//! books (`db::audit`).
//!
//! Both ways, for each other region:
//! - its memberships of this region's users, a page at a time, against this region's
//!   index read after them. An index behind a membership whose event the group's region
//!   has delivered is a finding: delivery is marked only once the index applied it, and
//!   the index was read after the delivery was. Behind an undelivered one it is pending.
//! - this region's index rows of its groups, against its memberships read after them: an
//!   index row of a membership the group's region does not have, or at a version it never
//!   reached, was never told by it.
//!
//! With `repair` (`--repair`), each such row is set to what the group's region says, on
//! condition that it still reads as the audit read it (`membership_check::set_index`):
//! after a restore of either side's database from a backup, the index then follows the
//! groups again, and a membership change arriving meanwhile is never undone.

use std::collections::HashMap;

use contract::RegionId;
use contract::internal::{MembershipKey, MembershipKeys, MembershipState, MembershipStates, MembershipsQuery};

use crate::db::Db;
use crate::db::audit::{Audit, Finding};
use crate::db::membership_check::{self, MembershipRow};
use crate::error::ApiError;
use crate::services::peers::Peers;

/// Memberships a page, each way (the keys sent back must stay within the 64 KiB body).
const PAGE: usize = 500;
/// The most a group region lists or looks up in one call: 1 000 keys are about 49 KiB of
/// JSON, so the count, not the 64 KiB body limit, is what refuses a longer look-up.
const MAX_PAGE: usize = 1_000;

/// Checks this (`local`) region's index against each of `others`, into `audit`; with
/// `repair`, sets right what it can.
pub async fn check(db: &Db, peers: &Peers, local: RegionId, others: &[RegionId], repair: bool, audit: &mut Audit) {
    let mut check = Check { db, peers, local, repair, audit };
    for &region in others.iter().filter(|&&r| r != local) {
        let checked = async {
            check.their_memberships(region).await?;
            check.our_index(region).await
        };
        if let Err(err) = checked.await {
            check.audit.index.regions_unreached.push(format!("{region}: {}", err.message));
        }
    }
}

/// One run of the check: where it reads, and where it writes what it finds.
struct Check<'a> {
    db: &'a Db,
    peers: &'a Peers,
    local: RegionId,
    repair: bool,
    audit: &'a mut Audit,
}

impl Check<'_> {
    /// `region`'s memberships of our users against our index.
    async fn their_memberships(&mut self, region: RegionId) -> Result<(), ApiError> {
        let mut query = MembershipsQuery {
            home_region: self.local,
            after_group: String::new(),
            after_user: String::new(),
            limit: PAGE as u32,
        };
        loop {
            let asked = &query;
            let page = self.peers.get(region, |peer| async move { peer.memberships(asked).await }).await?.items;
            let Some(last) = page.last() else { return Ok(()) };
            (query.after_group, query.after_user) = (last.group_id.to_string(), last.user_id.to_string());
            let index = index_at(self.db, &page).await?;
            let index: HashMap<_, _> = index.iter().map(|row| (key_of(row), row)).collect();
            self.audit.index.memberships += page.len() as u64;
            for membership in &page {
                let indexed = index.get(&(membership.group_id.as_str(), membership.user_id.as_str())).copied();
                match behind(membership, indexed) {
                    Some(_) if membership.undelivered => self.audit.index.memberships_pending += 1,
                    Some(finding) => {
                        let (read, to) = (indexed.map(|i| i.version), Some((membership.active, membership.version)));
                        let key = (membership.user_id.to_string(), membership.group_id.to_string());
                        self.settle(finding, key, read, to).await?;
                    }
                    None => {}
                }
            }
            if page.len() < PAGE {
                return Ok(());
            }
        }
    }

    /// Our index rows of `region`'s groups against its memberships.
    async fn our_index(&mut self, region: RegionId) -> Result<(), ApiError> {
        let (mut after_user, mut after_group) = (String::new(), String::new());
        loop {
            let (from_user, from_group, prefix) = (after_user.clone(), after_group.clone(), region.to_string());
            let index = self
                .db
                .run(move |conn| {
                    Ok(membership_check::index_of_groups_in(conn, &prefix, &from_user, &from_group, PAGE as i64)?)
                })
                .await?;
            let Some(last) = index.last() else { return Ok(()) };
            (after_user, after_group) = (last.user_id.clone(), last.group_id.clone());
            let keys = MembershipKeys {
                home_region: self.local,
                items: index
                    .iter()
                    .filter_map(|row| {
                        Some(MembershipKey { group_id: row.group_id.parse().ok()?, user_id: row.user_id.parse().ok()? })
                    })
                    .collect(),
            };
            let asked = &keys;
            let theirs = self.peers.get(region, |peer| async move { peer.memberships_at(asked).await }).await?.items;
            let theirs: HashMap<_, _> = theirs.iter().map(|m| ((m.group_id.as_str(), m.user_id.as_str()), m)).collect();
            self.audit.index.memberships += index.len() as u64;
            for row in &index {
                let kept = theirs.get(&key_of(row)).copied();
                if kept.is_none_or(|m| m.version < row.version) {
                    let finding = Finding::IndexAheadOfGroup {
                        group: row.group_id.clone(),
                        user: row.user_id.clone(),
                        index_version: row.version,
                        group_version: kept.map(|m| m.version),
                    };
                    let key = (row.user_id.clone(), row.group_id.clone());
                    self.settle(finding, key, Some(row.version), kept.map(|m| (m.active, m.version))).await?;
                }
            }
            if index.len() < PAGE {
                return Ok(());
            }
        }
    }

    /// Keeps `finding`, or with `repair` sets the index row (`user`, `group`) from `read`
    /// to `to`, the group region's state, and keeps it as repaired if that took.
    async fn settle(
        &mut self,
        finding: Finding,
        (user, group): (String, String),
        read: Option<i64>,
        to: Option<(bool, i64)>,
    ) -> Result<(), ApiError> {
        let repaired = self.repair
            && self.db.run(move |conn| Ok(membership_check::set_index(conn, &user, &group, read, to)?)).await?;
        if repaired {
            self.audit.index.repaired.push(finding)
        } else {
            self.audit.findings.push(finding)
        }
        Ok(())
    }
}

/// The group region's side: its memberships of `query.home_region`'s users, a page.
pub async fn memberships_of(db: &Db, query: MembershipsQuery) -> Result<MembershipStates, ApiError> {
    let limit = query.limit.clamp(1, MAX_PAGE as u32).into();
    let rows = db
        .run(move |conn| {
            let home = query.home_region.to_string();
            Ok(membership_check::of_home_region(conn, &home, &query.after_group, &query.after_user, limit)?)
        })
        .await?;
    Ok(states(rows))
}

/// The group region's side: those of `keys` that exist here.
pub async fn memberships_at(db: &Db, keys: MembershipKeys) -> Result<MembershipStates, ApiError> {
    if keys.items.len() > MAX_PAGE {
        return Err(ApiError::invalid_input(format!("at most {MAX_PAGE} memberships a call")));
    }
    let rows = db
        .run(move |conn| {
            let home = keys.home_region.to_string();
            let groups: Vec<&str> = keys.items.iter().map(|k| k.group_id.as_str()).collect();
            let users: Vec<&str> = keys.items.iter().map(|k| k.user_id.as_str()).collect();
            Ok(membership_check::at(conn, &home, &groups, &users)?)
        })
        .await?;
    Ok(states(rows))
}

/// Rows as the contract sends them; a row whose ids do not parse cannot be one this
/// service wrote, and is left out.
fn states(rows: Vec<MembershipRow>) -> MembershipStates {
    let items = rows
        .into_iter()
        .filter_map(|row| {
            Some(MembershipState {
                group_id: row.group_id.parse().ok()?,
                user_id: row.user_id.parse().ok()?,
                active: row.active,
                version: row.version,
                undelivered: row.undelivered,
            })
        })
        .collect();
    MembershipStates { items }
}

async fn index_at(db: &Db, page: &[MembershipState]) -> Result<Vec<MembershipRow>, ApiError> {
    let groups: Vec<String> = page.iter().map(|m| m.group_id.to_string()).collect();
    let users: Vec<String> = page.iter().map(|m| m.user_id.to_string()).collect();
    db.run(move |conn| {
        let (groups, users): (Vec<&str>, Vec<&str>) =
            (groups.iter().map(String::as_str).collect(), users.iter().map(String::as_str).collect());
        Ok(membership_check::index_at(conn, &groups, &users)?)
    })
    .await
}

/// A row's (group, user): what the two sides are matched by.
fn key_of(row: &MembershipRow) -> (&str, &str) {
    (row.group_id.as_str(), row.user_id.as_str())
}

/// What is wrong when the index (`indexed`) does not say what `membership` says: behind
/// it, or at its version with the other answer. An index ahead of it has heard of a
/// later change (the other way of the check judges that).
fn behind(membership: &MembershipState, indexed: Option<&MembershipRow>) -> Option<Finding> {
    let (group, user) = (membership.group_id.to_string(), membership.user_id.to_string());
    match indexed {
        Some(row) if row.version > membership.version => None,
        Some(row) if row.version == membership.version && row.active == membership.active => None,
        Some(row) if row.version == membership.version => {
            Some(Finding::IndexDisagrees { group, user, version: row.version })
        }
        _ => Some(Finding::IndexBehindGroup {
            group,
            user,
            index_version: indexed.map(|row| row.version),
            group_version: membership.version,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn membership(version: i64, active: bool) -> MembershipState {
        MembershipState {
            group_id: "002-gggggg".parse().unwrap_or_else(|_| unreachable!("a test id")),
            user_id: "001-uuuuuu".parse().unwrap_or_else(|_| unreachable!("a test id")),
            active,
            version,
            undelivered: false,
        }
    }

    fn row(version: i64, active: bool) -> MembershipRow {
        MembershipRow {
            group_id: "002-gggggg".into(),
            user_id: "001-uuuuuu".into(),
            active,
            version,
            undelivered: false,
        }
    }

    #[test]
    fn an_index_behind_or_disagreeing_is_named_and_one_ahead_is_left_to_the_other_way() {
        assert_eq!(behind(&membership(3, true), Some(&row(3, true))), None);
        assert_eq!(behind(&membership(3, true), Some(&row(4, false))), None, "a later change reached the index");
        assert!(matches!(behind(&membership(3, true), Some(&row(2, false))), Some(Finding::IndexBehindGroup { .. })));
        assert!(matches!(
            behind(&membership(1, true), None),
            Some(Finding::IndexBehindGroup { index_version: None, group_version: 1, .. })
        ));
        assert!(matches!(behind(&membership(3, true), Some(&row(3, false))), Some(Finding::IndexDisagrees { .. })));
    }
}
