//! The staff till: find the customer, pick the pool and the items from the store region's
//! menu (the staff member's own region), review the total, then bill. The confirmation
//! form carries the bill's Idempotency-Key, drawn when the review was shown: a double
//! click, the back button or a reload of the confirmation bills once. And the menu of the
//! staff member's region: add items, take them off and put them back.

use contract::numbers::{self, NumberKind};
use contract::text::{Category, Name, TextKind};
use std::collections::HashMap;

use actix_web::{HttpResponse, web};
use contract::dto::{BillLine, CatalogueItem, CatalogueItemPatch, NewBill, NewCatalogueItem};
use contract::{ItemId, Regional, UserId};
use maud::{Markup, html};
use serde::Deserialize;

use super::account::{Button, see_other};
use super::layout::{csrf_field, money, page};
use crate::error::{WebError, parsed};
use crate::session::{Me, Posted, Staff, attempt_key};

const QTY: &str = "qty_";

#[derive(Deserialize)]
pub struct Customer {
    user_id: Option<String>,
}

fn customer_id(raw: &str) -> Result<UserId, WebError> {
    parsed(raw, "a customer id (like 001-abc123)")
}

pub async fn till(Staff(me): Staff, query: web::Query<Customer>) -> Result<Markup, WebError> {
    let store = me.login.user_id.region();
    let platform = &me.platform;
    let found = match query.user_id.as_deref().filter(|u| !u.trim().is_empty()) {
        Some(raw) => {
            // What a customer remembers is their email; their id is on their app.
            let user = match raw.contains('@') {
                true => platform.find_user(raw.trim()).await?.value,
                false => platform.user(&customer_id(raw)?).await?.value,
            };
            let groups = platform.user_groups(&user.id).await?.value;
            let menu = platform.catalogue(store).await?.value;
            Some((user, groups, menu))
        }
        None => None,
    };
    Ok(page(
        "Till",
        Some(&me.visitor),
        html! {
            form method="get" action="/till" {
                label for="user_id" { "Customer email or id" }
                input #user_id name="user_id" required placeholder="ann@example.com or 001-abc123" value=[query.user_id.as_deref()];
                p { button type="submit" { "Find" } }
            }
            @if let Some((user, groups, menu)) = found {
                h2 { (user.full_name) " " span.muted { "(" (user.id) ")" } }
                form method="get" action="/till/review" {
                    input type="hidden" name="user_id" value=(user.id);
                    input type="hidden" name="attempt" value=(client::new_key());
                    label for="group_id" { "Pool to credit" }
                    select #group_id name="group_id" {
                        @for g in &groups.items {
                            option value=(g.id) selected[g.id == user.personal_group_id] { (g.name) " · " (g.id) }
                        }
                    }
                    h2 { "Items (menu of region " (store) ")" }
                    table {
                        thead { tr { th { "Item" } th.num { "Price" } th { "Quantity" } } }
                        tbody {
                            @for item in menu.items.iter().filter(|i| i.available) {
                                tr {
                                    td { label for={ (QTY) (item.id) } { (item.name) } }
                                    td.num { (money(item.price_cents)) }
                                    td { input.qty id={ (QTY) (item.id) } name={ (QTY) (item.id) } type="number" min="0" max=(numbers::Quantity::MAX) value="0"; }
                                }
                            }
                        }
                    }
                    p { button type="submit" { "Review the bill" } }
                }
            }
        },
    ))
}

/// The lines asked for, priced from the store region's menu as the platform serves it.
fn lines<'a>(
    query: &HashMap<String, String>,
    menu: &'a [CatalogueItem],
) -> Result<Vec<(&'a CatalogueItem, i64)>, WebError> {
    let mut lines = Vec::new();
    for item in menu {
        let Some(raw) = query.get(&format!("{QTY}{}", item.id)) else { continue };
        let qty: i64 = parsed(raw, "a quantity")?;
        if !(0..=100).contains(&qty) {
            return Err(WebError::Invalid(format!("quantity {qty} is out of 0..=100")));
        }
        if qty > 0 {
            lines.push((item, qty));
        }
    }
    if lines.is_empty() {
        return Err(WebError::Invalid("pick at least one item".to_owned()));
    }
    Ok(lines)
}

