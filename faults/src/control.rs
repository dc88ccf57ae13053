//! The control API: `GET /links` lists the links and their faults, `PUT /links/{name}`
//! sets one link's fault (a JSON `Fault`), `POST /heal` clears every fault.

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::{Fault, Link};

pub type Links = Arc<Vec<Arc<Link>>>;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/links", web::get().to(list))
        .route("/links/{name}", web::put().to(set))
        .route("/heal", web::post().to(heal));
}

async fn list(links: web::Data<Links>) -> HttpResponse {
    HttpResponse::Ok().json(links.iter().map(|l| l.state()).collect::<Vec<_>>())
}

async fn set(links: web::Data<Links>, name: web::Path<String>, fault: web::Json<Fault>) -> HttpResponse {
    match links.iter().find(|l| l.name == *name) {
        Some(link) => {
            link.set(fault.into_inner());
            HttpResponse::Ok().json(link.state())
        }
        None => HttpResponse::NotFound()
            .json(json!({"error": {"code": "not_found", "message": format!("no link named {name}")}})),
    }
}

async fn heal(links: web::Data<Links>) -> HttpResponse {
    for link in links.iter() {
        link.set(Fault::None);
    }
    HttpResponse::Ok().json(links.iter().map(|l| l.state()).collect::<Vec<_>>())
}
