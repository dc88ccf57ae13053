//! JSON shapes of requests and responses. Requests reject unknown fields and carry
//! ids as plain strings, so the server can tell `invalid_id` from `invalid_input`.

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::ids::RegionId;

mod discounts;
mod groups;
mod points;
mod users;

pub use discounts::*;
pub use groups::*;
pub use points::*;
pub use users::*;

/// Distinguishes "field absent" (`None`) from "field set to null" (`Some(None)`) in patches.
fn nullable<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[cfg_attr(feature = "diesel", derive(diesel::deserialize::FromSqlRow, diesel::expression::AsExpression), diesel(sql_type = diesel::sql_types::Text))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Customer,
    Staff,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Staff => "staff",
            Role::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "customer" => Ok(Role::Customer),
            "staff" => Ok(Role::Staff),
            "admin" => Ok(Role::Admin),
            _ => Err(()),
        }
    }
}

// ---- pages -------------------------------------------------------------------------

/// A page of a list, newest first. `next_cursor` is opaque; null on the last page.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

// ---- regions -----------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RegionStatus {
    Up,
    Down,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Region {
    pub id: RegionId,
    pub name: String,
    pub status: RegionStatus,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Regions {
    pub items: Vec<Region>,
}
