//! Users and sessions.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Role, nullable};
use crate::ids::{GroupId, RegionId, UserId};
use crate::numbers::Age;
use crate::text::{Location, Name, Password, Phone};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    #[schema(format = Email)]
    pub email: String,
    #[schema(value_type = Password)]
    pub password: String,
    #[schema(value_type = Name)]
    pub full_name: String,
    #[schema(value_type = RegionId)]
    pub home_region: String,
    #[serde(default)]
    #[schema(value_type = Option<Phone>)]
    pub phone: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Location>)]
    pub location: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Age>)]
    pub age: Option<i64>,
    /// `staff` or `admin` need an admin token; absent means `customer`.
    #[serde(default)]
    pub role: Option<Role>,
}

impl NewUser {
    /// A sign-up with only the fields the contract requires (a customer; set `role` for
    /// staff or an admin).
    pub fn new(email: &str, password: &str, full_name: &str, home_region: &str) -> NewUser {
        NewUser {
            email: email.to_owned(),
            password: password.to_owned(),
            full_name: full_name.to_owned(),
            home_region: home_region.to_owned(),
            phone: None,
            location: None,
            age: None,
            role: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub full_name: String,
    pub home_region: RegionId,
    pub role: Role,
    pub phone: Option<String>,
    pub location: Option<String>,
    pub age: Option<i32>,
    pub groups: Vec<GroupId>,
    pub personal_group_id: GroupId,
    pub created_on: DateTime<Utc>,
    pub updated_on: DateTime<Utc>,
}

/// Absent fields stay as they are; `null` clears an optional field.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    #[serde(default)]
    #[schema(value_type = Option<Name>)]
    pub full_name: Option<String>,
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Option::is_none")]
    /// Empty or `null` clears it.
    #[schema(value_type = Option<Phone>)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Option::is_none")]
    /// Empty or `null` clears it.
    #[schema(value_type = Option<Location>)]
    pub location: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Age>)]
    pub age: Option<Option<i64>>,
    /// (admin, v1.2 addition) A new role for the user. Every token the user holds is
    /// revoked with it: the role is written into tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSession {
    #[schema(format = Email)]
    pub email: String,
    #[schema(value_type = Password)]
    pub password: String,
}

/// `?email=`: (v1.2 addition) `GET /v1/users`, staff finding a customer by email; also
/// the regions' directory look-ups.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmailQuery {
    pub email: String,
}

/// (v1.2 addition) `PUT /v1/users/{uid}/password`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The password now: required of everyone changing their own, so that a token alone
    /// (a stolen one) cannot take the account. An admin setting another user's password
    /// may leave it out; when given, it is checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Password>)]
    pub current_password: Option<String>,
    #[schema(value_type = Password)]
    pub new_password: String,
}

/// (addition) `DELETE /v1/users/{uid}`: closing an account.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountClosure {
    /// The password now: required of a user closing their own account, so a token alone
    /// cannot; an admin closing another's leaves it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Password>)]
    pub current_password: Option<String>,
    /// The points of the personal group the user agrees to give up: the closure writes
    /// them off (a `forfeit` ledger entry). Required, and equal to the group's balance, when
    /// that balance is not zero (`409 points_remaining` otherwise, the message naming
    /// it), so no closure gives up points its user has not seen, nor more than they saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forfeit_points: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Session {
    pub token: String,
    pub user_id: UserId,
    pub role: Role,
    pub expires_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_tells_absent_from_null() {
        let p: UserPatch = serde_json::from_str(r#"{"phone": null}"#).unwrap();
        assert_eq!(p.phone, Some(None));
        assert_eq!(p.location, None);
    }

    #[test]
    fn unknown_fields_are_rejected() {
        assert!(serde_json::from_str::<NewSession>(r#"{"email":"a","password":"b","x":1}"#).is_err());
    }
}
