//! One pool: its points over time (a chart), members and what the owner may change,
//! invitations, recent entries, and redeeming with a confirmation step.

use actix_web::{HttpResponse, web};
use contract::dto::{
    CatalogueItem, Group, GroupPatch, LedgerEntry, MemberPatch, MemberRole, NewInvitation, NewRedemption,
};
use contract::numbers::{self, NumberKind};
use contract::{GroupId, InvitationId, Regional, UserId};
use maud::{Markup, html};
use serde::Deserialize;

use super::account::{Button, see_other};
use super::layout::{csrf_field, money, page, svg};
use crate::chart;
use crate::error::{WebError, parsed};
use crate::session::{Login, Me, Posted, Visitor, attempt_key};

fn gid(raw: &str) -> Result<GroupId, WebError> {
    parsed(raw, "a group id")
}

fn may_redeem(group: &Group, user: &UserId) -> bool {
    &group.owner_id == user || group.memberships.iter().any(|m| &m.user_id == user && m.can_redeem)
}

pub fn entries(items: &[LedgerEntry]) -> Markup {
    html! {
        table {
            thead { tr { th { "When" } th { "What" } th { "By" } th.num { "Points" } th.num { "Balance" } } }
            tbody {
                @for e in items {
                    tr {
                        td { (e.created_on.format("%d %b %H:%M")) }
                        td {
                            (e.kind.as_str())
                            @if let Some(cents) = e.amount_cents {
                                // The receipt of the bill, or of the bill a refund was of.
                                @let bill = e.bill_id.as_ref().unwrap_or(&e.id);
                                @if e.bill_id.is_some() { " · refund of " } @else { " · bill of " } (money(cents))
                                " · " a href={ "/receipts/" (bill) } { "receipt" }
                            }
                            @if let Some(debt) = e.debt_change.filter(|d| *d != 0) {
                                @if debt > 0 { " · " (debt) " points owed" } @else { " · " (-debt) " points paid back" }
                            }
                        }
                        td { code { (e.actor_id.as_ref().unwrap_or(&e.user_id)) } }
                        td.num { (e.points) }
                        td.num { (e.balance_after) }
                    }
                }
            }
        }
    }
}

