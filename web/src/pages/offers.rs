//! The store's discounts: staff of the region manage them (v1.2).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, NaiveDateTime, Utc};
use contract::dto::{Audience, Discount, NewDiscount};
use contract::numbers::{self, NumberKind};
use contract::text::{Category, Name, TextKind};
use contract::{DiscountId, Regional};
use maud::{Markup, html};
use serde::Deserialize;

use super::account::{Button, see_other};
use super::layout::{csrf_field, money, page};
use crate::error::{WebError, parsed};
use crate::session::{Posted, Staff};

fn off(d: &Discount) -> String {
    match (d.percent_off, d.amount_off_cents) {
        (Some(p), _) => format!("{p} % off"),
        (None, Some(c)) => format!("{} off", money(c)),
        _ => String::new(),
    }
}

pub async fn discounts(Staff(me): Staff) -> Result<Markup, WebError> {
    let region = me.login.user_id.region();
    let list = me.platform.discounts(region).await?.value.items;
    Ok(page(
        "Discounts",
        Some(&me.visitor),
        html! {
            p.muted { "Bills of region " (region) " apply the one discount that saves most: one for everyone, or an offer the pool holds." }
            table #discounts {
                thead { tr { th { "Name" } th { "Off" } th { "Covers" } th { "From" } th { "Who" } th { "Now" } th { "" } } }
                tbody {
                    @for d in &list {
                        tr {
                            td { (d.name) } td { (off(d)) }
                            td { (d.category.as_deref().unwrap_or("everything")) @if d.min_spend_cents > 0 { " from " (money(d.min_spend_cents)) } }
                            td {
                                @if let Some(from) = d.valid_from { "from " (from.format(SHOWN)) " " }
                                @if let Some(until) = d.valid_until { "until " (until.format(SHOWN)) }
                            }
                            td { @if d.audience == Audience::Everyone { "everyone" } @else { "offers" @if let Some(n) = d.every_n_bills { ", one per " (n) " bills" } } }
                            td { @if d.active { "active" } @else { "not valid now" } }
                            td {
                                form.inline method="post" action={ "/till/discounts/" (d.id) "/remove" } {
                                    (csrf_field(&me.visitor))
                                    button.secondary type="submit" { "Remove" }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "Add a discount" }
            form method="post" action="/till/discounts" {
                (csrf_field(&me.visitor))
                label for="name" { "Name" } input #name name="name" required maxlength=(Name::MAX);
                label for="percent_off" { "Percent off (or an amount below)" } input #percent_off name="percent_off" type="number" min=(numbers::PercentOff::MIN) max=(numbers::PercentOff::MAX);
                label for="amount_off_cents" { "Amount off (cents)" } input #amount_off_cents name="amount_off_cents" type="number" min=(numbers::CentsOff::MIN) max=(numbers::CentsOff::MAX);
                label for="min_spend_cents" { "Minimum spend on what it covers (cents)" } input #min_spend_cents name="min_spend_cents" type="number" min=(numbers::Cents::MIN) max=(numbers::Cents::MAX);
                label for="category" { "Only this category (optional)" } input #category name="category" maxlength=(Category::MAX);
                label for="audience" { "Who gets it" }
                select #audience name="audience" { option value="everyone" { "Every bill" } option value="offer" { "Pools holding an offer" } }
                label for="every_n_bills" { "Offers: issue one every N bills (optional)" } input #every_n_bills name="every_n_bills" type="number" min=(numbers::EveryNBills::MIN) max=(numbers::EveryNBills::MAX);
                label for="valid_from" { "Valid from (UTC, optional)" } input #valid_from name="valid_from" type="datetime-local";
                label for="valid_until" { "Valid until (UTC, optional)" } input #valid_until name="valid_until" type="datetime-local";
                p { button type="submit" { "Add" } }
            }
        },
    ))
}

#[derive(Deserialize)]
pub struct DiscountForm {
    name: String,
    #[serde(default)]
    percent_off: String,
    #[serde(default)]
    amount_off_cents: String,
    #[serde(default)]
    min_spend_cents: String,
    #[serde(default)]
    category: String,
    audience: Audience,
    #[serde(default)]
    every_n_bills: String,
    #[serde(default)]
    valid_from: String,
    #[serde(default)]
    valid_until: String,
}

/// How the discounts table shows an instant; the form's fields read the same in UTC.
pub const SHOWN: &str = "%d %b %Y %H:%M UTC";

/// A `datetime-local` field, read as UTC: empty is none.
fn instant(field: &str, raw: &str) -> Result<Option<DateTime<Utc>>, WebError> {
    match raw.trim() {
        "" => Ok(None),
        text => ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
            .iter()
            .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
            .map(|naive| Some(naive.and_utc()))
            .ok_or_else(|| WebError::Invalid(format!("{field} {text:?} is not a date and time (2026-12-31T18:00)"))),
    }
}

/// A number field: empty is none.
fn number<T: std::str::FromStr>(field: &str, raw: &str) -> Result<Option<T>, WebError> {
    match raw.trim() {
        "" => Ok(None),
        text => {
            text.parse().map(Some).map_err(|_| WebError::Invalid(format!("{field} {text:?} is not a whole number")))
        }
    }
}

pub async fn add_discount(Staff(me): Staff, Posted(form): Posted<DiscountForm>) -> Result<HttpResponse, WebError> {
    let new = NewDiscount {
        name: form.name,
        percent_off: number("percent off", &form.percent_off)?,
        amount_off_cents: number("amount off", &form.amount_off_cents)?,
        min_spend_cents: number("minimum spend", &form.min_spend_cents)?,
        category: Some(form.category.trim().to_owned()).filter(|c| !c.is_empty()),
        valid_from: instant("valid from", &form.valid_from)?,
        valid_until: instant("valid until", &form.valid_until)?,
        audience: form.audience,
        every_n_bills: number("every N bills", &form.every_n_bills)?,
    };
    me.platform.add_discount(me.login.user_id.region(), &new).await?;
    Ok(see_other("/till/discounts"))
}

pub async fn remove_discount(
    Staff(me): Staff,
    id: web::Path<String>,
    Posted(_): Posted<Button>,
) -> Result<HttpResponse, WebError> {
    me.platform.remove_discount(&parsed::<DiscountId>(&id, "a discount id")?).await?;
    Ok(see_other("/till/discounts"))
}
