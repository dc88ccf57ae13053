//! A user's activity across every region's pools, a page at a time (htmx appends the next
//! page in place), and each region's menu.

use actix_web::web;
use maud::{Markup, html};
use serde::Deserialize;

use super::group::entries;
use super::layout::{money, page};
use crate::error::WebError;
use crate::session::Me;

#[derive(Deserialize)]
pub struct Cursor {
    cursor: Option<String>,
}

pub async fn activity(me: Me, query: web::Query<Cursor>, req: actix_web::HttpRequest) -> Result<Markup, WebError> {
    let page_query = client::PageQuery { limit: Some(25), cursor: query.into_inner().cursor };
    let found = me.platform.activity(&me.login.user_id, &page_query).await?.value;
    let rows = html! {
        (entries(&found.items))
        @if let Some(next) = &found.next_cursor {
            p id="more" {
                a href={ "/activity?cursor=" (next) } hx-get={ "/activity?cursor=" (next) } hx-select="#entries > *"
                    hx-target="#more" hx-swap="outerHTML" { "Older entries" }
            }
        }
    };
    // htmx asks for the next page only: the same rows, swapped in where the link was.
    if req.headers().contains_key("HX-Request") {
        return Ok(html! { div id="entries" { (rows) } });
    }
    Ok(page(
        "Activity",
        Some(&me.visitor),
        html! {
            @if !found.unavailable.is_empty() {
                p.banner.down role="alert" {
                    "Not shown: entries of region(s) "
                    @for (i, r) in found.unavailable.iter().enumerate() { @if i > 0 { ", " } (r) }
                    ", which did not answer just now."
                }
            }
            div id="entries" { (rows) }
        },
    ))
}

pub async fn menus(me: Me) -> Result<Markup, WebError> {
    let regions = me.platform.regions().await?.value.items;
    let mut sections = Vec::new();
    for region in &regions {
        let menu = me.platform.catalogue(&region.id).await;
        sections.push((region, menu));
    }
    Ok(page(
        "Menus",
        Some(&me.visitor),
        html! {
            @for (region, menu) in &sections {
                h2 { (region.name) " (" (region.id) ")" }
                @match menu {
                    Ok(menu) => {
                        table {
                            thead { tr { th { "Item" } th { "Category" } th.num { "Price" } th.num { "Points to redeem" } } }
                            tbody {
                                @for item in menu.value.items.iter().filter(|i| i.available) {
                                    tr { td { (item.name) } td { (item.category) } td.num { (money(item.price_cents)) } td.num { (item.points_price) } }
                                }
                            }
                        }
                    }
                    Err(e) => { p.banner.down role="alert" { "This region's menu is unavailable just now (" (e) ")." } }
                }
            }
        },
    ))
}
