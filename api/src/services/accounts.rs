//! Sign-up, profiles and the bootstrap accounts.

use std::time::{Duration, Instant};

use contract::dto::{NewUser, Role, User, UserPatch};
use contract::numbers::Age;
use contract::text::{Location, Name, Password, Phone, TextKind};
use contract::{ErrorCode, RegionId, Regional, UserId};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::auth::{Caller, hash_password};
use crate::db::{self, groups, users};
use crate::domain::{Email, optional_text, parse_email, required_text, within};
use crate::error::ApiError;
use crate::services::AppState;
use crate::services::directory::announce_user;
use crate::services::groups::{insert_group, record_membership};
use crate::services::revocations;

/// A new account, checked.
#[derive(Clone)]
pub struct Account {
    pub email: Email,
    pub password: String,
    pub full_name: String,
    pub home_region: RegionId,
    pub phone: Option<String>,
    pub location: Option<String>,
    pub age: Option<i32>,
    pub role: Role,
}

/// `password` as the field `field`, checked.
pub fn parse_password(field: &str, password: &str) -> Result<String, ApiError> {
    Password::check_length(field, password).map_err(ApiError::invalid_input)?;
    Ok(password.to_owned())
}

fn parse_phone(phone: Option<&str>) -> Result<Option<String>, ApiError> {
    let phone = optional_text::<Phone>("phone", phone)?;
    if let Some(p) = &phone
        && !p.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c))
    {
        return Err(ApiError::invalid_input("phone may contain digits, spaces and + - ( ) . only"));
    }
    Ok(phone)
}

fn parse_age(age: Option<i64>) -> Result<Option<i32>, ApiError> {
    // Within `Age`, it fits an i32.
    age.map(|a| within::<Age>("age", a).map(|a| a as i32)).transpose()
}

impl Account {
    pub fn parse(state: &AppState, new: &NewUser) -> Result<Account, ApiError> {
        let home_region = state.regions.parse_region("home_region", &new.home_region)?;
        state.regions.ensure_local("user", home_region)?;
        Ok(Account {
            email: parse_email(&new.email)?,
            password: parse_password("password", &new.password)?,
            full_name: required_text::<Name>("full_name", &new.full_name)?,
            home_region,
            phone: parse_phone(new.phone.as_deref())?,
            location: optional_text::<Location>("location", new.location.as_deref())?,
            age: parse_age(new.age)?,
            role: new.role.unwrap_or(Role::Customer),
        })
    }
}

pub async fn sign_up(state: &AppState, caller: Option<&Caller>, account: Account) -> Result<User, ApiError> {
    match (account.role, caller) {
        (Role::Customer, _) => {}
        (_, None) => {
            return Err(ApiError::unauthenticated("creating staff or admin accounts needs an admin token"));
        }
        (_, Some(c)) if !c.is_admin() => {
            return Err(ApiError::forbidden("only admins create staff or admin accounts"));
        }
        _ => {}
    }
    create(state, account).await
}

fn email_taken_or(err: DieselError) -> ApiError {
    match &err {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info)
            if info.constraint_name() == Some("users_email_key") =>
        {
            ApiError::new(ErrorCode::EmailTaken, "an account with this email already exists")
        }
        _ => err.into(),
    }
}

