//! The region's catalogue (menu), served from a moka TTL cache. The cache key carries a
//! generation that every write bumps after it commits, so the writing instance serves
//! the change at once (even if a load that began before the write finishes after it),
//! and other instances within the TTL.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_web::http::header::HeaderValue;
use actix_web::web::Bytes;

use contract::dto::{Catalogue, CatalogueItem, CatalogueItemPatch, NewCatalogueItem};
use contract::numbers::{Cents, Points};
use contract::text::{Category, Name};
use contract::{ItemId, RegionId, Regional};
use moka::future::Cache;
use sha2::{Digest, Sha256};

use crate::auth::Caller;
use crate::db::{self, catalogue};
use crate::domain::{required_text, within};
use crate::error::ApiError;
use crate::services::AppState;

/// A rendered catalogue: the JSON body and its entity tag, in the forms a response takes
/// them (a hit then copies nothing: both are reference-counted).
pub struct CachedCatalogue {
    pub body: Bytes,
    pub etag: HeaderValue,
}

pub struct CatalogueCache {
    entries: Cache<(RegionId, u64), Arc<CachedCatalogue>>,
    generation: AtomicU64,
    /// `Cache-Control` of every catalogue answer.
    pub max_age: HeaderValue,
}

impl CatalogueCache {
    pub fn new(ttl: Duration) -> CatalogueCache {
        CatalogueCache {
            entries: Cache::builder().max_capacity(64).time_to_live(ttl).build(),
            generation: AtomicU64::new(0),
            // Digits only: always a valid header value.
            max_age: HeaderValue::try_from(format!("max-age={}", ttl.as_secs()))
                .unwrap_or_else(|_| HeaderValue::from_static("no-cache")),
        }
    }

    fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }
}

pub async fn list(state: &AppState, region: RegionId) -> Result<Arc<CachedCatalogue>, ApiError> {
    state.regions.ensure_local("catalogue", region)?;
    let key = (region, state.catalogue.generation.load(Ordering::SeqCst));
    state
        .catalogue
        .entries
        .try_get_with(key, async {
            metrics::counter!("catalogue_cache_loads_total").increment(1);
            let items = state.db.run(|conn| Ok(catalogue::all(conn)?)).await?;
            let body = serde_json::to_vec(&Catalogue { items }).map_err(ApiError::internal)?;
            let etag = format!(
                "\"{}\"",
                Sha256::digest(&body).iter().take(16).map(|b| format!("{b:02x}")).collect::<String>()
            );
            let etag = HeaderValue::try_from(etag).map_err(ApiError::internal)?;
            Ok(Arc::new(CachedCatalogue { body: Bytes::from(body), etag }))
        })
        .await
        .map_err(|err: Arc<ApiError>| (*err).clone())
}

fn ensure_manages(caller: &Caller, region: RegionId) -> Result<(), ApiError> {
    if caller.manages_region(region) {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!("only staff of region {region} and admins change its catalogue")))
    }
}

pub async fn add(
    state: &AppState,
    caller: &Caller,
    region: RegionId,
    new: &NewCatalogueItem,
) -> Result<CatalogueItem, ApiError> {
    state.regions.ensure_local("catalogue", region)?;
    ensure_manages(caller, region)?;
    let name = required_text::<Name>("name", &new.name)?;
    let category = required_text::<Category>("category", &new.category)?;
    let price_cents = within::<Cents>("price_cents", new.price_cents)?;
    let points_price = within::<Points>("points_price", new.points_price)?;
    let available = new.available.unwrap_or(true);
    let item = state
        .db
        .run(move |conn| {
            let item = db::with_fresh_id(
                || ItemId::generate(region),
                |id| {
                    let row = catalogue::NewItemRow {
                        id,
                        name: &name,
                        category: &category,
                        price_cents,
                        points_price,
                        available,
                    };
                    catalogue::insert(conn, &row)
                },
            )?;
            Ok(item)
        })
        .await?;
    state.catalogue.invalidate();
    Ok(item)
}

pub async fn change(
    state: &AppState,
    caller: &Caller,
    id: ItemId,
    patch: &CatalogueItemPatch,
) -> Result<CatalogueItem, ApiError> {
    ensure_manages(caller, id.region())?;
    let change = catalogue::ItemChange {
        name: patch.name.as_deref().map(|n| required_text::<Name>("name", n)).transpose()?,
        category: patch.category.as_deref().map(|c| required_text::<Category>("category", c)).transpose()?,
        price_cents: patch.price_cents.map(|p| within::<Cents>("price_cents", p)).transpose()?,
        points_price: patch.points_price.map(|p| within::<Points>("points_price", p)).transpose()?,
        available: patch.available,
    };
    let empty = change.name.is_none()
        && change.category.is_none()
        && change.price_cents.is_none()
        && change.points_price.is_none()
        && change.available.is_none();
    let key = id.to_string();
    let item = state
        .db
        .run(move |conn| {
            if empty {
                return Ok(catalogue::find_many(conn, &[&key])?.pop());
            }
            Ok(catalogue::update(conn, &key, &change)?)
        })
        .await?;
    let item = item.ok_or_else(|| ApiError::not_found(format!("catalogue item {id} not found")))?;
    state.catalogue.invalidate();
    Ok(item)
}

pub async fn remove(state: &AppState, caller: &Caller, id: ItemId) -> Result<(), ApiError> {
    ensure_manages(caller, id.region())?;
    let key = id.to_string();
    let deleted = state.db.run(move |conn| Ok(catalogue::delete(conn, &key)?)).await?;
    if !deleted {
        return Err(ApiError::not_found(format!("catalogue item {id} not found")));
    }
    state.catalogue.invalidate();
    Ok(())
}