pub async fn review(Staff(me): Staff, query: web::Query<HashMap<String, String>>) -> Result<Markup, WebError> {
    let store = me.login.user_id.region();
    let user_id = customer_id(query.get("user_id").map(String::as_str).unwrap_or(""))?;
    let group_id = query.get("group_id").cloned().unwrap_or_default();
    let menu = me.platform.catalogue(store).await?.value;
    let lines = lines(&query, &menu.items)?;
    let new = new_bill(&me, &user_id.to_string(), &group_id, &lines_of(&lines));
    // The server's figures, as the bill will compute them: prices, discounts and points.
    let quote = me.platform.quote(&new).await?.value;
    let encoded = lines.iter().map(|(item, qty)| format!("{}:{qty}", item.id)).collect::<Vec<_>>().join(",");
    let key = attempt_key(query.get("attempt").map(String::as_str))?;
    Ok(page(
        "Confirm the bill",
        Some(&me.visitor),
        html! {
            p { "Customer " code { (user_id) } ", pool " code { (quote.group_id) } ", store region " (store) "." }
            table {
                thead { tr { th { "Item" } th.num { "Qty" } th.num { "Amount" } } }
                tbody {
                    @for (item, qty) in &lines { tr { td { (item.name) } td.num { (qty) } td.num { (money(item.price_cents * qty)) } } }
                    tr { th { "Subtotal" } td {} td.num { (money(quote.gross_cents)) } }
                    @for d in &quote.discounts { tr { td { (d.name) } td {} td.num { "−" (money(d.amount_cents)) } } }
                    tr { th { "To pay" } td {} th.num #to-pay { (money(quote.amount_cents)) } }
                }
            }
            p #points { "Earns " strong { (quote.points_awarded) " points" } ": the pool holds " (quote.balance)
                " and will hold " (quote.balance + quote.points_awarded) "." }
            form method="post" action="/till/bill" {
                (csrf_field(&me.visitor))
                input type="hidden" name="user_id" value=(user_id);
                input type="hidden" name="group_id" value=(group_id);
                input type="hidden" name="lines" value=(encoded);
                input type="hidden" name="key" value=(key);
                p { button type="submit" { "Bill " (money(quote.amount_cents)) } " " a href={ "/till?user_id=" (user_id) } { "Change" } }
            }
        },
    ))
}

fn lines_of(lines: &[(&CatalogueItem, i64)]) -> Vec<BillLine> {
    lines.iter().map(|(item, qty)| BillLine { item_id: item.id.to_string(), qty: *qty }).collect()
}

/// The bill (or its quote) for the staff member's store region.
fn new_bill(me: &Me, user_id: &str, group_id: &str, items: &[BillLine]) -> NewBill {
    NewBill {
        user_id: user_id.to_owned(),
        group_id: Some(group_id.to_owned()).filter(|g| !g.is_empty()),
        store_region: me.login.user_id.region().to_string(),
        items: items.to_vec(),
    }
}

#[derive(Deserialize)]
pub struct BillForm {
    user_id: String,
    group_id: String,
    lines: String,
    key: String,
}

