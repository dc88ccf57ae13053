//! The page shell: head (the stylesheet, htmx), the navigation for who is logged in, and
//! the logout form; plus the small pieces every page uses (the CSRF field, amounts).

use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::session::Visitor;

/// htmx: no inline indicator styles (the CSP allows none) and no `eval`.
const HTMX_CONFIG: &str = r#"{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false}"#;

pub fn page(title: &str, visitor: Option<&Visitor>, body: Markup) -> Markup {
    let login = visitor.and_then(|v| v.login.as_ref());
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="htmx-config" content=(HTMX_CONFIG);
                title { (title) " · Loyalty" }
                link rel="stylesheet" href="/static/console.css";
                script src="/static/htmx.min.js" defer {}
                script src="/static/console.js" defer {}
            }
            body {
                header {
                    a.brand href="/" { "Loyalty" }
                    nav aria-label="Main" {
                        @if let (Some(login), Some(visitor)) = (login, visitor) {
                            a href="/pools" { "My pools" }
                            a href="/activity" { "Activity" }
                            a href="/menus" { "Menus" }
                            a href="/profile" { "Profile" }
                            @if login.is_staff() { a href="/till" { "Till" } a href="/till/menu" { "Store menu" } a href="/till/discounts" { "Discounts" } a href="/till/returns" { "Returns" } }
                            @if login.is_admin() { a href="/admin" { "Admin" } }
                            form.inline method="post" action="/logout" {
                                (csrf_field(visitor))
                                button type="submit" { "Log out" }
                            }
                        } @else {
                            a href="/login" { "Log in" }
                            a href="/signup" { "Sign up" }
                        }
                    }
                }
                main id="main" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

pub fn csrf_field(visitor: &Visitor) -> Markup {
    html! { input type="hidden" name="csrf" value=(visitor.csrf); }
}

/// Cents as a currency amount: 1550 → "15.50".
pub fn money(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, (cents % 100).abs())
}

/// An SVG drawn on the server, placed in the page as it is.
pub fn svg(svg: &str) -> Markup {
    PreEscaped(svg.to_owned())
}