/// Creates the user, their personal group and the membership in one transaction.
async fn create(state: &AppState, account: Account) -> Result<User, ApiError> {
    let password = account.password.clone();
    let password_hash = state.hashing.run(move || hash_password(&password)).await??;
    let region = account.home_region;
    let regions = state.regions.clone();
    let user_id = state
        .db
        .run(move |conn| {
            conn.transaction::<_, ApiError, _>(|conn| {
                // The owner is set with `personal_of` below, once the user's id is drawn.
                let group_id = insert_group(
                    conn,
                    region,
                    &format!("{} (personal)", account.full_name),
                    account.location.as_deref().unwrap_or(""),
                    "",
                )?;
                let user_id = db::with_fresh_id(
                    || UserId::generate(region),
                    |id| {
                        let row = users::NewUserRow {
                            id,
                            email: account.email.as_str(),
                            password_hash: &password_hash,
                            role: account.role,
                            full_name: &account.full_name,
                            phone: account.phone.as_deref(),
                            location: account.location.as_deref(),
                            age: account.age,
                            personal_group_id: &group_id,
                        };
                        Ok(users::insert(conn, &row)?.then(|| id.clone()))
                    },
                )
                .map_err(email_taken_or)?;
                groups::set_personal_of(conn, group_id.as_str(), user_id.as_str())?;
                announce_user(conn, &regions, account.email.as_str(), &user_id)?;
                record_membership(conn, region, &group_id, &user_id, true, true, None)?;
                Ok(user_id)
            })
        })
        .await?;
    load(state, user_id).await
}

/// The user as the contract shows it, with the groups from the index.
pub async fn load(state: &AppState, user_id: UserId) -> Result<User, ApiError> {
    state
        .db
        .run(move |conn| {
            let row = users::find(conn, user_id.as_str())?.ok_or_else(|| user_not_found(&user_id))?;
            to_dto(conn, row)
        })
        .await
}

/// The user of this region with `email` (any case), as `load` shows them.
pub async fn find_by_email(state: &AppState, email: &str) -> Result<User, ApiError> {
    let email = parse_email(email)?;
    state
        .db
        .run(move |conn| {
            let row = users::find_by_email(conn, email.as_str())?
                .ok_or_else(|| ApiError::not_found("no user with this email"))?;
            to_dto(conn, row)
        })
        .await
}

/// `row` as the contract shows it, with its groups from the index.
fn to_dto(conn: &mut PgConnection, row: users::UserRow) -> Result<User, ApiError> {
    let group_ids = users::group_ids(conn, row.id.as_str())?;
    Ok(User {
        home_region: row.id.region(),
        id: row.id,
        email: row.email,
        full_name: row.full_name,
        role: row.role,
        phone: row.phone,
        location: row.location,
        age: row.age,
        groups: group_ids,
        personal_group_id: row.personal_group_id,
        created_on: row.created_on,
        updated_on: row.updated_on,
    })
}

/// Customers see themselves; staff see customers (to bill them); admins see everyone.
/// Anyone else is answered as if the user did not exist: no oracle of user ids.
pub fn ensure_may_read(caller: &Caller, user: &UserId) -> Result<(), ApiError> {
    if caller.is(user) || caller.is_staff_or_admin() { Ok(()) } else { Err(user_not_found(user)) }
}

/// What a missing user, and a user the caller may not see, are both answered with.
pub fn user_not_found(user: &UserId) -> ApiError {
    ApiError::not_found(format!("user {user} not found"))
}

pub async fn update_profile(
    state: &AppState,
    caller: &Caller,
    user_id: UserId,
    patch: &UserPatch,
) -> Result<User, ApiError> {
    if !caller.is(&user_id) && !caller.is_admin() {
        // Staff may see the user, so for them it is a refusal; for others the user is not there.
        return Err(if caller.is_staff_or_admin() {
            ApiError::forbidden("you may only change your own account")
        } else {
            user_not_found(&user_id)
        });
    }
    let change = users::ProfileChange {
        full_name: patch.full_name.as_deref().map(|n| required_text::<Name>("full_name", n)).transpose()?,
        phone: patch.phone.as_ref().map(|p| parse_phone(p.as_deref())).transpose()?,
        location: patch.location.as_ref().map(|l| optional_text::<Location>("location", l.as_deref())).transpose()?,
        age: patch.age.map(parse_age).transpose()?,
    };
    if let Some(role) = patch.role {
        change_role(state, caller, &user_id, role).await?;
    }
    let id = user_id.to_string();
    let updated = state
        .db
        .run(move |conn| {
            let nothing_to_change = change.full_name.is_none()
                && change.phone.is_none()
                && change.location.is_none()
                && change.age.is_none();
            if nothing_to_change {
                return Ok(users::find(conn, &id)?);
            }
            Ok(users::update_profile(conn, &id, &change)?)
        })
        .await?;
    if updated.is_none() {
        return Err(user_not_found(&user_id));
    }
    load(state, user_id).await
}