pub async fn bill(Staff(me): Staff, Posted(form): Posted<BillForm>) -> Result<Markup, WebError> {
    let mut items = Vec::new();
    for line in form.lines.split(',') {
        let (item_id, qty) =
            line.split_once(':').ok_or_else(|| WebError::Invalid("malformed bill lines".to_owned()))?;
        let qty = parsed(qty, "a quantity")?;
        items.push(BillLine { item_id: item_id.to_owned(), qty });
    }
    let new = new_bill(&me, &form.user_id, &form.group_id, &items);
    let billed = me.platform.bill(&new, &form.key).await?;
    let b = &billed.value;
    Ok(page(
        "Billed",
        Some(&me.visitor),
        html! {
            p.banner.ok role="status" {
                "Bill " code { (b.id) } " of " (money(b.amount_cents)) ": " (b.points_awarded) " points to pool " code { (b.group_id) }
                " (it now holds " (b.balance_after) ")."
                @if billed.replayed { " This bill had been sent before: it was billed once." }
            }
            p { a href="/till" { "Next customer" } }
        },
    ))
}

pub async fn menu(Staff(me): Staff) -> Result<Markup, WebError> {
    let region = me.login.user_id.region();
    let menu = me.platform.catalogue(region).await?.value;
    Ok(page(
        "Menu",
        Some(&me.visitor),
        html! {
            p.muted { "The menu of region " (region) ", which bills in this region are priced from." }
            table {
                thead { tr { th { "Item" } th { "Category" } th.num { "Price" } th.num { "Points" } th { "" } } }
                tbody {
                    @for item in &menu.items {
                        tr {
                            td { (item.name) } td { (item.category) } td.num { (money(item.price_cents)) } td.num { (item.points_price) }
                            td {
                                form.inline method="post" action={ "/till/menu/" (item.id) "/availability" } {
                                    (csrf_field(&me.visitor))
                                    input type="hidden" name="available" value=(if item.available { "false" } else { "true" });
                                    button.secondary type="submit" { @if item.available { "Take off" } @else { "Put back" } }
                                }
                                form.inline method="post" action={ "/till/menu/" (item.id) "/remove" } {
                                    (csrf_field(&me.visitor))
                                    button.secondary type="submit" { "Remove" }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "Add an item" }
            form method="post" action="/till/menu" {
                (csrf_field(&me.visitor))
                label for="name" { "Name" } input #name name="name" required maxlength=(Name::MAX);
                label for="category" { "Category" } input #category name="category" required maxlength=(Category::MAX);
                label for="price_cents" { "Price (cents)" } input #price_cents name="price_cents" type="number" min=(numbers::Cents::MIN) max=(numbers::Cents::MAX) required;
                label for="points_price" { "Points to redeem it" } input #points_price name="points_price" type="number" min=(numbers::Points::MIN) max=(numbers::Points::MAX) required;
                p { button type="submit" { "Add" } }
            }
        },
    ))
}

#[derive(Deserialize)]
pub struct NewItemForm {
    name: String,
    category: String,
    price_cents: i64,
    points_price: i64,
}

pub async fn add_item(Staff(me): Staff, Posted(form): Posted<NewItemForm>) -> Result<HttpResponse, WebError> {
    let new = NewCatalogueItem {
        name: form.name,
        category: form.category,
        price_cents: form.price_cents,
        points_price: form.points_price,
        available: Some(true),
    };
    me.platform.add_item(me.login.user_id.region(), &new).await?;
    Ok(see_other("/till/menu"))
}

#[derive(Deserialize)]
pub struct AvailabilityForm {
    available: bool,
}

pub async fn set_availability(
    Staff(me): Staff,
    item: web::Path<String>,
    Posted(form): Posted<AvailabilityForm>,
) -> Result<HttpResponse, WebError> {
    let patch = CatalogueItemPatch { available: Some(form.available), ..CatalogueItemPatch::default() };
    me.platform.change_item(&parsed::<ItemId>(&item, "an item id")?, &patch).await?;
    Ok(see_other("/till/menu"))
}

/// Takes an item off the menu for good ("Take off" keeps it, to put back).
pub async fn remove_item(
    Staff(me): Staff,
    item: web::Path<String>,
    Posted(_): Posted<Button>,
) -> Result<HttpResponse, WebError> {
    me.platform.remove_item(&parsed::<ItemId>(&item, "an item id")?).await?;
    Ok(see_other("/till/menu"))
}
