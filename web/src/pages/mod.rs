//! Every page and form of the console, by area. Pages are GETs; every POST carries the
//! session's CSRF token and answers with a redirect (or the part htmx asked for).

pub mod account;
pub mod activity;
pub mod admin;
pub mod group;
pub mod layout;
pub mod offers;
pub mod pools;
pub mod receipts;
pub mod till;

use actix_web::http::header;
use actix_web::{HttpResponse, web};

const HTMX: &[u8] = include_bytes!("../../static/htmx.min.js");
const CSS: &[u8] = include_bytes!("../../static/console.css");
const SCRIPT: &[u8] = include_bytes!("../../static/console.js");

fn asset(body: &'static [u8], content_type: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(body)
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(|| async { HttpResponse::Ok().body("ok") }))
        .route("/static/htmx.min.js", web::get().to(|| async { asset(HTMX, "text/javascript; charset=utf-8") }))
        .route("/static/console.js", web::get().to(|| async { asset(SCRIPT, "text/javascript; charset=utf-8") }))
        .route("/static/console.css", web::get().to(|| async { asset(CSS, "text/css; charset=utf-8") }))
        .route("/", web::get().to(account::home))
        .route("/login", web::get().to(account::login_page))
        .route("/login", web::post().to(account::log_in))
        .route("/logout", web::post().to(account::log_out))
        .route("/signup", web::get().to(account::signup_page))
        .route("/signup", web::post().to(account::sign_up))
        .route("/profile", web::get().to(account::profile))
        .route("/profile", web::post().to(account::update_profile))
        .route("/password", web::post().to(account::change_password))
        .route("/close-account", web::post().to(account::close_account))
        .route("/pools", web::get().to(pools::pools))
        .route("/groups", web::post().to(pools::create_group))
        .route("/join", web::post().to(pools::join))
        .route("/groups/{gid}", web::get().to(group::show))
        .route("/groups/{gid}/invitations", web::post().to(group::invite))
        .route("/groups/{gid}/invitations/{iid}/revoke", web::post().to(group::revoke_invitation))
        .route("/groups/{gid}/members/{uid}/rights", web::post().to(group::set_rights))
        .route("/groups/{gid}/members/{uid}/remove", web::post().to(group::remove_member))
        .route("/groups/{gid}/owner", web::post().to(group::hand_over))
        .route("/groups/{gid}/redeem", web::get().to(group::review_redemption))
        .route("/groups/{gid}/redeem", web::post().to(group::redeem))
        .route("/activity", web::get().to(activity::activity))
        .route("/receipts/{bill_id}", web::get().to(receipts::receipt))
        .route("/menus", web::get().to(activity::menus))
        .route("/till", web::get().to(till::till))
        .route("/till/review", web::get().to(till::review))
        .route("/till/bill", web::post().to(till::bill))
        .route("/till/menu", web::get().to(till::menu))
        .route("/till/menu", web::post().to(till::add_item))
        .route("/till/menu/{item_id}/availability", web::post().to(till::set_availability))
        .route("/till/menu/{item_id}/remove", web::post().to(till::remove_item))
        .route("/till/discounts", web::get().to(offers::discounts))
        .route("/till/discounts", web::post().to(offers::add_discount))
        .route("/till/discounts/{discount_id}/remove", web::post().to(offers::remove_discount))
        .route("/till/returns", web::get().to(receipts::returns))
        .route("/till/returns", web::post().to(receipts::take_return))
        .route("/admin", web::get().to(admin::admin))
        .route("/admin/staff", web::post().to(admin::create_staff))
        .route("/admin/roles", web::post().to(admin::change_role))
        .route("/admin/passwords", web::post().to(admin::reset_password))
        .route("/admin/closures", web::post().to(admin::close_account));
}
