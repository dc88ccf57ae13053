use actix_web::web;
use contract::dto::{Region, RegionStatus, Regions};

use crate::services::AppState;

/// A regional instance knows only its own region's state; the router merges them all.
#[utoipa::path(get, path = "/v1/regions", tag = "regions", responses((status = 200, body = Regions)))]
pub async fn list_regions(state: web::Data<AppState>) -> web::Json<Regions> {
    let up = state.db.run(|conn| Ok(crate::db::ping(conn)?)).await.is_ok();
    let local = state.regions.local;
    web::Json(Regions {
        items: vec![Region {
            id: local,
            name: state.config.region_name(local).unwrap_or_default().to_owned(),
            status: if up { RegionStatus::Up } else { RegionStatus::Down },
        }],
    })
}
