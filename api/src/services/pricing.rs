//! Prices of catalogue items for bills and redemptions, and the discounts of bills. This
//! region's are read in the points transaction itself; another region's come from that
//! region over `/internal`, cached together for the catalogue TTL.

use std::sync::Arc;

use contract::RegionId;
use contract::dto::{Catalogue, Discounts};
use moka::future::Cache;

use crate::domain::discounts::Terms;
use crate::domain::points::{PricedItem, Store};
use crate::error::ApiError;
use crate::services::AppState;

pub type RemoteCatalogues = Cache<RegionId, Arc<Store>>;

/// Another region's catalogue and discounts. `None` means "this region": read them in
/// the transaction instead.
pub async fn store_of(state: &AppState, region: RegionId) -> Result<Option<Arc<Store>>, ApiError> {
    if region == state.regions.local {
        return Ok(None);
    }
    state
        .remote_catalogues
        .try_get_with(region, async {
            metrics::counter!("remote_catalogue_fetches_total", "region" => region.to_string()).increment(1);
            let (catalogue, discounts): (Catalogue, Discounts) = tokio::try_join!(
                state.peers.get(region, |peer| async move { peer.full_catalogue().await }),
                state.peers.get(region, |peer| async move { peer.all_discounts().await }),
            )?;
            Ok(Arc::new(Store {
                items: catalogue.items.into_iter().map(PricedItem::from).collect(),
                discounts: Arc::new(discounts.items.iter().map(Terms::from).collect()),
            }))
        })
        .await
        .map(Some)
        .map_err(|err: Arc<ApiError>| (*err).clone())
}
