//! Admin pages: the regions' status as the router sees it, a few of the router's figures
//! from its metrics, and creating staff accounts.

use actix_web::{HttpResponse, web};
use contract::dto::{NewUser, RegionStatus, Role};
use maud::{Markup, html};
use serde::Deserialize;

use super::account::{region_options, see_other};
use super::layout::{csrf_field, page};
use crate::AppState;
use crate::error::WebError;
use crate::session::{Admin, Posted};

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

pub async fn admin(state: web::Data<AppState>, Admin(me): Admin) -> Result<Markup, WebError> {
    let regions = me.platform.regions().await?.value.items;
    let metrics = match &state.metrics {
        Some(metrics) => match metrics.get_bytes("/metrics").await {
            Ok(reply) => Some(Ok(figures(&String::from_utf8_lossy(&reply.value)))),
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
                Some(Ok(figures)) => {
                    table { tbody { @for (label, value) in figures { tr { th { (label) } td.num { (format!("{value:.0}")) } } } } }
                }
                Some(Err(e)) => { p.banner.down role="alert" { "The router's metrics could not be read (" (e) ")." } }
                None => { p.muted { "No metrics address is configured." } }
            }
            h2 { "Create a staff account" }
            form method="post" action="/admin/staff" {
                (csrf_field(&me.visitor))
                label for="full_name" { "Name" } input #full_name name="full_name" required maxlength="100";
                label for="email" { "Email" } input #email name="email" type="email" required;
                label for="password" { "Initial password" } input #password name="password" type="password" required minlength="8" autocomplete="new-password";
                label for="home_region" { "Store region" } select #home_region name="home_region" { (region_options(&regions)) }
                p { button type="submit" { "Create staff" } }
            }
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
