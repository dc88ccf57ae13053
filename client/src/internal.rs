//! The regions' API to each other (`/internal`, with the service token): what one
//! region's services ask of another's.

use contract::dto::{Catalogue, Discounts};
use contract::internal::{
    EventBatch, MemberGroups, MemberQuery, MembershipKeys, MembershipStates, MembershipsQuery, Revocations,
};
use reqwest::Method;
use serde::Serialize;

use crate::endpoints;
use crate::{Client, Reply, Result};

#[derive(Serialize)]
struct After {
    after: i64,
}

impl Client {
    /// Delivers outbox events; the receiver applies each at most once.
    pub async fn deliver_events(&self, batch: &EventBatch) -> Result<Reply<()>> {
        let path = endpoints::EVENTS.path(&[]);
        self.call(Method::POST, &path, None, Some(batch)).await
    }

    /// The region's whole catalogue, unavailable items included.
    pub async fn full_catalogue(&self) -> Result<Reply<Catalogue>> {
        let path = endpoints::FULL_CATALOGUE.path(&[]);
        self.call(Method::GET, &path, None, None::<&()>).await
    }

    /// The region's discounts, for pricing its bills elsewhere.
    pub async fn all_discounts(&self) -> Result<Reply<Discounts>> {
        let path = endpoints::ALL_DISCOUNTS.path(&[]);
        self.call(Method::GET, &path, None, None::<&()>).await
    }

    /// The region's token revocations after sequence number `after`.
    pub async fn revocations(&self, after: i64) -> Result<Reply<Revocations>> {
        let path = endpoints::REVOCATIONS.path_with_query(&[], &After { after });
        self.call(Method::GET, &path, None, None::<&()>).await
    }

    /// The memberships of one home region's users in this region's groups, a page in
    /// (group, user) order.
    pub async fn memberships(&self, query: &MembershipsQuery) -> Result<Reply<MembershipStates>> {
        let path = endpoints::MEMBERSHIPS.path_with_query(&[], query);
        self.call(Method::GET, &path, None, None::<&()>).await
    }

    /// The groups of this region `query.user_id` is an active member of.
    pub async fn member_groups(&self, query: &MemberQuery) -> Result<Reply<MemberGroups>> {
        let path = endpoints::MEMBER_GROUPS.path_with_query(&[], query);
        self.call(Method::GET, &path, None, None::<&()>).await
    }

    /// Those of `keys`' memberships that exist in this region.
    pub async fn memberships_at(&self, keys: &MembershipKeys) -> Result<Reply<MembershipStates>> {
        let path = endpoints::MEMBERSHIPS_AT.path(&[]);
        self.call(Method::POST, &path, None, Some(keys)).await
    }
}
