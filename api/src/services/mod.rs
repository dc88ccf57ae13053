//! What the platform does, one module per area. Handlers parse input into domain types
//! and call one function here; these functions hold the business rules and call `db`.

/// In a transaction's closure, which answers `QueryResult<Result<T, ApiError>>`: a
/// refusal ends it as `Ok(Err)` (committed; nothing may have been written before it),
/// while database errors stay `Err`, so serialization failures are retried and anything
/// else rolls back.
macro_rules! refuse_on_err {
    ($result:expr) => {
        match $result {
            Ok(value) => value,
            Err(refusal) => return Ok(Err(refusal)),
        }
    };
}

pub mod accounts;
pub mod catalogue;
pub mod directory;
pub mod discounts;
pub mod erasure;
pub mod events;
pub mod group_commit;
pub mod groups;
pub mod housekeeping;
pub mod invitations;
pub mod ledger;
pub mod members;
pub mod membership_audit;
pub mod offers;
pub mod passwords;
pub mod peers;
pub mod points;
pub mod pricing;
pub mod receipts;
pub mod redeem_rights;
pub mod relay;
pub mod revocations;
pub mod sessions;

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;

use crate::auth::{Hashing, Lockout, TokenKeys};
use crate::config::Config;
use crate::db::Db;
use crate::domain::Regions;

/// Everything a region's services share, built once at start-up (`startup.rs`) and given
/// to every handler.
pub struct AppState {
    pub config: Config,
    pub regions: Regions,
    pub db: Db,
    pub tokens: TokenKeys,
    pub login_lockout: Lockout,
    pub join_lockout: Lockout,
    pub hashing: Hashing,
    pub catalogue: catalogue::CatalogueCache,
    pub discounts: discounts::DiscountCache,
    pub batches: Arc<points::PointsQueue>,
    pub metrics: PrometheusHandle,
    pub peers: peers::Peers,
    pub remote_catalogues: pricing::RemoteCatalogues,
    pub redeem_rights: redeem_rights::RedeemRights,
    pub revocations: revocations::Revocations,
}
