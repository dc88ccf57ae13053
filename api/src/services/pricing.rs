//! Prices of catalogue items for bills and redemptions, and the discounts of bills. This
//! region's are read in the points transaction itself; another region's come from that
//! region over `/internal`, cached together for the catalogue TTL (and fetched again
//! sooner for a request that names what the cached copy lacks).

use std::sync::Arc;
use std::time::{Duration, Instant};

use contract::RegionId;
use contract::dto::{Catalogue, Discounts};
use moka::future::Cache;
use moka::ops::compute::Op;

use crate::domain::discounts::Terms;
use crate::domain::points::{PricedItem, Store};
use crate::error::ApiError;
use crate::services::AppState;

/// Another region's store, and when it was fetched.
pub type RemoteCatalogues = Cache<RegionId, (Instant, Arc<Store>)>;

/// The least time between two fetches of a region's store: requests naming what does
/// not exist cost the other region one fetch a second at most.
const REFETCH_AFTER: Duration = Duration::from_secs(1);

/// Another region's catalogue and discounts. `None` means "this region": read them in
/// the transaction instead. A cached store that lacks what the request names (`has`
/// false: an item or discount made there since) is fetched again, no sooner than
/// `REFETCH_AFTER` after the last fetch (the request waits for it), so what a store
/// region makes is usable everywhere at once rather than after the TTL.
pub async fn store_of(
    state: &AppState,
    region: RegionId,
    has: impl Fn(&Store) -> bool,
) -> Result<Option<Arc<Store>>, ApiError> {
    if region == state.regions.local {
        return Ok(None);
    }
    let (fetched, store) = cached(state, region).await?;
    if has(&store) {
        return Ok(Some(store));
    }
    tokio::time::sleep(REFETCH_AFTER.saturating_sub(fetched.elapsed())).await;
    // Computes on one key run one at a time: of the requests that waited here, the first
    // fetches, and the others find an entry newer than the one they saw.
    let computed = state
        .remote_catalogues
        .entry(region)
        .and_try_compute_with(|entry| async move {
            match entry {
                Some(entry) if entry.value().0 != fetched => Ok(Op::Nop),
                _ => fetch(state, region).await.map(Op::Put),
            }
        })
        .await?;
    match computed.into_entry() {
        Some(entry) => Ok(Some(entry.into_value().1)),
        None => Err(ApiError::internal("a computed catalogue entry is missing")),
    }
}

async fn cached(state: &AppState, region: RegionId) -> Result<(Instant, Arc<Store>), ApiError> {
    state
        .remote_catalogues
        .try_get_with(region, fetch(state, region))
        .await
        .map_err(|err: Arc<ApiError>| (*err).clone())
}

async fn fetch(state: &AppState, region: RegionId) -> Result<(Instant, Arc<Store>), ApiError> {
    metrics::counter!("remote_catalogue_fetches_total", "region" => region.to_string()).increment(1);
    let (catalogue, discounts): (Catalogue, Discounts) = tokio::try_join!(
        state.peers.get(region, |peer| async move { peer.full_catalogue().await }),
        state.peers.get(region, |peer| async move { peer.all_discounts().await }),
    )?;
    let store = Store {
        items: catalogue.items.into_iter().map(PricedItem::from).collect(),
        discounts: Arc::new(discounts.items.iter().map(Terms::from).collect()),
    };
    Ok((Instant::now(), Arc::new(store)))
}
