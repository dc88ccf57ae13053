//! Who may redeem from a group, asked before a redemption joins its group's queue, so a
//! stranger who learnt a group id cannot fill that queue and push its members' writes
//! out (`max_waiting_per_group`). The authoritative check is the batch's own, in the
//! transaction that spends; this one only turns strangers away early.
//!
//! Rights granted are remembered for 30 s, and every redemption the batch applies renews
//! them (the batch has just read the membership in the spending transaction), so a member
//! who keeps redeeming pays no extra round trip after the first. Refusals are not
//! remembered (someone who has just joined redeems at once); a batch that refuses for
//! want of the right forgets it at once. A right withdrawn on another instance may be
//! remembered here until the next redemption or 30 s: such a redemption is still refused,
//! by the batch.

use std::time::Duration;

use contract::{GroupId, UserId};
use moka::sync::Cache;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::services::AppState;
use crate::services::groups::with_standing;
use crate::services::members::may_redeem;

const REMEMBERED_FOR: Duration = Duration::from_secs(30);

pub struct RedeemRights {
    granted: Cache<(GroupId, UserId), ()>,
}

impl Default for RedeemRights {
    fn default() -> Self {
        RedeemRights { granted: Cache::builder().max_capacity(100_000).time_to_live(REMEMBERED_FOR).build() }
    }
}

impl RedeemRights {
    /// `Ok` when the caller may redeem from `group` as far as this region knows now.
    pub async fn check(&self, state: &AppState, caller: &Caller, group: &GroupId) -> Result<(), ApiError> {
        let key = (group.clone(), caller.user_id.clone());
        if caller.is_admin() || self.granted.contains_key(&key) {
            return Ok(());
        }
        let (id, asker) = (group.clone(), caller.clone());
        let standing = state.db.run(move |conn| Ok(with_standing(conn, &asker, &id)??.1)).await?;
        may_redeem(standing, group)?;
        self.granted.insert(key, ());
        Ok(())
    }

    /// A right the spending transaction has just confirmed.
    pub fn remember(&self, group: &GroupId, user: &UserId) {
        self.granted.insert((group.clone(), user.clone()), ());
    }

    /// A right this instance withdrew or ended (removal, leaving), or a batch refused:
    /// forget it at once.
    pub fn forget(&self, group: &GroupId, user: &UserId) {
        self.granted.invalidate(&(group.clone(), user.clone()));
    }
}
