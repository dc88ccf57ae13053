//! A bill's receipt: whoever the platform lets read it (the customer billed, the pool's
//! members) sees each item as billed and what came back; at the till, staff find the
//! bill by the id on its receipt and take back some of what is left, or all. The return
//! form carries its attempt key, drawn when the bill was shown, so a double submit or a
//! reload returns once.

use std::collections::HashMap;

use actix_web::web;
use contract::EntryId;
use contract::dto::{BillLine, Catalogue, NewReturn, Receipt};
use maud::{Markup, html};
use serde::Deserialize;

use super::layout::{csrf_field, money, page};
use super::offers::SHOWN;
use crate::error::{WebError, parsed};
use crate::session::{Me, Posted, Staff, attempt_key};

const QTY: &str = "qty_";

#[derive(Deserialize)]
pub struct Find {
    bill_id: Option<String>,
}

/// The bill's receipt, and the menu of the store it was made in, which names its items:
/// an item taken off the menu since, or all of them while the store's region does not
/// answer, is shown by its id (the receipt is the bill's region's alone).
async fn read(me: &Me, raw: &str) -> Result<(Receipt, Catalogue), WebError> {
    let receipt = me.platform.receipt(&parsed::<EntryId>(raw, "a bill id")?).await?.value;
    let menu = match me.platform.catalogue(receipt.bill.store_region).await {
        Ok(menu) => menu.value,
        Err(err) => {
            tracing::warn!(error = %err, region = %receipt.bill.store_region, "a receipt's items are shown by id");
            Catalogue { items: Vec::new() }
        }
    };
    Ok((receipt, menu))
}

pub async fn receipt(me: Me, bill: web::Path<String>) -> Result<Markup, WebError> {
    let (receipt, menu) = read(&me, &bill).await?;
    Ok(page(
        "Receipt",
        Some(&me.visitor),
        html! { (summary(&receipt)) (lines(false, &receipt, &menu)) (returned(&receipt)) },
    ))
}

pub async fn returns(Staff(me): Staff, query: web::Query<Find>) -> Result<Markup, WebError> {
    let asked = query.bill_id.as_deref().map(str::trim).filter(|b| !b.is_empty());
    let found = match asked {
        Some(raw) => Some(read(&me, raw).await?),
        None => None,
    };
    Ok(page(
        "Take a return",
        Some(&me.visitor),
        html! {
            p.muted { "A return takes back what the bill paid and awarded for the items returned, as billed." }
            form method="get" action="/till/returns" {
                label for="bill_id" { "Bill id (on the receipt)" }
                input #bill_id name="bill_id" required placeholder="001-01JD3Q6M2V8X4Y5Z6A7B8C9D0E" value=[asked];
                p { button type="submit" { "Find the bill" } }
            }
            @if let Some((receipt, menu)) = &found {
                (summary(receipt))
                form method="post" action="/till/returns" {
                    (csrf_field(&me.visitor))
                    input type="hidden" name="key" value=(client::new_key());
                    input type="hidden" name="bill_id" value=(receipt.bill.id);
                    (lines(true, receipt, menu))
                }
                (returned(receipt))
            }
        },
    ))
}

/// One row per item of the bill: bought, paid, returned so far and left.
struct Item<'a> {
    id: &'a str,
    bought: i64,
    paid_cents: i64,
    returned: i64,
}

fn items(receipt: &Receipt) -> Vec<Item<'_>> {
    let mut items: Vec<Item<'_>> = Vec::new();
    for line in &receipt.lines {
        match items.iter_mut().find(|i| i.id == line.item_id) {
            Some(item) => {
                item.bought += line.qty;
                item.paid_cents += line.paid_cents;
                item.returned += line.returned_qty;
            }
            None => items.push(Item {
                id: &line.item_id,
                bought: line.qty,
                paid_cents: line.paid_cents,
                returned: line.returned_qty,
            }),
        }
    }
    items
}

fn summary(receipt: &Receipt) -> Markup {
    let b = &receipt.bill;
    html! {
        h2 { "Bill " code { (b.id) } }
        p { (money(b.amount_cents)) " paid on " (b.created_on.format(SHOWN)) " by " code { (b.user_id) } ", "
            (b.points_awarded) " points to pool " code { (b.group_id) } "." }
    }
}

/// The bill's items; at the till, with a quantity to return of each, capped at what is
/// left, and the buttons that send them.
fn lines(at_till: bool, receipt: &Receipt, menu: &Catalogue) -> Markup {
    let names: HashMap<&str, &str> = menu.items.iter().map(|i| (i.id.as_str(), i.name.as_str())).collect();
    let items = items(receipt);
    let anything_left = items.iter().any(|i| i.bought > i.returned);
    html! {
        table #lines {
            thead { tr { th { "Item" } th.num { "Bought" } th.num { "Paid" } th.num { "Returned" } @if at_till { th { "Return now" } } } }
            tbody {
                @for item in &items {
                    @let left = item.bought - item.returned;
                    tr {
                        td { label for={ (QTY) (item.id) } { (names.get(item.id).copied().unwrap_or(item.id)) } }
                        td.num { (item.bought) } td.num { (money(item.paid_cents)) } td.num { (item.returned) }
                        @if at_till {
                            td { input.qty id={ (QTY) (item.id) } name={ (QTY) (item.id) } type="number" min="0" max=(left) value="0" disabled[left == 0]; }
                        }
                    }
                }
            }
        }
        @if !anything_left {
            p #nothing-left { "Everything on this bill has been returned." }
        } @else if at_till {
            p { button type="submit" { "Return these" } " " button.secondary type="submit" name="all" value="1" { "Return everything left" } }
        }
    }
}

fn returned(receipt: &Receipt) -> Markup {
    html! {
        @if !receipt.returns.is_empty() {
            h2 { "Returns of this bill" }
            ul #returns {
                @for r in &receipt.returns {
                    li { (r.created_on.format(SHOWN)) ": refund " (money(r.amount_cents)) ", " (r.points_reversed) " points (" code { (r.id) } ")" }
                }
            }
        }
    }
}

pub async fn take_return(Staff(me): Staff, Posted(form): Posted<HashMap<String, String>>) -> Result<Markup, WebError> {
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
    let bill: EntryId = parsed(field("bill_id"), "a bill id")?;
    let lines = if form.contains_key("all") {
        None
    } else {
        let mut lines = Vec::new();
        for (name, raw) in &form {
            let Some(item_id) = name.strip_prefix(QTY) else { continue };
            let qty: i64 = parsed(raw, "a quantity")?;
            if qty > 0 {
                lines.push(BillLine { item_id: item_id.to_owned(), qty });
            }
        }
        if lines.is_empty() {
            return Err(WebError::Invalid("pick at least one item to return".to_owned()));
        }
        Some(lines)
    };
    let key = attempt_key(Some(field("key")))?;
    let taken = me.platform.return_bill(&bill, &NewReturn { lines }, &key).await?;
    let r = &taken.value;
    Ok(page(
        "Returned",
        Some(&me.visitor),
        html! {
            p.banner.ok role="status" #returned {
                "Refund " (money(r.amount_cents)) "; " (r.points_reversed) " points taken back from pool " code { (r.group_id) }
                @if r.points_owed > 0 { " (" (r.points_taken) " from its balance; it had spent the other " (r.points_owed) ", which its next bills pay back)" }
                "." @if taken.replayed { " This return had been sent before: it was taken once." }
            }
            p { a href={ "/till/returns?bill_id=" (r.bill_id) } { "The bill" } " · " a href="/till/returns" { "Another return" } }
        },
    ))
}
