//! Admin pages: the regions' status as the router sees it, a few of the router's figures
//! from its metrics, creating staff accounts, changing a user's role and resetting a
//! user's password.

use actix_web::{HttpResponse, web};
use contract::dto::{AccountClosure, NewUser, RegionStatus, Role, User, UserPatch};
use contract::text::{Name, Password, TextKind};
use maud::{Markup, html};
use serde::Deserialize;

use super::account::{region_options, see_other};
use super::layout::{csrf_field, page};
use crate::AppState;
use crate::error::{WebError, parsed};
use crate::session::{Admin, Me, Posted, Visitor};

/// The router's metrics worth a glance, by their Prometheus names: the sum over all
/// label sets of each.
const FIGURES: &[(&str, &str)] = &[
    ("router_requests_total", "Requests answered"),
    ("router_retries_total", "Requests retried on another instance"),
    ("router_fast_failures_total", "Requests failed fast (a region down)"),
    ("router_rate_limited_total", "Requests refused by the rate limits"),
    ("router_upstream_healthy", "Healthy API instances"),
];

/// Sums each named metric over its label sets, from Prometheus's text format.
pub fn figures(text: &str) -> Vec<(&'static str, f64)> {
    FIGURES
        .iter()
        .map(|(name, label)| {
            let total = text
                .lines()
                .filter(|line| !line.starts_with('#'))
                .filter(|line| line.strip_prefix(name).is_some_and(|rest| rest.starts_with(['{', ' '])))
                .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
                .sum::<f64>();
            // An empty sum is -0.0.
            (*label, total + 0.0)
        })
        .collect()
}

/// One API instance as the router sees it.
#[derive(Debug, PartialEq)]
pub struct Instance {
    pub region: String,
    pub url: String,
    pub healthy: bool,
    /// Failures the router counted against it, by cause, summed.
    pub strikes: f64,
}

/// The value of `label` in a sample line's `{...}`.
fn label<'a>(line: &'a str, label: &str) -> Option<&'a str> {
    let start = line.find(&format!("{label}=\""))? + label.len() + 2;
    let end = line[start..].find('"')? + start;
    Some(&line[start..end])
}

/// Every API instance the router checks, from `router_upstream_healthy` and
/// `router_upstream_strikes_total`, by region then URL.
pub fn instances(text: &str) -> Vec<Instance> {
    let value = |line: &str| line.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    let mut found: Vec<Instance> = text
        .lines()
        .filter(|line| line.starts_with("router_upstream_healthy{"))
        .filter_map(|line| {
            Some(Instance {
                region: label(line, "region")?.to_owned(),
                url: label(line, "instance")?.to_owned(),
                healthy: value(line) > 0.0,
                strikes: 0.0,
            })
        })
        .collect();
    for line in text.lines().filter(|line| line.starts_with("router_upstream_strikes_total{")) {
        if let Some(instance) = found.iter_mut().find(|i| label(line, "instance") == Some(i.url.as_str())) {
            instance.strikes += value(line);
        }
    }
    found.sort_by(|a, b| (&a.region, &a.url).cmp(&(&b.region, &b.url)));
    found
}

