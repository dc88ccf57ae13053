//! Signing up (choosing the home region), logging in and out, and the profile.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use contract::dto::{AccountClosure, NewUser, Region, RegionStatus, UserPatch};
use contract::numbers::{self, NumberKind};
use contract::text::{Location, Name, Password, Phone, TextKind};
use maud::{Markup, html};
use serde::Deserialize;

use super::layout::{csrf_field, page};
use crate::error::{WebError, parsed};
use crate::session::{Me, Platform, Posted, Visitor};

pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, location)).finish()
}

pub async fn home(visitor: Visitor) -> HttpResponse {
    see_other(if visitor.login.is_some() { "/pools" } else { "/login" })
}

#[derive(Deserialize)]
pub struct LoginNotice {
    #[serde(default)]
    closed: bool,
}

pub async fn login_page(visitor: Visitor, notice: web::Query<LoginNotice>) -> Markup {
    page(
        "Log in",
        Some(&visitor),
        html! {
            @if notice.closed {
                p.banner.ok role="status" { "Your account is closed: what identified you is erased." }
            }
            form method="post" action="/login" {
                (csrf_field(&visitor))
                label for="email" { "Email" }
                input #email name="email" type="email" autocomplete="username" required;
                label for="password" { "Password" }
                input #password name="password" type="password" autocomplete="current-password" required;
                p { button type="submit" { "Log in" } }
            }
            p.muted { "New here? " a href="/signup" { "Sign up" } }
        },
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
}

pub async fn log_in(
    Platform(platform): Platform,
    visitor: Visitor,
    Posted(form): Posted<LoginForm>,
) -> Result<HttpResponse, WebError> {
    let session = platform.log_in(&form.email, &form.password).await.map_err(|e| match e.status() {
        // Not "log in again" (a page's expired token): this was the login.
        Some(401) => WebError::WrongLogin,
        _ => WebError::from(e),
    })?;
    visitor.log_in(&session.value)?;
    Ok(see_other("/pools"))
}

/// A form of nothing but its CSRF token (a button).
#[derive(Deserialize)]
pub struct Button {}

/// Revokes the token at the platform, then forgets the session either way.
pub async fn log_out(
    Platform(platform): Platform,
    visitor: Visitor,
    Posted(_): Posted<Button>,
) -> Result<HttpResponse, WebError> {
    if let Some(login) = &visitor.login {
        let revoked = platform.with_token(&login.token).log_out(&login.user_id, false).await;
        if let Err(e) = revoked {
            tracing::warn!(error = %e, "the platform did not revoke the token at logout");
        }
    }
    visitor.log_out();
    Ok(see_other("/login"))
}

pub fn region_options(regions: &[Region]) -> Markup {
    html! {
        @for region in regions {
            option value=(region.id) {
                (region.id) " · " (region.name)
                @if region.status != RegionStatus::Up { " (unavailable)" }
            }
        }
    }
}

pub async fn signup_page(Platform(platform): Platform, visitor: Visitor) -> Result<Markup, WebError> {
    let regions = platform.regions().await?.value.items;
    Ok(page(
        "Sign up",
        Some(&visitor),
        html! {
            form method="post" action="/signup" {
                (csrf_field(&visitor))
                label for="full_name" { "Your name" }
                input #full_name name="full_name" autocomplete="name" required maxlength=(Name::MAX);
                label for="email" { "Email" }
                input #email name="email" type="email" autocomplete="email" required;
                label for="password" { "Password (at least " (Password::MIN) " characters)" }
                input #password name="password" type="password" autocomplete="new-password" required minlength=(Password::MIN) maxlength=(Password::MAX);
                label for="home_region" { "Home region (where your account and personal pool live)" }
                select #home_region name="home_region" { (region_options(&regions)) }
                p { button type="submit" { "Create my account" } }
            }
        },
    ))
}

#[derive(Deserialize)]
pub struct SignupForm {
    full_name: String,
    email: String,
    password: String,
    home_region: String,
}

/// Creates the account, then logs in with it.
pub async fn sign_up(
    Platform(platform): Platform,
    visitor: Visitor,
    Posted(form): Posted<SignupForm>,
) -> Result<HttpResponse, WebError> {
    let new = NewUser::new(&form.email, &form.password, &form.full_name, &form.home_region);
    platform.sign_up(&new).await?;
    let session = platform.log_in(&form.email, &form.password).await?.value;
    visitor.log_in(&session)?;
    Ok(see_other("/pools"))
}

pub async fn profile(me: Me) -> Result<Markup, WebError> {
    let user = me.platform.user(&me.login.user_id).await?.value;
    let personal = me.platform.group(&user.personal_group_id).await?.value;
    Ok(page(
        "Profile",
        Some(&me.visitor),
        html! {
            table {
                tr { th { "Email" } td { (user.email) } }
                tr { th { "Id" } td { code { (user.id) } } }
                tr { th { "Role" } td { (user.role.as_str()) } }
                tr { th { "Home region" } td { (user.home_region) } }
                tr { th { "Personal pool" } td { a href={ "/groups/" (user.personal_group_id) } { (user.personal_group_id) } } }
                tr { th { "Member since" } td { (user.created_on.format("%d %b %Y")) } }
            }
            h2 { "Your details" }
            form method="post" action="/profile" {
                (csrf_field(&me.visitor))
                label for="full_name" { "Name" }
                input #full_name name="full_name" autocomplete="name" required maxlength=(Name::MAX) value=(user.full_name);
                label for="phone" { "Phone (optional)" }
                input #phone name="phone" type="tel" autocomplete="tel" maxlength=(Phone::MAX) value=[user.phone.as_deref()];
                label for="location" { "Location (optional)" }
                input #location name="location" maxlength=(Location::MAX) value=[user.location.as_deref()];
                label for="age" { "Age (optional)" }
                input #age name="age" type="number" min=(numbers::Age::MIN) max=(numbers::Age::MAX) value=[user.age];
                p { button type="submit" { "Save" } }
            }
            h2 { "Password" }
            form method="post" action="/password" {
                (csrf_field(&me.visitor))
                label for="current_password" { "Current password" }
                input #current_password name="current_password" type="password" autocomplete="current-password" required;
                label for="new_password" { "New password (at least " (Password::MIN) " characters)" }
                input #new_password name="new_password" type="password" autocomplete="new-password" required minlength=(Password::MIN) maxlength=(Password::MAX);
                p.muted { "Changing it logs you out everywhere else." }
                p { button type="submit" { "Change password" } }
            }
            h2 { "Close my account" }
            form method="post" action="/close-account" {
                (csrf_field(&me.visitor))
                p.muted { "Your name, email, phone, location, age and password are erased and you are logged out \
                    everywhere; your email is free to sign up again. Leave your pools first (hand over those you \
                    own)." }
                @if personal.points > 0 {
                    // The box carries the number seen here: the platform refuses the closure
                    // if the pool holds another by then, so nothing unseen is given up.
                    label.check {
                        input #forfeit_points name="forfeit_points" type="checkbox" value=(personal.points) required;
                        " I give up the " (personal.points) " points of my personal pool: they are written off \
                        as my account closes."
                    }
                }
                label for="closing_password" { "Current password" }
                input #closing_password name="current_password" type="password" autocomplete="current-password" required;
                p { button type="submit" { "Close my account" } }
            }
        },
    ))
}

#[derive(Deserialize)]
pub struct ClosureForm {
    current_password: String,
    forfeit_points: Option<u64>,
}

/// The platform revokes every token of the user as it closes the account: the session
/// ends here too.
pub async fn close_account(me: Me, Posted(form): Posted<ClosureForm>) -> Result<HttpResponse, WebError> {
    let closure = AccountClosure { current_password: Some(form.current_password), forfeit_points: form.forfeit_points };
    me.platform.close_account(&me.login.user_id, &closure).await?;
    me.visitor.log_out();
    Ok(see_other("/login?closed=true"))
}

#[derive(Deserialize)]
pub struct PasswordForm {
    current_password: String,
    new_password: String,
}

/// The platform revokes every token of the user with the change, this session's too: it
/// logs in again with the new password, so only the other sessions end.
pub async fn change_password(
    me: Me,
    Platform(platform): Platform,
    Posted(form): Posted<PasswordForm>,
) -> Result<HttpResponse, WebError> {
    let email = me.platform.user(&me.login.user_id).await?.value.email;
    me.platform.change_password(&me.login.user_id, Some(&form.current_password), &form.new_password).await?;
    let session = platform.log_in(&email, &form.new_password).await?.value;
    me.visitor.log_in(&session)?;
    Ok(see_other("/profile"))
}

#[derive(Deserialize)]
pub struct ProfileForm {
    full_name: String,
    phone: String,
    location: String,
    age: String,
}

/// An emptied field clears it.
fn optional(field: &str) -> Option<Option<String>> {
    Some(Some(field.trim().to_owned()).filter(|v| !v.is_empty()))
}

pub async fn update_profile(me: Me, Posted(form): Posted<ProfileForm>) -> Result<HttpResponse, WebError> {
    let age = match form.age.trim() {
        "" => None,
        raw => Some(parsed(raw, "an age (a whole number)")?),
    };
    let patch = UserPatch {
        full_name: Some(form.full_name.trim().to_owned()),
        phone: optional(&form.phone),
        location: optional(&form.location),
        age: Some(age),
        role: None,
    };
    me.platform.update_user(&me.login.user_id, &patch).await?;
    Ok(see_other("/profile"))
}
