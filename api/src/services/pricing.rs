//! Prices of catalogue items for bills and redemptions. This region's items are read in
//! the points transaction itself; another region's come from that region over
//! `/internal`, cached for the catalogue TTL.

use std::sync::Arc;

use contract::RegionId;
use contract::dto::Catalogue;
use moka::future::Cache;

use crate::domain::points::PricedItem;
use crate::error::ApiError;
use crate::services::AppState;

pub type RemoteCatalogues = Cache<RegionId, Arc<Vec<PricedItem>>>;

/// Items of another region's catalogue. `None` means "this region": read them in the
/// transaction instead.
pub async fn items_of(state: &AppState, region: RegionId) -> Result<Option<Arc<Vec<PricedItem>>>, ApiError> {
    if region == state.regions.local {
        return Ok(None);
    }
    state
        .remote_catalogues
        .try_get_with(region, async {
            metrics::counter!("remote_catalogue_fetches_total", "region" => region.to_string()).increment(1);
            let catalogue: Catalogue =
                state.peers.get(region, |peer| async move { peer.full_catalogue().await }).await?;
            Ok(Arc::new(
                catalogue
                    .items
                    .into_iter()
                    .map(|i| PricedItem {
                        id: i.id.to_string(),
                        price_cents: i.price_cents,
                        points_price: i.points_price,
                        available: i.available,
                    })
                    .collect(),
            ))
        })
        .await
        .map(Some)
        .map_err(|err: Arc<ApiError>| (*err).clone())
}