/// An admin changes another user's role; the user's tokens, which carry the old role,
/// are revoked in the same transaction.
async fn change_role(state: &AppState, caller: &Caller, user_id: &UserId, role: Role) -> Result<(), ApiError> {
    if !caller.is_admin() {
        return Err(ApiError::forbidden("only an admin may change a role"));
    }
    if caller.is(user_id) {
        return Err(ApiError::forbidden("an admin may not change their own role"));
    }
    let id = user_id.to_string();
    let revocation = revocations::all_of(state, user_id);
    let row = revocation.clone();
    let changed = state
        .db
        .run(move |conn| {
            Ok(conn.transaction::<_, diesel::result::Error, _>(|conn| {
                let Some(before) = users::find(conn, &id)? else { return Ok(None) };
                if before.role == role {
                    return Ok(Some(None));
                }
                users::set_role(conn, &id, role.as_str())?;
                Ok(Some(Some(revocations::write(conn, &row)?)))
            })?)
        })
        .await?;
    match changed {
        None => Err(user_not_found(user_id)),
        Some(None) => Ok(()),
        Some(Some(seq)) => {
            revocations::written(state, revocation, seq);
            tracing::info!(user_id = %user_id, role = role.as_str(), by = %caller.user_id, "role changed; tokens revoked");
            Ok(())
        }
    }
}

/// Creates the configured bootstrap accounts that do not exist yet: the admin in its
/// region, and this region's staff account.
pub async fn bootstrap(state: &AppState, deadline: Instant) -> anyhow::Result<()> {
    let config = &state.config;
    let mut wanted = Vec::new();
    if config.region == config.bootstrap.admin_region
        && let (Some(email), Some(password)) = (&config.admin_email, &config.admin_password)
    {
        wanted.push((email.clone(), password.clone(), Role::Admin));
    }
    if let (Some(email), Some(password)) = (&config.bootstrap.staff_email, &config.bootstrap.staff_password) {
        wanted.push((email.clone(), password.clone(), Role::Staff));
    }
    // A slow database gets start-up's whole budget, not one request's deadline: an
    // instance that exits here stays down until someone restarts it.
    for (email, password, role) in wanted {
        let account = Account {
            email: Email::parse(&email).ok_or_else(|| anyhow::anyhow!("bootstrap email {email:?} is not valid"))?,
            password: parse_password("password", &password)
                .map_err(|e| anyhow::anyhow!("bootstrap password: {}", e.message))?,
            full_name: format!("Bootstrap {}", role.as_str()),
            home_region: config.region,
            phone: None,
            location: None,
            age: None,
            role,
        };
        loop {
            match create(state, account.clone()).await {
                Ok(user) => {
                    tracing::info!(email, user_id = %user.id, role = role.as_str(), "bootstrap account created");
                    break;
                }
                // Also what a retry finds when the attempt that timed out committed after all.
                Err(err) if err.code == ErrorCode::EmailTaken => {
                    tracing::info!(email, role = role.as_str(), "bootstrap account already exists");
                    break;
                }
                Err(err)
                    if matches!(err.code, ErrorCode::Timeout | ErrorCode::RegionUnavailable)
                        && Instant::now() < deadline =>
                {
                    tracing::warn!(email, error = %err.message, "bootstrap account not created yet; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(err) => anyhow::bail!("creating bootstrap {} failed: {}", role.as_str(), err.message),
            }
        }
    }
    Ok(())
}