fn members(visitor: &Visitor, login: &Login, group: &Group) -> Markup {
    let owner = group.owner_id == login.user_id;
    html! {
        table {
            thead { tr { th { "Member" } th { "Role" } th { "May redeem" } th { "" } } }
            tbody {
                @for m in &group.memberships {
                    tr {
                        td { code { (m.user_id) } @if m.user_id == login.user_id { " (you)" } }
                        td { @if m.role == MemberRole::Owner { "owner" } @else { "member" } }
                        td { @if m.can_redeem { "yes" } @else { "no" } }
                        td {
                            @if owner && m.role != MemberRole::Owner {
                                form.inline method="post" action={ "/groups/" (group.id) "/members/" (m.user_id) "/rights" } {
                                    (csrf_field(visitor))
                                    input type="hidden" name="can_redeem" value=(if m.can_redeem { "false" } else { "true" });
                                    button.secondary type="submit" { @if m.can_redeem { "Revoke redeem" } @else { "Grant redeem" } }
                                }
                                " "
                                form.inline method="post" action={ "/groups/" (group.id) "/owner" } {
                                    (csrf_field(visitor))
                                    input type="hidden" name="owner_id" value=(m.user_id);
                                    button.secondary type="submit" { "Hand over" }
                                }
                                " "
                            }
                            @if !group.personal && ((owner && m.role != MemberRole::Owner) || (!owner && m.user_id == login.user_id)) {
                                form.inline method="post" action={ "/groups/" (group.id) "/members/" (m.user_id) "/remove" } {
                                    (csrf_field(visitor))
                                    button.secondary type="submit" { @if m.user_id == login.user_id { "Leave" } @else { "Remove" } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

async fn invitations(me: &Me, gid: &GroupId, new_code: Option<&str>) -> Result<Markup, WebError> {
    let visitor = &me.visitor;
    let list = me.platform.invitations(gid, &client::PageQuery { limit: Some(20), cursor: None }).await?.value;
    Ok(html! {
        section id="invitations" {
            h2 { "Invitations" }
            @if let Some(code) = new_code {
                p.banner.ok role="status" { "New invitation: give this code to the person joining (it is shown once)." }
                label for="new-code" { "Invitation code" }
                input.code #new-code readonly value=(code);
                p { button.secondary type="button" data-copy="#new-code" { "Copy the code" } }
            }
            form method="post" action={ "/groups/" (gid) "/invitations" }
                hx-post={ "/groups/" (gid) "/invitations" } hx-target="#invitations" hx-swap="outerHTML" {
                (csrf_field(visitor))
                label { input type="checkbox" name="can_redeem" value="true"; " The new member may redeem" }
                label for="invite-user" { "Only for user (optional)" }
                input #invite-user name="user_id" placeholder="001-abc123";
                p { button type="submit" { "Create an invitation" } }
            }
            table {
                thead { tr { th { "Created" } th { "For" } th { "State" } th { "" } } }
                tbody {
                    @for i in &list.items {
                        tr {
                            td { (i.created_on.format("%d %b %H:%M")) }
                            td { @if let Some(u) = &i.user_id { code { (u) } } @else { "anyone with the code" } }
                            td {
                                @if let Some(u) = &i.used_by { "used by " code { (u) } }
                                @else if i.revoked_on.is_some() { "revoked" }
                                @else if i.expires_at < chrono::Utc::now() { "expired" }
                                @else { "open until " (i.expires_at.format("%d %b %H:%M")) }
                            }
                            td {
                                @if i.used_by.is_none() && i.revoked_on.is_none() {
                                    form.inline method="post" action={ "/groups/" (gid) "/invitations/" (i.id) "/revoke" } {
                                        (csrf_field(visitor))
                                        button.secondary type="submit" { "Revoke" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    })
}

pub async fn show(me: Me, raw: web::Path<String>) -> Result<Markup, WebError> {
    let gid = gid(&raw)?;
    let platform = &me.platform;
    // The page's platform calls at once: its time is the slowest call's, not their sum.
    let history = client::PageQuery { limit: Some(numbers::PageSize::MAX), cursor: None };
    let (group, history, menu, offers) = futures_util::future::join4(
        platform.group(&gid),
        platform.transactions(&gid, &history),
        platform.catalogue(gid.region()),
        platform.offers(&gid),
    )
    .await;
    let (group, history) = (group?.value, history?.value);
    let mut line: Vec<_> = history.items.iter().map(|e| (e.created_on, e.balance_after)).collect();
    line.reverse();
    let drawn = chart::points_over_time(&line);
    let menu: Vec<CatalogueItem> = match menu {
        Ok(menu) => menu.value.items.into_iter().filter(|i| i.available).collect(),
        Err(_) => Vec::new(),
    };
    let owner = group.owner_id == me.login.user_id;
    let invitations = if owner && !group.personal { Some(invitations(&me, &group.id, None).await?) } else { None };
    // Offers are a nicety on this page: a region that cannot list them hides them.
    let offers = offers.map(|o| o.value.items).unwrap_or_default();
    Ok(page(
        &group.name,
        Some(&me.visitor),
        html! {
            p.points { (group.points) " points" }
            p.muted { "Region " (group.region) " · " (group.location) " · owner " code { (group.owner_id) }
                @if group.personal { " · personal pool" } }
            h2 { "Points over time" }
            @if let Some(drawn) = drawn { div.chart role="img" aria-label="Points over time" { (svg(&drawn)) } }
            @else { p.muted { "Not enough history for a chart yet." } }
            @if may_redeem(&group, &me.login.user_id) {
                h2 { "Redeem" }
                form method="get" action={ "/groups/" (group.id) "/redeem" } {
                    label for="points" { "Points" }
                    input #points name="points" type="number" min="1" max=(group.points.max(1)) required;
                    input type="hidden" name="attempt" value=(client::new_key());
                    p { button type="submit" { "Review" } }
                }
                @if !menu.is_empty() {
                    form method="get" action={ "/groups/" (group.id) "/redeem" } {
                        label for="item_id" { "Or a dish from region " (group.region) "'s menu" }
                        select #item_id name="item_id" {
                            @for item in &menu { option value=(item.id) { (item.name) " · " (item.points_price) " points" } }
                        }
                        label for="qty" { "Quantity" }
                        input.qty #qty name="qty" type="number" min=(numbers::Quantity::MIN) max=(numbers::Quantity::MAX) value="1" required;
                        input type="hidden" name="attempt" value=(client::new_key());
                        p { button type="submit" { "Review" } }
                    }
                }
            }
            @if !offers.is_empty() {
                h2 { "Offers" }
                table #offers {
                    thead { tr { th { "Offer" } th { "Of discount" } th { "At region" } th { "State" } } }
                    tbody {
                        @for o in &offers {
                            tr {
                                td { code { (o.id) } } td { code { (o.discount_id) } } td { (o.region) }
                                td { (format!("{:?}", o.state).to_lowercase())
                                    @if let Some(at) = o.expires_at { " (until " (at.format("%d %b %Y")) ")" } }
                            }
                        }
                    }
                }
            }
            h2 { "Members (" (group.memberships.len()) " of at most " (group.max_members) ")" }
            (members(&me.visitor, &me.login, &group))
            @if let Some(invitations) = invitations { (invitations) }
            h2 { "Recent entries" }
            (entries(&history.items[..history.items.len().min(20)]))
        },
    ))
}

#[derive(Deserialize)]
pub struct InvitationForm {
    can_redeem: Option<bool>,
    #[serde(default)]
    user_id: String,
}

/// Creates an invitation; an htmx request gets the invitations section back with the code,
/// a plain form post the whole page's section as a page.
pub async fn invite(me: Me, raw: web::Path<String>, Posted(form): Posted<InvitationForm>) -> Result<Markup, WebError> {
    let gid = gid(&raw)?;
    let platform = &me.platform;
    let user_id = Some(form.user_id.trim().to_owned()).filter(|u| !u.is_empty());
    let new = NewInvitation { can_redeem: Some(form.can_redeem.unwrap_or(false)), user_id, expires_in_secs: None };
    let invitation = platform.invite(&gid, &new).await?.value;
    invitations(&me, &gid, Some(&invitation.code)).await
}

pub async fn revoke_invitation(
    me: Me,
    path: web::Path<(String, String)>,
    Posted(_): Posted<Button>,
) -> Result<HttpResponse, WebError> {
    let (raw, iid) = path.into_inner();
    let gid = gid(&raw)?;
    let iid: InvitationId = parsed(&iid, "an invitation id")?;
    me.platform.revoke_invitation(&gid, &iid).await?;
    Ok(see_other(&format!("/groups/{gid}")))
}

#[derive(Deserialize)]
pub struct RightsForm {
    can_redeem: bool,
}

pub async fn set_rights(
    me: Me,
    path: web::Path<(String, String)>,
    Posted(form): Posted<RightsForm>,
) -> Result<HttpResponse, WebError> {
    let (raw, uid) = path.into_inner();
    let gid = gid(&raw)?;
    let patch = MemberPatch { can_redeem: form.can_redeem };
    me.platform.change_member(&gid, &uid, &patch).await?;
    Ok(see_other(&format!("/groups/{gid}")))
}

pub async fn remove_member(
    me: Me,
    path: web::Path<(String, String)>,
    Posted(_): Posted<Button>,
) -> Result<HttpResponse, WebError> {
    let (raw, uid) = path.into_inner();
    let gid = gid(&raw)?;
    me.platform.remove_member(&gid, &uid).await?;
    let left = uid == me.login.user_id.as_str();
    Ok(see_other(&if left { "/pools".to_owned() } else { format!("/groups/{gid}") }))
}

#[derive(Deserialize)]
pub struct OwnerForm {
    owner_id: String,
}

pub async fn hand_over(
    me: Me,
    raw: web::Path<String>,
    Posted(form): Posted<OwnerForm>,
) -> Result<HttpResponse, WebError> {
    let gid = gid(&raw)?;
    let patch = GroupPatch { owner_id: Some(form.owner_id.clone()), ..GroupPatch::default() };
    me.platform.update_group(&gid, &patch).await?;
    Ok(see_other(&format!("/groups/{gid}")))
}

#[derive(Deserialize)]
pub struct RedeemQuery {
    points: Option<i64>,
    item_id: Option<String>,
    qty: Option<i64>,
    attempt: Option<String>,
}

/// What a redemption asks for: points, or a quantity of a menu item priced in points.
enum Asked {
    Points(i64),
    Item { item: CatalogueItem, qty: i64 },
}

/// The confirmation step: what will be taken, and the form that takes it. The form
/// carries its Idempotency-Key, so sending it twice (a double click, the back button)
/// redeems once.
pub async fn review_redemption(
    me: Me,
    raw: web::Path<String>,
    query: web::Query<RedeemQuery>,
) -> Result<Markup, WebError> {
    let gid = gid(&raw)?;
    let group = me.platform.group(&gid).await?.value;
    let key = attempt_key(query.attempt.as_deref())?;
    let asked = match (query.points, query.item_id.as_deref()) {
        (Some(points), None) => Asked::Points(points),
        (None, Some(item_id)) => {
            let menu = me.platform.catalogue(group.region).await?.value;
            let item = menu.items.into_iter().find(|i| i.id.as_str() == item_id);
            let item = item.ok_or_else(|| WebError::Invalid("that dish is not on this region's menu".to_owned()))?;
            Asked::Item { item, qty: query.qty.unwrap_or(1) }
        }
        _ => return Err(WebError::Invalid("ask for points or for a dish".to_owned())),
    };
    Ok(page(
        "Confirm the redemption",
        Some(&me.visitor),
        html! {
            @match &asked {
                Asked::Points(points) => {
                    p { "Redeem " strong { (points) " points" } " from " strong { (group.name) } " (it holds " (group.points) ")." }
                }
                Asked::Item { item, qty } => {
                    p { "Redeem " strong { (qty) " × " (item.name) } " for " strong { (item.points_price * qty) " points" }
                        " from " strong { (group.name) } " (it holds " (group.points) ")." }
                }
            }
            form method="post" action={ "/groups/" (group.id) "/redeem" } {
                (csrf_field(&me.visitor))
                @match &asked {
                    Asked::Points(points) => { input type="hidden" name="points" value=(points); }
                    Asked::Item { item, qty } => {
                        input type="hidden" name="item_id" value=(item.id);
                        input type="hidden" name="qty" value=(qty);
                    }
                }
                input type="hidden" name="key" value=(key);
                p { button type="submit" { "Redeem" } " " a href={ "/groups/" (group.id) } { "Cancel" } }
            }
        },
    ))
}

#[derive(Deserialize)]
pub struct RedeemForm {
    points: Option<i64>,
    item_id: Option<String>,
    qty: Option<i64>,
    key: String,
}

pub async fn redeem(me: Me, raw: web::Path<String>, Posted(form): Posted<RedeemForm>) -> Result<Markup, WebError> {
    let gid = gid(&raw)?;
    let new = NewRedemption { points: form.points, item_id: form.item_id, qty: form.qty };
    let done = me.platform.redeem(&gid, &new, &form.key).await?;
    Ok(page(
        "Redeemed",
        Some(&me.visitor),
        html! {
            p.banner.ok role="status" {
                (done.value.points.abs()) " points redeemed; the pool now holds " (done.value.balance_after) "."
                @if done.replayed { " (This form had been sent before: it was redeemed once.)" }
            }
            p { a href={ "/groups/" (gid) } { "Back to the pool" } }
        },
    ))
}
