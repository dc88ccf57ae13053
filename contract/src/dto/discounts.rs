//! Discounts of a store region (contract v1.2).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::nullable;
use crate::ids::{DiscountId, EntryId, OfferId, RegionId};
use crate::numbers::{Cents, CentsOff, EveryNBills, PercentOff};
use crate::text::{Category, Name};

/// Who a discount is for: every bill that qualifies, or only groups holding an offer of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "diesel", derive(diesel::deserialize::FromSqlRow, diesel::expression::AsExpression), diesel(sql_type = diesel::sql_types::Text))]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    Everyone,
    Offer,
}

impl Audience {
    pub fn as_str(self) -> &'static str {
        match self {
            Audience::Everyone => "everyone",
            Audience::Offer => "offer",
        }
    }
}

impl std::str::FromStr for Audience {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "everyone" => Ok(Audience::Everyone),
            "offer" => Ok(Audience::Offer),
            _ => Err(()),
        }
    }
}

/// Exactly one of `percent_off` and `amount_off_cents` is set. A bill qualifies when the
/// lines the discount covers (those of `category`, or all) add up to at least
/// `min_spend_cents`; the discount is taken off those lines only. `active`: valid now.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Discount {
    pub id: DiscountId,
    pub region: RegionId,
    pub name: String,
    pub percent_off: Option<i32>,
    pub amount_off_cents: Option<i64>,
    pub min_spend_cents: i64,
    pub category: Option<String>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub audience: Audience,
    pub every_n_bills: Option<i32>,
    pub active: bool,
    pub created_on: DateTime<Utc>,
    pub updated_on: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Discounts {
    pub items: Vec<Discount>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDiscount {
    #[schema(value_type = Name)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<PercentOff>)]
    pub percent_off: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<CentsOff>)]
    pub amount_off_cents: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Cents>)]
    pub min_spend_cents: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Category>)]
    pub category: Option<String>,
    /// This and `valid_until`: in the years 1970 to 9999 (`contract::time`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<DateTime<Utc>>,
    pub audience: Audience,
    /// Only with audience `offer`: the discount issues an offer of itself to a group on
    /// its N-th, 2N-th, ... bill in this store region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<EveryNBills>)]
    pub every_n_bills: Option<i32>,
}

/// A change; `null` clears an optional field. Setting `percent_off` clears
/// `amount_off_cents` and the other way round.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DiscountPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Name>)]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<PercentOff>)]
    pub percent_off: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<CentsOff>)]
    pub amount_off_cents: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Cents>)]
    pub min_spend_cents: Option<i64>,
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Category>)]
    pub category: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub valid_from: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub valid_until: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<EveryNBills>)]
    pub every_n_bills: Option<Option<i32>>,
}

/// `expired`: open, but past `expires_at`; it can no longer be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OfferState {
    Open,
    Used,
    Expired,
}

/// A group's single-use entitlement to one `audience: "offer"` discount of `region`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Offer {
    pub id: OfferId,
    pub discount_id: DiscountId,
    /// The store region whose bills it applies to (the discount's).
    pub region: RegionId,
    pub state: OfferState,
    pub expires_at: Option<DateTime<Utc>>,
    pub used_by_bill: Option<EntryId>,
    pub created_on: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Offers {
    pub items: Vec<Offer>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOffer {
    #[schema(value_type = DiscountId)]
    pub discount_id: String,
    /// In the future, and in the year 9999 at the latest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}
