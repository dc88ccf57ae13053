//! "My pools": every group of the user with its points, owner, members and what the user
//! may do there; groups of a region that did not answer are listed as such. Creating a
//! group, and joining one with an invitation code.

use actix_web::HttpResponse;
use contract::dto::{Group, NewGroup, NewMember};
use contract::text::{Location, Name, TextKind};
use contract::{GroupId, UserId};
use maud::{Markup, html};
use serde::Deserialize;

use super::account::{region_options, see_other};
use super::layout::{csrf_field, page};
use crate::error::WebError;
use crate::session::{Me, Posted};

/// What `user` may do in `group`, in words.
pub fn rights(group: &Group, user: &UserId) -> &'static str {
    if &group.owner_id == user {
        "owner: redeem, invite, grant rights"
    } else if group.memberships.iter().any(|m| &m.user_id == user && m.can_redeem) {
        "member: may redeem"
    } else {
        "member: sees the pool, may not redeem"
    }
}

fn card(group: &Group, user: &UserId) -> Markup {
    html! {
        article.card {
            h2 { a href={ "/groups/" (group.id) } { (group.name) } }
            p.points { (group.points) " points" }
            p.muted {
                "Region " (group.region)
                @if group.personal { " · personal pool" } @else { " · " (group.members.len()) " members" }
            }
            p { "Owner: " code { (group.owner_id) } }
            p { (rights(group, user)) }
        }
    }
}

pub async fn pools(me: Me) -> Result<Markup, WebError> {
    let platform = &me.platform;
    let groups = platform.user_groups(&me.login.user_id).await?.value;
    let regions = platform.regions().await?.value.items;
    Ok(page(
        "My pools",
        Some(&me.visitor),
        html! {
            @if !groups.unavailable.is_empty() {
                p.banner.down role="alert" {
                    "Not shown: " (groups.unavailable.len()) " pool(s) in a region that is unavailable just now ("
                    @for (i, gid) in groups.unavailable.iter().enumerate() { @if i > 0 { ", " } code { (gid) } }
                    ")."
                }
            }
            div.cards { @for group in &groups.items { (card(group, &me.login.user_id)) } }
            h2 { "Join a pool" }
            form method="post" action="/join" {
                (csrf_field(&me.visitor))
                label for="code" { "Invitation code" }
                input #code name="code" required autocomplete="off" spellcheck="false";
                p { button type="submit" { "Join" } }
            }
            h2 { "Start a pool" }
            form method="post" action="/groups" {
                (csrf_field(&me.visitor))
                label for="name" { "Name" }
                input #name name="name" required maxlength=(Name::MAX);
                label for="location" { "Location" }
                input #location name="location" maxlength=(Location::MAX);
                label for="region" { "Region" }
                select #region name="region" { (region_options(&regions)) }
                p { button type="submit" { "Create" } }
            }
        },
    ))
}

#[derive(Deserialize)]
pub struct NewGroupForm {
    name: String,
    #[serde(default)]
    location: String,
    region: String,
}

pub async fn create_group(me: Me, Posted(form): Posted<NewGroupForm>) -> Result<HttpResponse, WebError> {
    let new = NewGroup { name: form.name, location: form.location, region: form.region };
    let group = me.platform.create_group(&new).await?.value;
    Ok(see_other(&format!("/groups/{}", group.id)))
}

#[derive(Deserialize)]
pub struct JoinForm {
    code: String,
}

/// An invitation code starts with its group's id (`001-abc123.…`), which is how the
/// router finds the group's region.
pub async fn join(me: Me, Posted(form): Posted<JoinForm>) -> Result<HttpResponse, WebError> {
    let code = form.code.trim();
    let gid: GroupId = code
        .split('.')
        .next()
        .and_then(|g| g.parse().ok())
        .ok_or_else(|| WebError::Invalid("that is not an invitation code".to_owned()))?;
    let new = NewMember { user_id: me.login.user_id.to_string(), invitation: Some(code.to_owned()) };
    me.platform.join(&gid, &new).await?;
    Ok(see_other(&format!("/groups/{gid}")))
}