pub async fn admin(state: web::Data<AppState>, Admin(me): Admin) -> Result<Markup, WebError> {
    let regions = me.platform.regions().await?.value.items;
    let metrics = match &state.metrics {
        Some(metrics) => match metrics.get_bytes("/metrics").await {
            Ok(reply) => {
                let text = String::from_utf8_lossy(&reply.value);
                Some(Ok((figures(&text), instances(&text))))
            }
            Err(e) => Some(Err(e)),
        },
        None => None,
    };
    Ok(page(
        "Admin",
        Some(&me.visitor),
        html! {
            h2 { "Regions" }
            table {
                thead { tr { th { "Region" } th { "Name" } th { "Status" } } }
                tbody {
                    @for r in &regions {
                        tr { td { (r.id) } td { (r.name) } td { @if r.status == RegionStatus::Up { "up" } @else { strong { "down" } } } }
                    }
                }
            }
            h2 { "The router's figures since it started" }
            @match metrics {
                Some(Ok((figures, instances))) => {
                    table { tbody { @for (label, value) in figures { tr { th { (label) } td.num { (format!("{value:.0}")) } } } } }
                    h2 { "API instances" }
                    table #instances {
                        thead { tr { th { "Region" } th { "Instance" } th { "Health" } th.num { "Failures counted" } } }
                        tbody {
                            @for i in &instances {
                                tr {
                                    td { (i.region) } td { code { (i.url) } }
                                    td { @if i.healthy { "healthy" } @else { strong { "unhealthy" } } }
                                    td.num { (format!("{:.0}", i.strikes)) }
                                }
                            }
                        }
                    }
                }
                Some(Err(e)) => { p.banner.down role="alert" { "The router's metrics could not be read (" (e) ")." } }
                None => { p.muted { "No metrics address is configured." } }
            }
            h2 { "Create a staff account" }
            form method="post" action="/admin/staff" {
                (csrf_field(&me.visitor))
                label for="full_name" { "Name" } input #full_name name="full_name" required maxlength=(Name::MAX);
                label for="email" { "Email" } input #email name="email" type="email" required;
                label for="password" { "Initial password" } input #password name="password" type="password" required minlength=(Password::MIN) maxlength=(Password::MAX) autocomplete="new-password";
                label for="home_region" { "Store region" } select #home_region name="home_region" { (region_options(&regions)) }
                p { button type="submit" { "Create staff" } }
            }
            (by_email(&me.visitor, ByEmail {
                title: "Change a user's role",
                note: "Staff who leave become customers: their sessions end, and the till is closed to them.",
                action: "/admin/roles",
                field_id: "role_email",
                fields: html! {
                    label for="role" { "Role" }
                    select #role name="role" { option value="customer" { "customer" } option value="staff" { "staff" } option value="admin" { "admin" } }
                },
                button: "Change the role",
            }))
            (by_email(&me.visitor, ByEmail {
                title: "Reset a user's password",
                note: "For someone who has forgotten theirs: every session of theirs ends.",
                action: "/admin/passwords",
                field_id: "reset_email",
                fields: html! {
                    label for="new_password" { "New password" } input #new_password name="new_password" type="password" required minlength=(Password::MIN) maxlength=(Password::MAX) autocomplete="new-password";
                },
                button: "Reset the password",
            }))
            (by_email(&me.visitor, ByEmail {
                title: "Close a customer's account",
                note: "For a customer who asks to be erased: their name, email, phone, location, age and password \
                    go, every session of theirs ends, and their email is free again. They leave their pools first. \
                    Points left in their personal pool are given up only when you name their number (the \
                    platform says it when it refuses).",
                action: "/admin/closures",
                field_id: "closure_email",
                fields: html! {
                    label for="forfeit_points" { "Points of their personal pool to give up" }
                    input #forfeit_points name="forfeit_points" type="number" min="0" placeholder="0";
                },
                button: "Close the account",
            }))
        },
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn figures_sum_a_metric_over_its_labels_and_not_its_longer_namesakes() {
        let text = "# TYPE router_requests_total counter\nrouter_requests_total{region=\"001\"} 3\n\
            router_requests_total{region=\"002\"} 4\nrouter_requests_total_other 100\nrouter_upstream_healthy 2\n";
        let figures = super::figures(text);
        assert_eq!(figures[0], ("Requests answered", 7.0));
        assert_eq!(figures[1].1.to_string(), "0", "nothing counted is 0, not -0");
        assert_eq!(figures[4], ("Healthy API instances", 2.0));
    }

    #[test]
    fn instances_come_from_the_health_gauge_with_their_strikes_summed() {
        let text = "router_upstream_healthy{region=\"002\",instance=\"http://b:1\"} 0\n\
            router_upstream_healthy{region=\"001\",instance=\"http://a:1\"} 1\n\
            router_upstream_strikes_total{instance=\"http://b:1\",cause=\"connect\"} 3\n\
            router_upstream_strikes_total{instance=\"http://b:1\",cause=\"timeout\"} 2\n";
        let found = super::instances(text);
        assert_eq!(found.len(), 2);
        assert_eq!((found[0].url.as_str(), found[0].healthy, found[0].strikes), ("http://a:1", true, 0.0));
        assert_eq!((found[1].region.as_str(), found[1].healthy, found[1].strikes), ("002", false, 5.0));
    }
}

#[derive(Deserialize)]
pub struct StaffForm {
    full_name: String,
    email: String,
    password: String,
    home_region: String,
}

pub async fn create_staff(Admin(me): Admin, Posted(form): Posted<StaffForm>) -> Result<HttpResponse, WebError> {
    let mut new = NewUser::new(&form.email, &form.password, &form.full_name, &form.home_region);
    new.role = Some(Role::Staff);
    me.platform.sign_up(&new).await?;
    Ok(see_other("/admin"))
}

/// A form that acts on the user whose email it asks for; `fields` say what it sets.
struct ByEmail {
    title: &'static str,
    note: &'static str,
    action: &'static str,
    field_id: &'static str,
    fields: Markup,
    button: &'static str,
}

fn by_email(visitor: &Visitor, form: ByEmail) -> Markup {
    html! {
        h2 { (form.title) }
        p.muted { (form.note) }
        form method="post" action=(form.action) {
            (csrf_field(visitor))
            label for=(form.field_id) { "Their email" } input id=(form.field_id) name="email" type="email" required;
            (form.fields)
            p { button type="submit" { (form.button) } }
        }
    }
}

/// The user an admin's form names by email.
async fn named_user(me: &Me, email: &str) -> Result<User, WebError> {
    Ok(me.platform.find_user(email.trim()).await?.value)
}

#[derive(Deserialize)]
pub struct ResetForm {
    email: String,
    new_password: String,
}

/// Sets another user's password (the platform lets an admin do so without the current
/// one, and revokes the user's tokens); an admin's own goes through the profile page.
pub async fn reset_password(Admin(me): Admin, Posted(form): Posted<ResetForm>) -> Result<HttpResponse, WebError> {
    let user = named_user(&me, &form.email).await?;
    me.platform.change_password(&user.id, None, &form.new_password).await?;
    Ok(see_other("/admin"))
}

#[derive(Deserialize)]
pub struct ClosureForm {
    email: String,
    #[serde(default)]
    forfeit_points: String,
}

/// Closes a customer's account (the platform lets an admin do so without their password).
pub async fn close_account(Admin(me): Admin, Posted(form): Posted<ClosureForm>) -> Result<HttpResponse, WebError> {
    let user = named_user(&me, &form.email).await?;
    let forfeit_points = match form.forfeit_points.trim() {
        "" => None,
        given => Some(parsed(given, "a number of points")?),
    };
    let closure = AccountClosure { current_password: None, forfeit_points };
    me.platform.close_account(&user.id, &closure).await?;
    Ok(see_other("/admin"))
}

#[derive(Deserialize)]
pub struct RoleForm {
    email: String,
    role: Role,
}

/// Gives another user a role (the platform revokes their tokens, which carry the old one).
pub async fn change_role(Admin(me): Admin, Posted(form): Posted<RoleForm>) -> Result<HttpResponse, WebError> {
    let user = named_user(&me, &form.email).await?;
    let patch = UserPatch { role: Some(form.role), ..UserPatch::default() };
    me.platform.update_user(&user.id, &patch).await?;
    Ok(see_other("/admin"))
}
