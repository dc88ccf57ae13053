//! The ledger, the catalogue, bills and redemptions.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::{EntryId, GroupId, ItemId, RegionId, UserId};
use crate::numbers::{Cents, Points, Quantity};
use crate::text::{Category, Name};

#[cfg_attr(feature = "diesel", derive(diesel::deserialize::FromSqlRow, diesel::expression::AsExpression), diesel(sql_type = diesel::sql_types::Text))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Award,
    Redeem,
    /// (v1.2) Points a return of a bill took back.
    Return,
    /// (addition) Points a closed account gave up (`AccountClosure.forfeit_points`):
    /// the whole balance of its personal group, written off as the account closed.
    Forfeit,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Award => "award",
            EntryKind::Redeem => "redeem",
            EntryKind::Return => "return",
            EntryKind::Forfeit => "forfeit",
        }
    }
}

impl std::str::FromStr for EntryKind {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "award" => Ok(EntryKind::Award),
            "redeem" => Ok(EntryKind::Redeem),
            "return" => Ok(EntryKind::Return),
            "forfeit" => Ok(EntryKind::Forfeit),
            _ => Err(()),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LedgerEntry {
    pub id: EntryId,
    pub group_id: GroupId,
    pub user_id: UserId,
    /// Who billed or redeemed; null only for entries older than v1.1 whose actor was
    /// no longer known when it was introduced.
    pub actor_id: Option<UserId>,
    pub kind: EntryKind,
    /// Signed: positive for awards, negative for redemptions, returns and forfeits.
    pub points: i64,
    /// A bill's amount paid, or a return's amount refunded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount_cents: Option<i64>,
    /// A return's bill.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bill_id: Option<EntryId>,
    /// (addition) How the entry changed the group's debt: a return's points the group no
    /// longer held (+), an award's points that paid them off (-).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debt_change: Option<i64>,
    pub balance_after: i64,
    pub idempotency_key: String,
    pub created_on: DateTime<Utc>,
}

/// A page of a user's activity merged across regions by the router, with the regions
/// that could not answer (an addition to the contract; empty from a single region).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ActivityPage {
    pub items: Vec<LedgerEntry>,
    pub next_cursor: Option<String>,
    #[serde(default)]
    pub unavailable: Vec<RegionId>,
}

/// Read from the database as it is sent (feature `diesel`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "diesel", derive(diesel::Queryable))]
pub struct CatalogueItem {
    pub id: ItemId,
    pub name: String,
    pub category: String,
    pub price_cents: i64,
    pub points_price: i64,
    pub available: bool,
    pub updated_on: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Catalogue {
    pub items: Vec<CatalogueItem>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCatalogueItem {
    #[schema(value_type = Name)]
    pub name: String,
    #[schema(value_type = Category)]
    pub category: String,
    #[schema(value_type = Cents)]
    pub price_cents: i64,
    #[schema(value_type = Points)]
    pub points_price: i64,
    /// Defaults to true.
    #[serde(default)]
    pub available: Option<bool>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CatalogueItemPatch {
    #[serde(default)]
    #[schema(value_type = Option<Name>)]
    pub name: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Category>)]
    pub category: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Cents>)]
    pub price_cents: Option<i64>,
    #[serde(default)]
    #[schema(value_type = Option<Points>)]
    pub points_price: Option<i64>,
    #[serde(default)]
    pub available: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BillLine {
    #[schema(value_type = ItemId)]
    pub item_id: String,
    #[schema(value_type = Quantity)]
    pub qty: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBill {
    #[schema(value_type = UserId)]
    pub user_id: String,
    /// Defaults to the user's personal group.
    #[serde(default)]
    #[schema(value_type = Option<GroupId>)]
    pub group_id: Option<String>,
    #[schema(value_type = RegionId)]
    pub store_region: String,
    #[schema(min_items = 1, max_items = 100)]
    pub items: Vec<BillLine>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Bill {
    pub id: EntryId,
    pub user_id: UserId,
    pub group_id: GroupId,
    pub store_region: RegionId,
    /// What was paid, after the discount; points are earned on it.
    pub amount_cents: i64,
    pub points_awarded: i64,
    pub balance_after: i64,
    pub created_on: DateTime<Utc>,
    /// (v1.2) The lines' total before the discount. Absent from answers recorded before
    /// v1.2 (replays), where it was `amount_cents`.
    #[serde(default)]
    pub gross_cents: i64,
    #[serde(default)]
    pub discount_cents: i64,
    /// The discount applied, if any (at most one).
    #[serde(default)]
    pub discounts: Vec<AppliedDiscount>,
    /// (addition) Of `points_awarded`, what paid off the group's debt from an earlier
    /// return instead of adding to its balance.
    #[serde(default)]
    pub debt_paid: i64,
}

/// `lines` absent: everything of the bill not yet returned.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReturn {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_items = 1, max_items = 100)]
    pub lines: Option<Vec<BillLine>>,
}

/// A return of a bill's lines: `amount_cents` is refunded (those lines' share of what
/// was paid), `points_reversed` what the bill awarded for them. Of those, `points_taken`
/// came off the balance and `points_owed` (when the points were already spent) were
/// added to the group's debt, which its next awards pay first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Return {
    pub id: EntryId,
    pub bill_id: EntryId,
    pub group_id: GroupId,
    pub amount_cents: i64,
    pub points_reversed: i64,
    pub points_taken: i64,
    pub points_owed: i64,
    pub balance_after: i64,
    pub created_on: DateTime<Utc>,
}

/// (addition) A bill as its receipt, `GET /v1/bills/{bill_id}`: the bill as it was
/// answered, who billed it, its lines and the returns taken from it so far.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Receipt {
    pub bill: Bill,
    /// Who billed it; null only for bills older than v1.1.
    pub actor_id: Option<UserId>,
    /// In the bill's order; empty for a bill from before bills kept their lines (it
    /// cannot be returned).
    pub lines: Vec<ReceiptLine>,
    /// Oldest first.
    pub returns: Vec<Return>,
}

/// A line of a bill: what it was paid (its share of what the bill paid, the discount
/// taken off) and earned, fixed when it was billed, and how many of its units were
/// returned. A return of the rest takes back exactly `paid_cents` and `points` less
/// what earlier returns of the line took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReceiptLine {
    #[schema(value_type = ItemId)]
    pub item_id: String,
    pub qty: i64,
    pub paid_cents: i64,
    pub points: i64,
    pub returned_qty: i64,
}

/// A discount a bill applied (or a quote would): v1.2 bills apply at most one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AppliedDiscount {
    pub discount_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_id: Option<String>,
    pub name: String,
    pub amount_cents: i64,
}

/// What a bill with the same body would come to now: `POST /v1/bills/quote` writes
/// nothing. `amount_cents` is what would be paid and `points_awarded` what it earns.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BillQuote {
    pub user_id: UserId,
    pub group_id: GroupId,
    pub store_region: RegionId,
    pub gross_cents: i64,
    pub discount_cents: i64,
    pub discounts: Vec<AppliedDiscount>,
    pub amount_cents: i64,
    pub points_awarded: i64,
    /// The group's balance now; the bill would add `points_awarded` to it.
    pub balance: i64,
}

/// Either `{points}` or `{item_id, qty}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRedemption {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Points>)]
    pub points: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<ItemId>)]
    pub item_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Quantity>)]
    pub qty: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Redemption {
    pub id: EntryId,
    pub group_id: GroupId,
    pub user_id: UserId,
    /// The positive amount redeemed.
    pub points: i64,
    pub balance_after: i64,
    pub created_on: DateTime<Utc>,
}
